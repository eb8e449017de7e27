package wire

import (
	"slices"

	"github.com/chronik-go/chronik/errcode"
)

// The Fetch versions this package decodes and encodes: v4 (isolation level,
// last stable offset, aborted transactions) through v12, the first flexible
// version and the last one that names topics rather than topic ids
// (FetchRequest.json).
const (
	FetchMinVersion int16 = 4
	FetchMaxVersion int16 = 12
)

// Isolation levels of a FetchRequest.
const (
	ReadUncommitted int8 = 0
	ReadCommitted   int8 = 1
)

// FetchRequest is a Fetch request body (API key 1), v4-v12. Fields a
// version lacks decode to Kafka's defaults (FetchRequest.json "default").
type FetchRequest struct {
	Version        int16
	ReplicaID      int32 // -1 for consumers
	MaxWaitMs      int32
	MinBytes       int32
	MaxBytes       int32
	IsolationLevel int8  // ReadUncommitted or ReadCommitted
	SessionID      int32 // v7+ (KIP-227); 0 = no session
	SessionEpoch   int32 // v7+; default -1
	Topics         []FetchTopic
	// ForgottenTopics lists partitions to drop from the fetch session (v7+).
	ForgottenTopics []FetchForgottenTopic
	RackID          string // v11+ (KIP-392)
}

// FetchTopic is one topic of a Fetch request.
type FetchTopic struct {
	Name       string
	Partitions []FetchPartition
}

// FetchPartition is one partition to fetch.
type FetchPartition struct {
	Partition          int32
	CurrentLeaderEpoch int32 // v9+ (KIP-320); default -1
	FetchOffset        int64
	LastFetchedEpoch   int32 // v12+; default -1
	LogStartOffset     int64 // v5+; only followers set it; default -1
	PartitionMaxBytes  int32
}

// FetchForgottenTopic is one topic's partitions removed from a session.
type FetchForgottenTopic struct {
	Name       string
	Partitions []int32
}

func checkFetchVersion(version int16) error {
	if version < FetchMinVersion || version > FetchMaxVersion {
		return &UnsupportedVersionError{APIKey: APIKeyFetch, Version: version, Min: FetchMinVersion, Max: FetchMaxVersion}
	}
	return nil
}

// minFetchPart is the smallest encoding of a FetchPartition.
func minFetchPart(v int16) int {
	n := 4 + 8 + 4
	if v >= 5 {
		n += 8
	}
	if v >= 9 {
		n += 4
	}
	if v >= 12 {
		n += 4 + 1
	}
	return n
}

// DecodeFetchRequest decodes a Fetch request body (after the request
// header) of version v4-v12. Tagged fields (v12's cluster_id and those of
// later versions) are skipped. Errors are *UnsupportedVersionError or
// *DecodeError.
func DecodeFetchRequest(version int16, body []byte) (*FetchRequest, error) {
	if err := checkFetchVersion(version); err != nil {
		return nil, err
	}
	flex := version >= 12
	d := newDecoder(body, flex, APIKeyFetch, version, "request")
	r := &FetchRequest{Version: version, SessionEpoch: -1}
	r.ReplicaID = d.int32("replica_id")
	r.MaxWaitMs = d.int32("max_wait_ms")
	r.MinBytes = d.int32("min_bytes")
	r.MaxBytes = d.int32("max_bytes")
	r.IsolationLevel = d.int8("isolation_level")
	if version >= 7 {
		r.SessionID = d.int32("session_id")
		r.SessionEpoch = d.int32("session_epoch")
	}
	r.Topics = make([]FetchTopic, d.arrayLen("topics", minTopic(flex)))
	for i := range r.Topics {
		t := &r.Topics[i]
		t.Name = d.string("topics.topic", "")
		t.Partitions = make([]FetchPartition, d.arrayLen("topics.partitions", minFetchPart(version)))
		for j := range t.Partitions {
			p := &t.Partitions[j]
			p.Partition = d.int32("topics.partitions.partition")
			p.CurrentLeaderEpoch = -1
			if version >= 9 {
				p.CurrentLeaderEpoch = d.int32("topics.partitions.current_leader_epoch")
			}
			p.FetchOffset = d.int64("topics.partitions.fetch_offset")
			p.LastFetchedEpoch = -1
			if version >= 12 {
				p.LastFetchedEpoch = d.int32("topics.partitions.last_fetched_epoch")
			}
			p.LogStartOffset = -1
			if version >= 5 {
				p.LogStartOffset = d.int64("topics.partitions.log_start_offset")
			}
			p.PartitionMaxBytes = d.int32("topics.partitions.partition_max_bytes")
			d.skipTags("topics.partitions._tagged_fields")
		}
		d.skipTags("topics._tagged_fields")
	}
	if version >= 7 {
		r.ForgottenTopics = make([]FetchForgottenTopic, d.arrayLen("forgotten_topics_data", minTopic(flex)))
		for i := range r.ForgottenTopics {
			t := &r.ForgottenTopics[i]
			t.Name = d.string("forgotten_topics_data.topic", "")
			t.Partitions = make([]int32, d.arrayLen("forgotten_topics_data.partitions", 4))
			for j := range t.Partitions {
				t.Partitions[j] = d.int32("forgotten_topics_data.partitions")
			}
			d.skipTags("forgotten_topics_data._tagged_fields")
		}
	}
	if version >= 11 {
		r.RackID = d.string("rack_id", "")
	}
	d.skipTags("_tagged_fields")
	if err := d.finish(); err != nil {
		return nil, err
	}
	return r, nil
}

// AppendTo appends the request body in r.Version's layout (clamped to
// FetchMinVersion..FetchMaxVersion), with empty tagged-field sections in
// v12. Strings longer than 32767 bytes are truncated.
func (r *FetchRequest) AppendTo(dst []byte) []byte {
	v := clampVersion(r.Version, FetchMinVersion, FetchMaxVersion)
	flex := v >= 12
	dst = appendInt32(dst, r.ReplicaID)
	dst = appendInt32(dst, r.MaxWaitMs)
	dst = appendInt32(dst, r.MinBytes)
	dst = appendInt32(dst, r.MaxBytes)
	dst = append(dst, byte(r.IsolationLevel))
	if v >= 7 {
		dst = appendInt32(dst, r.SessionID)
		dst = appendInt32(dst, r.SessionEpoch)
	}
	dst = appendArrayLen(dst, len(r.Topics), flex)
	for i := range r.Topics {
		t := &r.Topics[i]
		dst = appendString(dst, t.Name, flex)
		dst = appendArrayLen(dst, len(t.Partitions), flex)
		for j := range t.Partitions {
			p := &t.Partitions[j]
			dst = appendInt32(dst, p.Partition)
			if v >= 9 {
				dst = appendInt32(dst, p.CurrentLeaderEpoch)
			}
			dst = appendInt64(dst, p.FetchOffset)
			if v >= 12 {
				dst = appendInt32(dst, p.LastFetchedEpoch)
			}
			if v >= 5 {
				dst = appendInt64(dst, p.LogStartOffset)
			}
			dst = appendInt32(dst, p.PartitionMaxBytes)
			dst = appendTags(dst, flex)
		}
		dst = appendTags(dst, flex)
	}
	if v >= 7 {
		dst = appendArrayLen(dst, len(r.ForgottenTopics), flex)
		for i := range r.ForgottenTopics {
			t := &r.ForgottenTopics[i]
			dst = appendString(dst, t.Name, flex)
			dst = appendArrayLen(dst, len(t.Partitions), flex)
			for _, p := range t.Partitions {
				dst = appendInt32(dst, p)
			}
			dst = appendTags(dst, flex)
		}
	}
	if v >= 11 {
		dst = appendString(dst, r.RackID, flex)
	}
	return appendTags(dst, flex)
}

// FetchResponse is a Fetch response body, v4-v12.
type FetchResponse struct {
	Version        int16
	ThrottleTimeMs int32
	ErrorCode      errcode.Code // v7+: top-level (fetch session) error
	SessionID      int32        // v7+
	Topics         []FetchTopicResponse
}

// FetchTopicResponse is one topic of a Fetch response.
type FetchTopicResponse struct {
	Name       string
	Partitions []FetchPartitionResponse
}

// FetchPartitionResponse is one partition's data in a Fetch response.
type FetchPartitionResponse struct {
	Partition        int32
	ErrorCode        errcode.Code
	HighWatermark    int64
	LastStableOffset int64 // default -1
	LogStartOffset   int64 // v5+; default -1
	// AbortedTransactions is nil for null, which Kafka sends to
	// read_uncommitted fetches; read_committed fetches get a list, possibly
	// empty.
	AbortedTransactions  []AbortedTransaction
	PreferredReadReplica int32 // v11+ (KIP-392); -1 = none
	// Records are raw record batches, sent byte for byte; nil encodes null.
	// After decoding they alias the response body.
	Records []byte
}

// AbortedTransaction marks where an aborted transaction's data starts.
type AbortedTransaction struct {
	ProducerID  int64
	FirstOffset int64
}

// minFetchPartResponse is the smallest encoding of a partition response.
func minFetchPartResponse(v int16) int {
	if v >= 12 {
		return 4 + 2 + 8 + 8 + 8 + 1 + 4 + 1 + 1
	}
	n := 4 + 2 + 8 + 8 + 4 + 4
	if v >= 5 {
		n += 8
	}
	if v >= 11 {
		n += 4
	}
	return n
}

// AppendTo appends the response body (without the response header) with
// every field of r.Version (clamped to FetchMinVersion..FetchMaxVersion).
// In v12 every struct gets an empty tagged-field section, so the optional
// diverging_epoch, current_leader and snapshot_id tags take their defaults.
func (r *FetchResponse) AppendTo(dst []byte) []byte {
	v := clampVersion(r.Version, FetchMinVersion, FetchMaxVersion)
	flex := v >= 12
	size := 16
	for i := range r.Topics {
		size += 8 + len(r.Topics[i].Name)
		for j := range r.Topics[i].Partitions {
			p := &r.Topics[i].Partitions[j]
			size += 64 + 16*len(p.AbortedTransactions) + len(p.Records)
		}
	}
	dst = slices.Grow(dst, size)
	dst = appendInt32(dst, r.ThrottleTimeMs)
	if v >= 7 {
		dst = appendInt16(dst, int16(r.ErrorCode))
		dst = appendInt32(dst, r.SessionID)
	}
	dst = appendArrayLen(dst, len(r.Topics), flex)
	for i := range r.Topics {
		t := &r.Topics[i]
		dst = appendString(dst, t.Name, flex)
		dst = appendArrayLen(dst, len(t.Partitions), flex)
		for j := range t.Partitions {
			p := &t.Partitions[j]
			dst = appendInt32(dst, p.Partition)
			dst = appendInt16(dst, int16(p.ErrorCode))
			dst = appendInt64(dst, p.HighWatermark)
			dst = appendInt64(dst, p.LastStableOffset)
			if v >= 5 {
				dst = appendInt64(dst, p.LogStartOffset)
			}
			if p.AbortedTransactions == nil {
				dst = appendArrayLen(dst, -1, flex)
			} else {
				dst = appendArrayLen(dst, len(p.AbortedTransactions), flex)
				for _, a := range p.AbortedTransactions {
					dst = appendInt64(dst, a.ProducerID)
					dst = appendInt64(dst, a.FirstOffset)
					dst = appendTags(dst, flex)
				}
			}
			if v >= 11 {
				dst = appendInt32(dst, p.PreferredReadReplica)
			}
			dst = appendNullableBytes(dst, p.Records, flex)
			dst = appendTags(dst, flex)
		}
		dst = appendTags(dst, flex)
	}
	return appendTags(dst, flex)
}

// DecodeFetchResponse decodes a Fetch response body (after the response
// header) of version v4-v12; Records alias body. Tagged fields are skipped.
// Errors are *UnsupportedVersionError or *DecodeError.
func DecodeFetchResponse(version int16, body []byte) (*FetchResponse, error) {
	if err := checkFetchVersion(version); err != nil {
		return nil, err
	}
	flex := version >= 12
	d := newDecoder(body, flex, APIKeyFetch, version, "response")
	r := &FetchResponse{Version: version}
	r.ThrottleTimeMs = d.int32("throttle_time_ms")
	if version >= 7 {
		r.ErrorCode = errcode.Code(d.int16("error_code"))
		r.SessionID = d.int32("session_id")
	}
	r.Topics = make([]FetchTopicResponse, d.arrayLen("responses", minTopic(flex)))
	for i := range r.Topics {
		t := &r.Topics[i]
		t.Name = d.string("responses.topic", "")
		t.Partitions = make([]FetchPartitionResponse, d.arrayLen("responses.partitions", minFetchPartResponse(version)))
		for j := range t.Partitions {
			p := &t.Partitions[j]
			p.Partition = d.int32("responses.partitions.partition_index")
			p.ErrorCode = errcode.Code(d.int16("responses.partitions.error_code"))
			p.HighWatermark = d.int64("responses.partitions.high_watermark")
			p.LastStableOffset = d.int64("responses.partitions.last_stable_offset")
			p.LogStartOffset = -1
			if version >= 5 {
				p.LogStartOffset = d.int64("responses.partitions.log_start_offset")
			}
			n, null := d.nullableArrayLen("responses.partitions.aborted_transactions", 16)
			if !null {
				p.AbortedTransactions = make([]AbortedTransaction, n)
				for k := range p.AbortedTransactions {
					a := &p.AbortedTransactions[k]
					a.ProducerID = d.int64("responses.partitions.aborted_transactions.producer_id")
					a.FirstOffset = d.int64("responses.partitions.aborted_transactions.first_offset")
					d.skipTags("responses.partitions.aborted_transactions._tagged_fields")
				}
			}
			p.PreferredReadReplica = -1
			if version >= 11 {
				p.PreferredReadReplica = d.int32("responses.partitions.preferred_read_replica")
			}
			p.Records = d.nullableBytes("responses.partitions.records")
			d.skipTags("responses.partitions._tagged_fields")
		}
		d.skipTags("responses._tagged_fields")
	}
	d.skipTags("_tagged_fields")
	if err := d.finish(); err != nil {
		return nil, err
	}
	return r, nil
}
