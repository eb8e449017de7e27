package wire

import (
	"slices"

	"github.com/chronik-go/chronik/errcode"
)

// The Produce versions this package decodes and encodes. v9 is the first
// flexible version (ProduceRequest.json "flexibleVersions": "9+").
const (
	ProduceMinVersion int16 = 0
	ProduceMaxVersion int16 = 9
)

// Smallest encodings of one array element, used to refuse array counts the
// remaining input cannot hold before allocating for them.
const (
	minTopicClassic = 2 + 4 // name length, partition count
	minTopicFlex    = 1 + 1 + 1
	minPartClassic  = 4 + 4 // partition index, records length
	minPartFlex     = 4 + 1 + 1
	minRecordError  = 4 + 2 // batch index, message length (flexible: 4+1+1)
)

func minTopic(flexible bool) int {
	if flexible {
		return minTopicFlex
	}
	return minTopicClassic
}

// ProduceRequest is a Produce request body (API key 0).
type ProduceRequest struct {
	Version         int16
	TransactionalID *string // v3+; nil = null (always nil below v3)
	Acks            int16   // 0, 1 or -1 (all); not checked here
	TimeoutMs       int32
	Topics          []ProduceTopic
}

// ProduceTopic is one topic of a Produce request.
type ProduceTopic struct {
	Name       string
	Partitions []ProducePartition
}

// ProducePartition is one partition's data in a Produce request.
type ProducePartition struct {
	Partition int32
	// Records is nil when the request carries null. After decoding it is a
	// sub-slice of the request body, never copied, with its capacity
	// clipped to its length so that appending to it cannot overwrite the
	// rest of the body.
	Records []byte
}

// DecodeProduceRequest decodes a Produce request body of the given version
// (the bytes after the request header). Records alias body. Errors are
// *UnsupportedVersionError or *DecodeError; trailing bytes are an error, and
// array counts are checked against the remaining input before allocating.
func DecodeProduceRequest(version int16, body []byte) (*ProduceRequest, error) {
	r := new(ProduceRequest)
	if err := r.Decode(version, body); err != nil {
		return nil, err
	}
	return r, nil
}

// Decode is DecodeProduceRequest into r, reusing r's topic and partition
// slices and keeping r's topic names and transactional id when the bytes
// match, so that decoding a stream of similar requests into one
// ProduceRequest allocates nothing. On error r's content is unspecified.
func (r *ProduceRequest) Decode(version int16, body []byte) error {
	if version < ProduceMinVersion || version > ProduceMaxVersion {
		return &UnsupportedVersionError{APIKey: APIKeyProduce, Version: version, Min: ProduceMinVersion, Max: ProduceMaxVersion}
	}
	flex := version >= 9
	d := newDecoder(body, flex, APIKeyProduce, version, "request")
	r.Version = version
	if version >= 3 {
		r.TransactionalID = d.nullableString("transactional_id", r.TransactionalID)
	} else {
		r.TransactionalID = nil
	}
	r.Acks = d.int16("acks")
	r.TimeoutMs = d.int32("timeout_ms")
	minPart := minPartClassic
	if flex {
		minPart = minPartFlex
	}
	topics := grow(r.Topics, d.arrayLen("topic_data", minTopic(flex)))
	for i := range topics {
		t := &topics[i]
		t.Name = d.string("topic_data.name", t.Name)
		parts := grow(t.Partitions, d.arrayLen("topic_data.partition_data", minPart))
		for j := range parts {
			p := &parts[j]
			p.Partition = d.int32("topic_data.partition_data.index")
			p.Records = d.nullableBytes("topic_data.partition_data.records")
			d.skipTags("topic_data.partition_data._tagged_fields")
		}
		t.Partitions = parts
		d.skipTags("topic_data._tagged_fields")
	}
	r.Topics = topics
	d.skipTags("_tagged_fields")
	return d.finish()
}

// grow returns s resized to n elements, reusing its array when it is large
// enough. Reused elements keep their old values until overwritten.
func grow[T any](s []T, n int) []T {
	if n <= cap(s) {
		return s[:n]
	}
	return make([]T, n)
}

// AppendTo appends the request body in r.Version's layout (clamped to
// ProduceMinVersion..ProduceMaxVersion). Strings longer than 32767 bytes are
// truncated, as no Kafka reader accepts them.
func (r *ProduceRequest) AppendTo(dst []byte) []byte {
	v := clampVersion(r.Version, ProduceMinVersion, ProduceMaxVersion)
	flex := v >= 9
	size := 16
	for i := range r.Topics {
		size += 8 + len(r.Topics[i].Name)
		for j := range r.Topics[i].Partitions {
			size += 10 + len(r.Topics[i].Partitions[j].Records)
		}
	}
	dst = slices.Grow(dst, size)
	if v >= 3 {
		dst = appendNullableString(dst, r.TransactionalID, flex)
	}
	dst = appendInt16(dst, r.Acks)
	dst = appendInt32(dst, r.TimeoutMs)
	dst = appendArrayLen(dst, len(r.Topics), flex)
	for i := range r.Topics {
		t := &r.Topics[i]
		dst = appendString(dst, t.Name, flex)
		dst = appendArrayLen(dst, len(t.Partitions), flex)
		for j := range t.Partitions {
			p := &t.Partitions[j]
			dst = appendInt32(dst, p.Partition)
			dst = appendNullableBytes(dst, p.Records, flex)
			dst = appendTags(dst, flex)
		}
		dst = appendTags(dst, flex)
	}
	return appendTags(dst, flex)
}

// ProduceResponse is a Produce response body.
type ProduceResponse struct {
	Version        int16
	Topics         []ProduceTopicResponse
	ThrottleTimeMs int32 // v1+
}

// ProduceTopicResponse is one topic of a Produce response.
type ProduceTopicResponse struct {
	Name       string
	Partitions []ProducePartitionResponse
}

// ProducePartitionResponse is one partition's outcome. Fields a version
// lacks are not encoded and decode to Kafka's defaults (-1, nil).
type ProducePartitionResponse struct {
	Partition       int32
	ErrorCode       errcode.Code
	BaseOffset      int64
	LogAppendTimeMs int64         // v2+; -1 unless the topic uses LogAppendTime
	LogStartOffset  int64         // v5+; -1 = unknown
	RecordErrors    []RecordError // v8+ (KIP-467)
	ErrorMessage    *string       // v8+; nil = null
}

// RecordError names one record that made its batch fail (v8+, KIP-467).
type RecordError struct {
	BatchIndex int32   // 0-based position of the record in its batch
	Message    *string // nil = null
}

// minPartResponse is the smallest encoding of a partition response.
func minPartResponse(v int16) int {
	n := 4 + 2 + 8
	if v >= 2 {
		n += 8
	}
	if v >= 5 {
		n += 8
	}
	switch {
	case v >= 9:
		n += 1 + 1 + 1 // record_errors, error_message, tags
	case v >= 8:
		n += 4 + 2
	}
	return n
}

// AppendTo appends the response body (without the response header) with
// every field of r.Version (clamped to ProduceMinVersion..ProduceMaxVersion):
// throttle_time_ms from v1, log_append_time_ms from v2, log_start_offset
// from v5, record_errors and error_message from v8, and from v9 the compact
// encodings with an empty tagged-field section in every struct. Strings
// longer than 32767 bytes are truncated.
func (r *ProduceResponse) AppendTo(dst []byte) []byte {
	v := clampVersion(r.Version, ProduceMinVersion, ProduceMaxVersion)
	flex := v >= 9
	dst = appendArrayLen(dst, len(r.Topics), flex)
	for i := range r.Topics {
		t := &r.Topics[i]
		dst = appendString(dst, t.Name, flex)
		dst = appendArrayLen(dst, len(t.Partitions), flex)
		for j := range t.Partitions {
			p := &t.Partitions[j]
			dst = appendInt32(dst, p.Partition)
			dst = appendInt16(dst, int16(p.ErrorCode))
			dst = appendInt64(dst, p.BaseOffset)
			if v >= 2 {
				dst = appendInt64(dst, p.LogAppendTimeMs)
			}
			if v >= 5 {
				dst = appendInt64(dst, p.LogStartOffset)
			}
			if v >= 8 {
				dst = appendArrayLen(dst, len(p.RecordErrors), flex)
				for k := range p.RecordErrors {
					e := &p.RecordErrors[k]
					dst = appendInt32(dst, e.BatchIndex)
					dst = appendNullableString(dst, e.Message, flex)
					dst = appendTags(dst, flex)
				}
				dst = appendNullableString(dst, p.ErrorMessage, flex)
			}
			dst = appendTags(dst, flex)
		}
		dst = appendTags(dst, flex)
	}
	if v >= 1 {
		dst = appendInt32(dst, r.ThrottleTimeMs)
	}
	return appendTags(dst, flex)
}

// DecodeProduceResponse decodes a Produce response body (after the response
// header). Unknown tagged fields, such as v10's current_leader, are skipped.
// Errors are *UnsupportedVersionError or *DecodeError.
func DecodeProduceResponse(version int16, body []byte) (*ProduceResponse, error) {
	if version < ProduceMinVersion || version > ProduceMaxVersion {
		return nil, &UnsupportedVersionError{APIKey: APIKeyProduce, Version: version, Min: ProduceMinVersion, Max: ProduceMaxVersion}
	}
	flex := version >= 9
	d := newDecoder(body, flex, APIKeyProduce, version, "response")
	r := &ProduceResponse{Version: version}
	r.Topics = make([]ProduceTopicResponse, d.arrayLen("responses", minTopic(flex)))
	for i := range r.Topics {
		t := &r.Topics[i]
		t.Name = d.string("responses.name", "")
		t.Partitions = make([]ProducePartitionResponse, d.arrayLen("responses.partition_responses", minPartResponse(version)))
		for j := range t.Partitions {
			p := &t.Partitions[j]
			p.Partition = d.int32("responses.partition_responses.index")
			p.ErrorCode = errcode.Code(d.int16("responses.partition_responses.error_code"))
			p.BaseOffset = d.int64("responses.partition_responses.base_offset")
			p.LogAppendTimeMs = -1
			if version >= 2 {
				p.LogAppendTimeMs = d.int64("responses.partition_responses.log_append_time_ms")
			}
			p.LogStartOffset = -1
			if version >= 5 {
				p.LogStartOffset = d.int64("responses.partition_responses.log_start_offset")
			}
			if version >= 8 {
				n := d.arrayLen("responses.partition_responses.record_errors", minRecordError)
				if n > 0 {
					p.RecordErrors = make([]RecordError, n)
				}
				for k := range p.RecordErrors {
					e := &p.RecordErrors[k]
					e.BatchIndex = d.int32("responses.partition_responses.record_errors.batch_index")
					e.Message = d.nullableString("responses.partition_responses.record_errors.batch_index_error_message", nil)
					d.skipTags("responses.partition_responses.record_errors._tagged_fields")
				}
				p.ErrorMessage = d.nullableString("responses.partition_responses.error_message", nil)
			}
			d.skipTags("responses.partition_responses._tagged_fields")
		}
		d.skipTags("responses._tagged_fields")
	}
	if version >= 1 {
		r.ThrottleTimeMs = d.int32("throttle_time_ms")
	}
	d.skipTags("_tagged_fields")
	if err := d.finish(); err != nil {
		return nil, err
	}
	return r, nil
}
