package metadata

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Every value the durable store writes starts with a version byte
// (docs/format.md, "metadata store"). Readers accept exactly the versions
// below; a later format adds a version and keeps reading this one.
const (
	layoutV1     = 1 // meta/layout: the bucket layout
	topicV1      = 1 // topics/<name>: 0x01, then the JSON of topicRecordV1
	producerIDV1 = 1 // producer_ids/next: 0x01, then the next free id, int64 big-endian
	kvV1         = 1 // kv/<namespace>/<key>: 0x01, then the caller's bytes unchanged
)

// topicRecordV1 is the JSON body of a version-1 topic record.
type topicRecordV1 struct {
	Name       string              `json:"name"`
	ID         string              `json:"id"` // 32 lower-case hex digits
	Partitions []partitionRecordV1 `json:"partitions"`
	Config     map[string]string   `json:"config,omitempty"` // the overrides only
}

type partitionRecordV1 struct {
	Partition   int32   `json:"partition"`
	Leader      int32   `json:"leader"`
	LeaderEpoch int32   `json:"leader_epoch"`
	Replicas    []int32 `json:"replicas"`
	ISR         []int32 `json:"isr"`
}

// encodeTopic returns the version-1 record of t.
func encodeTopic(t Topic) []byte {
	r := topicRecordV1{Name: t.Name, ID: hex.EncodeToString(t.ID[:]), Config: t.Overrides}
	r.Partitions = make([]partitionRecordV1, len(t.Partitions))
	for i, p := range t.Partitions {
		r.Partitions[i] = partitionRecordV1{
			Partition: p.Partition, Leader: p.Leader, LeaderEpoch: p.LeaderEpoch,
			Replicas: nonNil(p.Replicas), ISR: nonNil(p.ISR),
		}
	}
	body, err := json.Marshal(r)
	if err != nil {
		// Only strings, ints and slices of them: Marshal cannot fail.
		panic(err)
	}
	return append([]byte{topicV1}, body...)
}

func nonNil(s []int32) []int32 {
	if s == nil {
		return []int32{}
	}
	return s
}

// decodeTopic parses and checks a topic record stored under key name. It
// accepts only records encodeTopic could have written for a live topic.
func decodeTopic(name string, b []byte) (Topic, error) {
	if len(b) == 0 {
		return Topic{}, errors.New("empty value")
	}
	if b[0] != topicV1 {
		return Topic{}, fmt.Errorf("unsupported topic record version %d", b[0])
	}
	var r topicRecordV1
	dec := json.NewDecoder(bytes.NewReader(b[1:]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Topic{}, fmt.Errorf("topic record: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Topic{}, errors.New("topic record: data after the JSON object")
	}
	if r.Name != name {
		return Topic{}, fmt.Errorf("record names topic %q", r.Name)
	}
	if err := ValidateTopicName(r.Name); err != nil {
		return Topic{}, err
	}
	t := Topic{Name: r.Name}
	id, err := hex.DecodeString(r.ID)
	if err != nil || len(id) != len(t.ID) {
		return Topic{}, fmt.Errorf("topic id %q is not 32 hex digits", r.ID)
	}
	copy(t.ID[:], id)
	if t.ID == ([16]byte{}) {
		return Topic{}, errors.New("topic id is zero")
	}
	if len(r.Partitions) == 0 || len(r.Partitions) > MaxPartitions {
		return Topic{}, fmt.Errorf("%d partitions, outside 1..%d", len(r.Partitions), MaxPartitions)
	}
	t.Partitions = make([]PartitionInfo, len(r.Partitions))
	for i, p := range r.Partitions {
		if err := checkPartition(int32(i), p); err != nil {
			return Topic{}, err
		}
		t.Partitions[i] = PartitionInfo{
			Partition: p.Partition, Leader: p.Leader, LeaderEpoch: p.LeaderEpoch,
			Replicas: p.Replicas, ISR: nonNil(p.ISR),
		}
	}
	if t.Config, err = ParseTopicConfig(r.Config); err != nil {
		return Topic{}, err
	}
	t.Overrides = t.Config.overrides(r.Config)
	return t, nil
}

func checkPartition(i int32, p partitionRecordV1) error {
	if p.Partition != i {
		return fmt.Errorf("partition %d stored at index %d", p.Partition, i)
	}
	if len(p.Replicas) == 0 {
		return fmt.Errorf("partition %d has no replicas", i)
	}
	if _, err := validateReplicas(p.Replicas, 0); err != nil {
		return fmt.Errorf("partition %d: %w", i, err)
	}
	for j, r := range p.ISR {
		if !slices.Contains(p.Replicas, r) || slices.Contains(p.ISR[:j], r) {
			return fmt.Errorf("partition %d: ISR %v is not a set of replicas %v", i, p.ISR, p.Replicas)
		}
	}
	if p.Leader != -1 && !slices.Contains(p.Replicas, p.Leader) {
		return fmt.Errorf("partition %d: leader %d is not a replica", i, p.Leader)
	}
	if p.LeaderEpoch < 0 {
		return fmt.Errorf("partition %d: negative leader epoch %d", i, p.LeaderEpoch)
	}
	return nil
}

// encodeProducerID returns the producer_ids/next record.
func encodeProducerID(next int64) []byte {
	b := make([]byte, 9)
	b[0] = producerIDV1
	binary.BigEndian.PutUint64(b[1:], uint64(next))
	return b
}

func decodeProducerID(b []byte) (int64, error) {
	if len(b) != 9 || b[0] != producerIDV1 {
		return 0, fmt.Errorf("producer id record of %d bytes, version %v: want 9 bytes, version %d", len(b), firstByte(b), producerIDV1)
	}
	next := int64(binary.BigEndian.Uint64(b[1:]))
	if next < 0 {
		return 0, fmt.Errorf("negative next producer id %d", next)
	}
	return next, nil
}

// encodeKV returns the stored form of a key-value record.
func encodeKV(v []byte) []byte {
	b := make([]byte, 1+len(v))
	b[0] = kvV1
	copy(b[1:], v)
	return b
}

// decodeKV returns a copy of the caller's bytes in a stored record.
func decodeKV(b []byte) ([]byte, error) {
	if len(b) == 0 || b[0] != kvV1 {
		return nil, fmt.Errorf("key-value record of %d bytes, version %v: want version %d", len(b), firstByte(b), kvV1)
	}
	return bytes.Clone(b[1:len(b):len(b)]), nil
}

func firstByte(b []byte) any {
	if len(b) == 0 {
		return "none"
	}
	return b[0]
}
