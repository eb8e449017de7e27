// Package metadata defines Store, the MetadataStore chronik reads topics,
// partitions, leadership and configuration through, with an in-memory
// implementation and a durable one on go.etcd.io/bbolt for the embedded
// default.
//
// Besides topics, a Store hands out producer-id blocks for idempotent
// producers and keeps small namespaced key-value records (transaction
// coordinator state, consumer-group offsets) with compare-and-swap, so that
// later features need no second store. Every operation maps onto a single
// etcd transaction, so a distributed implementation can satisfy the same
// contract.
//
// Topic snapshots are immutable: a write builds a new Topic and publishes it
// atomically, so Topic, called on every produce request, is a lock-free map
// lookup. The conformance suite in metadata/metadatatest checks any Store
// against the contract documented here.
package metadata

import (
	"context"
	"encoding/base64"
)

// MaxTopicNameLen is Kafka's limit on topic name length
// (org.apache.kafka.common.internals.Topic.MAX_NAME_LENGTH).
const MaxTopicNameLen = 249

// MaxPartitions is chronik's limit on the partition count of one topic;
// Kafka has no fixed limit, this one keeps a mistyped count from allocating
// millions of partitions.
const MaxPartitions = 100000

// Limits on the generic key-value records, chosen to fit both bbolt (32 KiB
// keys) and etcd (1.5 MiB requests).
const (
	MaxNamespaceLen = 249
	MaxKeyLen       = 16 << 10
	MaxValueLen     = 1 << 20
)

// PartitionInfo is the leadership state of one partition.
type PartitionInfo struct {
	Partition   int32
	Leader      int32 // node id; -1 when the partition has no leader
	LeaderEpoch int32 // starts at 0, bumped by every SetLeader
	Replicas    []int32
	ISR         []int32 // in-sync replicas, a subset of Replicas
}

// Topic is an immutable snapshot of one topic.
//
// Snapshots returned by a Store share memory with it: callers must not modify
// the slices, maps or pointers inside (use Clone for a private copy).
type Topic struct {
	Name       string
	ID         [16]byte        // random version-4 UUID chosen at creation (KIP-516 topic id)
	Partitions []PartitionInfo // indexed by partition number; nil only in a deletion notice
	Config     TopicConfig     // defaults with Overrides applied
	// Overrides holds the config keys set explicitly at creation or by
	// AlterTopicConfig, with normalised values; every other key has its
	// default. DescribeConfigs reports these as the topic's own settings.
	Overrides map[string]string
}

// Deleted reports whether t is a deletion notice delivered by Watch: a live
// topic always has at least one partition.
func (t Topic) Deleted() bool { return len(t.Partitions) == 0 }

// IDString returns the topic id the way Kafka prints it: URL-safe base64
// without padding (org.apache.kafka.common.Uuid.toString).
func (t Topic) IDString() string { return base64.RawURLEncoding.EncodeToString(t.ID[:]) }

// Partition returns partition p, or false when the topic has no such
// partition.
func (t Topic) Partition(p int32) (PartitionInfo, bool) {
	if p < 0 || int(p) >= len(t.Partitions) {
		return PartitionInfo{}, false
	}
	return t.Partitions[p], true
}

// Clone returns a deep copy of t that the caller may modify.
func (t Topic) Clone() Topic {
	c := t
	if t.Partitions != nil {
		c.Partitions = make([]PartitionInfo, len(t.Partitions))
		for i, p := range t.Partitions {
			p.Replicas = append([]int32(nil), p.Replicas...)
			p.ISR = append([]int32(nil), p.ISR...)
			c.Partitions[i] = p
		}
	}
	c.Config = t.Config.clone()
	if t.Overrides != nil {
		c.Overrides = make(map[string]string, len(t.Overrides))
		for k, v := range t.Overrides {
			c.Overrides[k] = v
		}
	}
	return c
}

// Store is the MetadataStore: what chronik components read and write
// cluster metadata through.
//
// Implementations are safe for concurrent use. Topic and Topics answer from
// an in-memory snapshot without I/O, because Topic is called on every
// produce request. Every write is atomic and, for a durable store, durable
// before it returns.
//
// Methods taking a context return ctx.Err() (possibly wrapped), having
// changed nothing, when the context is done before the operation starts;
// implementations may also give up while waiting for other writers. Once a
// write has begun it runs to completion.
//
// After Close, every method returns an error wrapping ErrClosed, Topic
// reports no topic, Topics returns nil and Watch returns a cancel function
// that does nothing.
//
// Errors wrap one of the sentinel errors of this package (ErrTopicExists,
// ErrUnknownTopic, ...) so that errors.Is works, and ErrorCode maps them to
// the Kafka error code a response should carry.
type Store interface {
	// CreateTopic creates a topic with partitions partitions, each replicated
	// on replicas (leader first; nil or empty means the store's default node
	// alone), with leader epoch 0 and ISR = replicas. config holds the
	// topic's overrides, validated by ParseTopicConfig.
	//
	// Checks follow Kafka's CreateTopics order: an invalid name gives
	// ErrInvalidTopic; an existing name ErrTopicExists; a name equal to an
	// existing one after replacing '.' by '_' ErrInvalidTopic (Kafka's
	// collision rule); a count outside 1..MaxPartitions
	// ErrInvalidPartitions; negative or duplicate replica ids
	// ErrInvalidReplicas; a bad config ErrInvalidConfig with a
	// *ConfigError. A failed call creates nothing.
	CreateTopic(ctx context.Context, name string, partitions int32, replicas []int32, config map[string]string) (Topic, error)

	// Topic returns the current snapshot of the named topic, from memory.
	Topic(name string) (Topic, bool)

	// Topics returns snapshots of every topic, sorted by name.
	Topics() []Topic

	// DeleteTopic removes the topic; ErrUnknownTopic if it does not exist.
	// A topic created later under the same name gets a new ID.
	DeleteTopic(ctx context.Context, name string) error

	// AlterTopicConfig replaces the topic's overrides with config, as
	// Kafka's AlterConfigs does: keys absent from config revert to their
	// defaults. Incremental changes are built by the caller from
	// Topic.Overrides. ErrUnknownTopic or ErrInvalidConfig; on error
	// nothing changes.
	AlterTopicConfig(ctx context.Context, name string, config map[string]string) error

	// CreatePartitions grows the topic to count partitions in total, as
	// Kafka's CreatePartitions does. New partitions copy the replica list
	// of partition 0, with its first replica as leader and epoch 0. A count
	// not above the current one, or above MaxPartitions, gives
	// ErrInvalidPartitions; a missing topic ErrUnknownTopic.
	CreatePartitions(ctx context.Context, name string, count int32) error

	// SetLeader makes leader the leader of the partition and bumps its
	// leader epoch, even when the leader is unchanged (each call starts a
	// new leadership term, which fences the previous leader's writes).
	// leader must be one of the partition's replicas, or -1 for no leader,
	// else ErrInvalidLeader; replicas and ISR are unchanged.
	// ErrUnknownTopic or ErrUnknownPartition when the target is missing.
	SetLeader(ctx context.Context, topic string, partition int32, leader int32) error

	// Watch calls fn with the new snapshot after every committed topic
	// change (create, alter, partitions, leader), and with a deletion notice
	// (Topic.Deleted reports true; Name, ID, Config and Overrides are those
	// of the deleted topic) after a delete. Changes made before Watch
	// returns are not replayed: register, then read Topics.
	//
	// Calls to one fn are sequential, in commit order, on a goroutine the
	// store owns; they never block writers (notices queue without bound).
	// fn may call any Store method except Close. cancel stops delivery: fn
	// never sees a change committed after cancel returns, though a call
	// already under way may still be running. cancel may be called from fn
	// and more than once. Close waits for running calls to return.
	Watch(fn func(Topic)) (cancel func())

	// AllocateProducerIDs reserves n > 0 consecutive producer ids and
	// returns the first. Ids are never handed out twice: not across
	// concurrent callers, not across restarts of a durable store, and not
	// across brokers sharing the store (Kafka's AllocateProducerIds, KIP-730,
	// hands out blocks the same way). n <= 0 gives ErrInvalidArgument;
	// running past math.MaxInt64 gives ErrProducerIDsExhausted.
	AllocateProducerIDs(ctx context.Context, n int64) (first int64, err error)

	// Get returns the value stored under namespace/key, or false when
	// there is none. The returned slice is the caller's (non-nil when
	// found, even for an empty value).
	//
	// Namespaces are 1..MaxNamespaceLen bytes of [a-zA-Z0-9._-]; keys are
	// 1..MaxKeyLen arbitrary bytes; values at most MaxValueLen bytes.
	// Anything else gives ErrInvalidArgument, in every key-value method.
	Get(ctx context.Context, namespace, key string) ([]byte, bool, error)

	// Put stores a copy of value under namespace/key, replacing any value
	// there. A nil value stores an empty value (use Delete to remove).
	Put(ctx context.Context, namespace, key string, value []byte) error

	// Delete removes namespace/key; removing a missing key is not an error.
	Delete(ctx context.Context, namespace, key string) error

	// CompareAndSwap atomically replaces the value under namespace/key with
	// new if the current value equals old, and reports whether it did.
	// old == nil means the key must not exist; a non-nil empty old means it
	// must exist with an empty value. new == nil deletes the key. A
	// mismatch is (false, nil), not an error. (In etcd terms: one Txn
	// comparing the key's version or value, then a put or a delete.)
	CompareAndSwap(ctx context.Context, namespace, key string, old, new []byte) (bool, error)

	// List returns copies of every record in namespace whose key starts
	// with prefix; the empty prefix lists the whole namespace. An empty or
	// never-used namespace gives an empty, non-nil map.
	List(ctx context.Context, namespace, prefix string) (map[string][]byte, error)

	// Close releases the store, waiting for running writes and watch
	// callbacks to finish. Closing again does nothing and returns nil.
	Close() error
}
