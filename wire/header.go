package wire

import (
	"encoding/binary"
	"strconv"
)

// API keys the package and its callers refer to by name.
const (
	APIKeyProduce            int16 = 0
	APIKeyFetch              int16 = 1
	APIKeyControlledShutdown int16 = 7
	APIKeyAPIVersions        int16 = 18
)

// apiInfo is one standard Kafka API: its name and the first version that is
// flexible (KIP-482), or -1 if no version is.
type apiInfo struct {
	name string
	flex int16
}

// apis is indexed by API key. The flexible versions are the
// "flexibleVersions" of each request in Apache Kafka's message JSON
// (clients/src/main/resources/common/message/*Request.json, Kafka 4.x).
var apis = [...]apiInfo{
	{"Produce", 9},
	{"Fetch", 12},
	{"ListOffsets", 6},
	{"Metadata", 9},
	{"LeaderAndIsr", 4},
	{"StopReplica", 2},
	{"UpdateMetadata", 6},
	{"ControlledShutdown", 3},
	{"OffsetCommit", 8},
	{"OffsetFetch", 6},
	{"FindCoordinator", 3},
	{"JoinGroup", 6},
	{"Heartbeat", 4},
	{"LeaveGroup", 4},
	{"SyncGroup", 4},
	{"DescribeGroups", 5},
	{"ListGroups", 3},
	{"SaslHandshake", -1},
	{"ApiVersions", 3},
	{"CreateTopics", 5},
	{"DeleteTopics", 4},
	{"DeleteRecords", 2},
	{"InitProducerId", 2},
	{"OffsetForLeaderEpoch", 4},
	{"AddPartitionsToTxn", 3},
	{"AddOffsetsToTxn", 3},
	{"EndTxn", 3},
	{"WriteTxnMarkers", 1},
	{"TxnOffsetCommit", 3},
	{"DescribeAcls", 2},
	{"CreateAcls", 2},
	{"DeleteAcls", 2},
	{"DescribeConfigs", 4},
	{"AlterConfigs", 2},
	{"AlterReplicaLogDirs", 2},
	{"DescribeLogDirs", 2},
	{"SaslAuthenticate", 2},
	{"CreatePartitions", 2},
	{"CreateDelegationToken", 2},
	{"RenewDelegationToken", 2},
	{"ExpireDelegationToken", 2},
	{"DescribeDelegationToken", 2},
	{"DeleteGroups", 2},
	{"ElectLeaders", 2},
	{"IncrementalAlterConfigs", 1},
	{"AlterPartitionReassignments", 0},
	{"ListPartitionReassignments", 0},
	{"OffsetDelete", -1},
	{"DescribeClientQuotas", 1},
	{"AlterClientQuotas", 1},
	{"DescribeUserScramCredentials", 0},
	{"AlterUserScramCredentials", 0},
	{"Vote", 0},
	{"BeginQuorumEpoch", 1},
	{"EndQuorumEpoch", 1},
	{"DescribeQuorum", 0},
	{"AlterPartition", 0},
	{"UpdateFeatures", 0},
	{"Envelope", 0},
	{"FetchSnapshot", 0},
	{"DescribeCluster", 0},
	{"DescribeProducers", 0},
	{"BrokerRegistration", 0},
	{"BrokerHeartbeat", 0},
	{"UnregisterBroker", 0},
	{"DescribeTransactions", 0},
	{"ListTransactions", 0},
	{"AllocateProducerIds", 0},
	{"ConsumerGroupHeartbeat", 0},
	{"ConsumerGroupDescribe", 0},
	{"ControllerRegistration", 0},
	{"GetTelemetrySubscriptions", 0},
	{"PushTelemetry", 0},
	{"AssignReplicasToDirs", 0},
	{"ListConfigResources", 0},
	{"DescribeTopicPartitions", 0},
	{"ShareGroupHeartbeat", 0},
	{"ShareGroupDescribe", 0},
	{"ShareFetch", 0},
	{"ShareAcknowledge", 0},
	{"AddRaftVoter", 0},
	{"RemoveRaftVoter", 0},
	{"UpdateRaftVoter", 0},
	{"InitializeShareGroupState", 0},
	{"ReadShareGroupState", 0},
	{"WriteShareGroupState", 0},
	{"DeleteShareGroupState", 0},
	{"ReadShareGroupStateSummary", 0},
	{"StreamsGroupHeartbeat", 0},
	{"StreamsGroupDescribe", 0},
	{"DescribeShareGroupOffsets", 0},
	{"AlterShareGroupOffsets", 0},
	{"DeleteShareGroupOffsets", 0},
}

// KnownAPIKey reports whether apiKey is a standard Kafka API (0..92).
func KnownAPIKey(apiKey int16) bool { return apiKey >= 0 && int(apiKey) < len(apis) }

// FlexibleVersion returns the first flexible version of the API's requests
// and responses, or -1 if the API has none or the key is unknown.
func FlexibleVersion(apiKey int16) int16 {
	if !KnownAPIKey(apiKey) {
		return -1
	}
	return apis[apiKey].flex
}

// isFlexible reports whether (apiKey, version) uses the flexible encoding.
func isFlexible(apiKey, version int16) bool {
	f := FlexibleVersion(apiKey)
	return f >= 0 && version >= f
}

// APIName returns Kafka's name for the API key, such as "Produce", or
// "ApiKey(N)" for an unknown key.
func APIName(apiKey int16) string {
	if !KnownAPIKey(apiKey) {
		return "ApiKey(" + strconv.Itoa(int(apiKey)) + ")"
	}
	return apis[apiKey].name
}

// RequestHeader is a Kafka request header (v0, v1 or v2).
type RequestHeader struct {
	APIKey        int16
	APIVersion    int16
	CorrelationID int32
	ClientID      *string // nil = null (and always nil in header v0)
}

// requestHeaderVersion follows Kafka's ApiKeys.requestHeaderVersion:
// ControlledShutdown v0 has header v0 (no client id), flexible requests
// header v2 (client id, then tagged fields), every other request header v1.
func requestHeaderVersion(apiKey, version int16) int {
	switch {
	case apiKey == APIKeyControlledShutdown && version == 0:
		return 0
	case isFlexible(apiKey, version):
		return 2
	default:
		return 1
	}
}

// ParseRequestHeader parses a request frame (the bytes after the 4-byte
// size prefix) and returns the header and the body that follows it, a
// sub-slice of frame.
//
// The header version comes from the API key and version: v2 (with a
// tagged-field section, whose tags are skipped) for flexible requests, v0 for
// ControlledShutdown v0, v1 otherwise. The client id is a classic nullable
// string in v1 and v2 alike. For an API key outside the standard set the
// header is read as v1 and returned together with an *UnknownAPIKeyError, so
// that the caller still knows the correlation id; other errors are
// *DecodeError.
func ParseRequestHeader(frame []byte) (h RequestHeader, body []byte, err error) {
	body, err = h.Parse(frame)
	return h, body, err
}

// Parse is ParseRequestHeader into h. It keeps h.ClientID when the frame
// carries the same client id, so that parsing every request of a
// connection into one RequestHeader allocates nothing.
func (h *RequestHeader) Parse(frame []byte) (body []byte, err error) {
	d := newDecoder(frame, false, -1, 0, "request header")
	h.APIKey = d.int16("request_api_key")
	h.APIVersion = d.int16("request_api_version")
	h.CorrelationID = d.int32("correlation_id")
	hv := requestHeaderVersion(h.APIKey, h.APIVersion)
	if hv >= 1 {
		h.ClientID = d.nullableString("client_id", h.ClientID)
	} else {
		h.ClientID = nil
	}
	if hv >= 2 {
		d.flexible = true
		d.skipTags("tagged_fields")
	}
	if d.err != nil {
		return nil, d.err
	}
	if !KnownAPIKey(h.APIKey) {
		return d.b, &UnknownAPIKeyError{APIKey: h.APIKey}
	}
	return d.b, nil
}

// AppendRequestHeader appends h in the header version its API key and
// version call for (see ParseRequestHeader), with an empty tagged-field
// section in v2. A client id longer than 32767 bytes is truncated.
func AppendRequestHeader(dst []byte, h RequestHeader) []byte {
	dst = appendInt16(dst, h.APIKey)
	dst = appendInt16(dst, h.APIVersion)
	dst = appendInt32(dst, h.CorrelationID)
	hv := requestHeaderVersion(h.APIKey, h.APIVersion)
	if hv >= 1 {
		dst = appendNullableString(dst, h.ClientID, false)
	}
	return appendTags(dst, hv >= 2)
}

// ResponseHeaderFlexible reports whether the response to (apiKey, version)
// uses response header v1 (with tagged fields). It is true for flexible
// versions except ApiVersions, whose response header is always v0 so that a
// client can read it before it knows the broker's versions (KIP-511).
func ResponseHeaderFlexible(apiKey, version int16) bool {
	return apiKey != APIKeyAPIVersions && isFlexible(apiKey, version)
}

// AppendResponseHeader appends a response header: v0 is the correlation id,
// v1 (flexible) adds an empty tagged-field section.
func AppendResponseHeader(dst []byte, correlationID int32, flexible bool) []byte {
	dst = appendInt32(dst, correlationID)
	return appendTags(dst, flexible)
}

// ParseResponseHeader parses a response frame (after the size prefix) with
// header v0, or v1 when flexible, and returns the correlation id and the
// body, a sub-slice of frame.
func ParseResponseHeader(frame []byte, flexible bool) (correlationID int32, body []byte, err error) {
	d := newDecoder(frame, flexible, -1, 0, "response header")
	correlationID = d.int32("correlation_id")
	d.skipTags("tagged_fields")
	if d.err != nil {
		return correlationID, nil, d.err
	}
	return correlationID, d.b, nil
}

// BeginFrame appends a placeholder for a frame's 4-byte size prefix to dst
// and returns the extended slice and the position of the prefix, to pass to
// EndFrame once the frame's header and body have been appended.
func BeginFrame(dst []byte) (out []byte, start int) {
	return append(dst, 0, 0, 0, 0), len(dst)
}

// EndFrame writes the size of the frame that starts at start (as returned
// by BeginFrame) into its prefix: every byte appended after the prefix.
func EndFrame(dst []byte, start int) {
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
}
