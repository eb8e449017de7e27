package wire

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/segmentio/kafka-go/protocol/rawproduce"
)

// FromRawProduce converts a Produce request held as segmentio/kafka-go's
// rawproduce.Request, for hosts that already read requests with kafka-go,
// into a ProduceRequest of the given version.
//
// A partition's RecordSet.Reader holds the records field as kafka-go writes
// it: an int32 size, then that many bytes of record batches (a size of -1
// is null). The reader is drained (a *bytes.Buffer hands over its bytes
// without a copy, any other reader is read into a new slice), the size is
// checked against the bytes that follow it, and Records is those bytes. A
// nil reader becomes null Records. kafka-go encodes an empty nullable string
// as null, so an empty TransactionalID becomes nil; below v3 the field does
// not exist and is always nil.
func FromRawProduce(r *rawproduce.Request, version int16) (*ProduceRequest, error) {
	if version < ProduceMinVersion || version > ProduceMaxVersion {
		return nil, &UnsupportedVersionError{APIKey: APIKeyProduce, Version: version, Min: ProduceMinVersion, Max: ProduceMaxVersion}
	}
	out := &ProduceRequest{
		Version:   version,
		Acks:      r.Acks,
		TimeoutMs: r.Timeout,
		Topics:    make([]ProduceTopic, len(r.Topics)),
	}
	if version >= 3 && r.TransactionalID != "" {
		id := r.TransactionalID
		out.TransactionalID = &id
	}
	for i := range r.Topics {
		rt := &r.Topics[i]
		t := &out.Topics[i]
		t.Name = rt.Topic
		t.Partitions = make([]ProducePartition, len(rt.Partitions))
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			raw, err := drain(rp.RecordSet.Reader)
			if err != nil {
				return nil, fmt.Errorf("wire: read records of %s[%d]: %w", rt.Topic, rp.Partition, err)
			}
			records, err := unprefix(raw, rt.Topic, rp.Partition)
			if err != nil {
				return nil, err
			}
			t.Partitions[j] = ProducePartition{Partition: rp.Partition, Records: records}
		}
	}
	return out, nil
}

// drain returns everything r holds; nil for a nil reader.
func drain(r io.Reader) ([]byte, error) {
	switch r := r.(type) {
	case nil:
		return nil, nil
	case *bytes.Buffer:
		if r == nil {
			return nil, nil
		}
		return r.Next(r.Len()), nil
	default:
		return io.ReadAll(r)
	}
}

// unprefix checks and strips the int32 size of a raw records field.
func unprefix(raw []byte, topic string, partition int32) ([]byte, error) {
	if raw == nil {
		return nil, nil
	}
	fail := func(off int, cause error) error {
		return &DecodeError{Message: fmt.Sprintf("kafka-go raw record set of %s[%d]", topic, partition), Field: "size", Offset: off, Err: cause}
	}
	if len(raw) < 4 {
		return nil, fail(0, ErrTruncated)
	}
	size := int32(binary.BigEndian.Uint32(raw))
	rest := raw[4:len(raw):len(raw)]
	switch {
	case size < 0 && len(rest) == 0:
		return nil, nil
	case size < 0 || int(size) > len(rest):
		return nil, fail(0, ErrBadLength)
	case int(size) < len(rest):
		return nil, fail(4+int(size), ErrTrailingBytes)
	}
	return rest, nil
}
