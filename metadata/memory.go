package metadata

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
)

// Memory is a Store held entirely in memory, for tests and single-process
// hosts that rebuild their topics at start. Nothing survives Close.
//
// Topic writes serialise on the table's write lock; key-value records and the
// producer-id counter sit under mu. Watch callbacks run on one goroutine per
// watcher, all ended by Close.
type Memory struct {
	tb *table

	mu      sync.RWMutex                 // guards kv and nextPID
	kv      map[string]map[string][]byte // namespace -> key -> value (never nil once stored)
	nextPID int64
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store whose topics are placed on
// defaultNode when CreateTopic gets no replicas. It panics if defaultNode is
// negative, which no Kafka node id is.
func NewMemory(defaultNode int32) *Memory {
	if defaultNode < 0 {
		panic(fmt.Sprintf("metadata: NewMemory: negative default node id %d", defaultNode))
	}
	return &Memory{tb: newTable(defaultNode, nil), kv: make(map[string]map[string][]byte)}
}

// CreateTopic implements Store.
func (m *Memory) CreateTopic(ctx context.Context, name string, partitions int32, replicas []int32, config map[string]string) (Topic, error) {
	return m.tb.createTopic(ctx, name, partitions, replicas, config)
}

// Topic implements Store.
func (m *Memory) Topic(name string) (Topic, bool) { return m.tb.topic(name) }

// Topics implements Store.
func (m *Memory) Topics() []Topic { return m.tb.topics() }

// DeleteTopic implements Store.
func (m *Memory) DeleteTopic(ctx context.Context, name string) error {
	return m.tb.deleteTopic(ctx, name)
}

// AlterTopicConfig implements Store.
func (m *Memory) AlterTopicConfig(ctx context.Context, name string, config map[string]string) error {
	return m.tb.alterTopicConfig(ctx, name, config)
}

// CreatePartitions implements Store.
func (m *Memory) CreatePartitions(ctx context.Context, name string, count int32) error {
	return m.tb.createPartitions(ctx, name, count)
}

// SetLeader implements Store.
func (m *Memory) SetLeader(ctx context.Context, topic string, partition int32, leader int32) error {
	return m.tb.setLeader(ctx, topic, partition, leader)
}

// Watch implements Store.
func (m *Memory) Watch(fn func(Topic)) (cancel func()) { return m.tb.hub.watch(fn) }

// AllocateProducerIDs implements Store.
func (m *Memory) AllocateProducerIDs(ctx context.Context, n int64) (int64, error) {
	fail := func(err error) (int64, error) {
		return -1, &KeyError{Op: "allocate producer ids", Err: err}
	}
	if err := m.begin(ctx); err != nil {
		return fail(err)
	}
	if n <= 0 {
		return fail(fmt.Errorf("%w: block size %d is not positive", ErrInvalidArgument, n))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.kv == nil {
		return fail(ErrClosed)
	}
	first := m.nextPID
	if n > math.MaxInt64-first {
		return fail(fmt.Errorf("%w: %d ids requested, %d left", ErrProducerIDsExhausted, n, math.MaxInt64-first))
	}
	m.nextPID = first + n
	return first, nil
}

// Get implements Store.
func (m *Memory) Get(ctx context.Context, namespace, key string) ([]byte, bool, error) {
	if err := m.beginKey(ctx, namespace, key); err != nil {
		return nil, false, &KeyError{Op: "get", Namespace: namespace, Key: key, Err: err}
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.kv == nil {
		return nil, false, &KeyError{Op: "get", Namespace: namespace, Key: key, Err: ErrClosed}
	}
	v, ok := m.kv[namespace][key]
	if !ok {
		return nil, false, nil
	}
	return bytes.Clone(v), true, nil
}

// Put implements Store.
func (m *Memory) Put(ctx context.Context, namespace, key string, value []byte) error {
	if err := m.beginKey(ctx, namespace, key); err != nil {
		return &KeyError{Op: "put", Namespace: namespace, Key: key, Err: err}
	}
	if err := validateValue(value); err != nil {
		return &KeyError{Op: "put", Namespace: namespace, Key: key, Err: err}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.kv == nil {
		return &KeyError{Op: "put", Namespace: namespace, Key: key, Err: ErrClosed}
	}
	m.store(namespace, key, value)
	return nil
}

// Delete implements Store.
func (m *Memory) Delete(ctx context.Context, namespace, key string) error {
	if err := m.beginKey(ctx, namespace, key); err != nil {
		return &KeyError{Op: "delete", Namespace: namespace, Key: key, Err: err}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.kv == nil {
		return &KeyError{Op: "delete", Namespace: namespace, Key: key, Err: ErrClosed}
	}
	delete(m.kv[namespace], key)
	return nil
}

// CompareAndSwap implements Store.
func (m *Memory) CompareAndSwap(ctx context.Context, namespace, key string, old, new []byte) (bool, error) {
	if err := m.beginKey(ctx, namespace, key); err != nil {
		return false, &KeyError{Op: "compare-and-swap", Namespace: namespace, Key: key, Err: err}
	}
	if err := validateValue(new); err != nil {
		return false, &KeyError{Op: "compare-and-swap", Namespace: namespace, Key: key, Err: err}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.kv == nil {
		return false, &KeyError{Op: "compare-and-swap", Namespace: namespace, Key: key, Err: ErrClosed}
	}
	cur, ok := m.kv[namespace][key]
	if !casMatches(cur, ok, old) {
		return false, nil
	}
	if new == nil {
		delete(m.kv[namespace], key)
	} else {
		m.store(namespace, key, new)
	}
	return true, nil
}

// List implements Store.
func (m *Memory) List(ctx context.Context, namespace, prefix string) (map[string][]byte, error) {
	fail := func(err error) (map[string][]byte, error) {
		return nil, &KeyError{Op: "list", Namespace: namespace, Key: prefix, Err: err}
	}
	if err := m.begin(ctx); err != nil {
		return fail(err)
	}
	if err := validateNamespace(namespace); err != nil {
		return fail(err)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.kv == nil {
		return fail(ErrClosed)
	}
	out := make(map[string][]byte)
	for k, v := range m.kv[namespace] {
		if strings.HasPrefix(k, prefix) {
			out[k] = bytes.Clone(v)
		}
	}
	return out, nil
}

// Close implements Store: it stops watchers and drops every record.
func (m *Memory) Close() error {
	return m.tb.close(func() error {
		m.mu.Lock()
		m.kv = nil
		m.mu.Unlock()
		return nil
	})
}

// store saves a copy of value; the caller holds mu.
func (m *Memory) store(namespace, key string, value []byte) {
	ns := m.kv[namespace]
	if ns == nil {
		ns = make(map[string][]byte)
		m.kv[namespace] = ns
	}
	v := make([]byte, len(value))
	copy(v, value)
	ns[key] = v
}

func (m *Memory) begin(ctx context.Context) error {
	if m.tb.closed.Load() {
		return ErrClosed
	}
	return ctx.Err()
}

func (m *Memory) beginKey(ctx context.Context, namespace, key string) error {
	if err := m.begin(ctx); err != nil {
		return err
	}
	return validateKey(namespace, key)
}

// casMatches reports whether the current state (cur, present) satisfies the
// expectation old: nil means absent, anything else means present and equal.
func casMatches(cur []byte, present bool, old []byte) bool {
	if old == nil {
		return !present
	}
	return present && bytes.Equal(cur, old)
}
