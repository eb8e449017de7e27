package metadata

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync/atomic"
)

// table is the topic state both stores share: an immutable snapshot behind an
// atomic pointer for lock-free reads, a write lock that serialises changes,
// and the watch hub. A change is computed from the current snapshot,
// persisted (by the durable store), then published; readers never see a
// change that failed to persist.
type table struct {
	wlock       chan struct{} // capacity 1: held while a topic change is computed, persisted and published
	snap        atomic.Pointer[snapshot]
	hub         *hub
	closed      atomic.Bool
	defaultNode int32

	// persist makes a change durable before it is published; t is a
	// deletion notice for a delete. nil for the memory store.
	persist func(t Topic) error
}

// snapshot is never modified once published.
type snapshot struct {
	byName  map[string]Topic
	collide map[string]string // collisionKey -> name, for names containing '.' or '_'
	sorted  []Topic           // by name
}

var emptySnapshot = &snapshot{byName: map[string]Topic{}, collide: map[string]string{}}

func newTable(defaultNode int32, persist func(Topic) error) *table {
	t := &table{wlock: make(chan struct{}, 1), hub: newHub(), defaultNode: defaultNode, persist: persist}
	t.snap.Store(emptySnapshot)
	return t
}

// load replaces the snapshot with topics read from disk at open.
func (tb *table) load(topics []Topic) {
	s := &snapshot{byName: make(map[string]Topic, len(topics)), collide: map[string]string{}}
	for _, t := range topics {
		s.byName[t.Name] = t
		if strings.ContainsAny(t.Name, "._") {
			s.collide[collisionKey(t.Name)] = t.Name
		}
	}
	s.sort()
	tb.snap.Store(s)
}

// with returns a copy of s with t added or replaced, or removed when t is a
// deletion notice.
func (s *snapshot) with(t Topic) *snapshot {
	n := &snapshot{
		byName:  make(map[string]Topic, len(s.byName)+1),
		collide: make(map[string]string, len(s.collide)+1),
	}
	for k, v := range s.byName {
		n.byName[k] = v
	}
	for k, v := range s.collide {
		n.collide[k] = v
	}
	hasCollisionChars := strings.ContainsAny(t.Name, "._")
	if t.Deleted() {
		delete(n.byName, t.Name)
		if hasCollisionChars {
			delete(n.collide, collisionKey(t.Name))
		}
	} else {
		n.byName[t.Name] = t
		if hasCollisionChars {
			n.collide[collisionKey(t.Name)] = t.Name
		}
	}
	n.sort()
	return n
}

func (s *snapshot) sort() {
	s.sorted = make([]Topic, 0, len(s.byName))
	for _, v := range s.byName {
		s.sorted = append(s.sorted, v)
	}
	slices.SortFunc(s.sorted, func(a, b Topic) int { return strings.Compare(a.Name, b.Name) })
}

func (tb *table) topic(name string) (Topic, bool) {
	t, ok := tb.snap.Load().byName[name]
	return t, ok
}

func (tb *table) topics() []Topic {
	s := tb.snap.Load()
	if len(s.sorted) == 0 {
		return nil
	}
	return slices.Clone(s.sorted)
}

// lock takes the write lock unless ctx ends first.
func (tb *table) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case tb.wlock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (tb *table) unlock() { <-tb.wlock }

// change runs one topic write: fn computes the new state of the named topic
// from the current snapshot (a deletion notice to delete it); the result is
// persisted, published to readers and queued for watchers, in that order.
func (tb *table) change(ctx context.Context, op, name string, partition int32, fn func(s *snapshot) (Topic, error)) (Topic, error) {
	fail := func(err error) (Topic, error) {
		return Topic{}, &TopicError{Op: op, Topic: name, Partition: partition, Err: err}
	}
	if tb.closed.Load() {
		return fail(ErrClosed)
	}
	if err := tb.lock(ctx); err != nil {
		return fail(err)
	}
	defer tb.unlock()
	if tb.closed.Load() {
		return fail(ErrClosed)
	}
	t, err := fn(tb.snap.Load())
	if err != nil {
		return fail(err)
	}
	if tb.persist != nil {
		if err := tb.persist(t); err != nil {
			return fail(err)
		}
	}
	tb.snap.Store(tb.snap.Load().with(t))
	tb.hub.publish(t)
	return t, nil
}

// close stops watchers and waits for their callbacks, waits for a running
// write, empties the snapshot and calls release (which frees what writes
// use) while still holding the write lock. Writers queued behind it then
// see the closed flag. Only the first call does anything.
func (tb *table) close(release func() error) error {
	if tb.closed.Swap(true) {
		return nil
	}
	tb.hub.close()
	tb.wlock <- struct{}{}
	defer tb.unlock()
	tb.snap.Store(emptySnapshot)
	if release != nil {
		return release()
	}
	return nil
}

func (tb *table) createTopic(ctx context.Context, name string, partitions int32, replicas []int32, config map[string]string) (Topic, error) {
	return tb.change(ctx, "create topic", name, -1, func(s *snapshot) (Topic, error) {
		if err := ValidateTopicName(name); err != nil {
			return Topic{}, err
		}
		if _, ok := s.byName[name]; ok {
			return Topic{}, ErrTopicExists
		}
		if other, ok := s.collide[collisionKey(name)]; ok {
			return Topic{}, fmt.Errorf("%w: it collides with existing topic %q ('.' and '_' are interchangeable in metric names)", ErrInvalidTopic, other)
		}
		if partitions < 1 || partitions > MaxPartitions {
			return Topic{}, fmt.Errorf("%w: %d is outside 1..%d", ErrInvalidPartitions, partitions, MaxPartitions)
		}
		reps, err := validateReplicas(replicas, tb.defaultNode)
		if err != nil {
			return Topic{}, err
		}
		cfg, err := ParseTopicConfig(config)
		if err != nil {
			return Topic{}, err
		}
		t := Topic{Name: name, ID: newTopicID(), Config: cfg, Overrides: cfg.overrides(config)}
		for {
			// Topic ids must be unique; a collision among 2^122 random
			// values is not expected, but costs nothing to rule out.
			if !s.hasID(t.ID) {
				break
			}
			t.ID = newTopicID()
		}
		t.Partitions = make([]PartitionInfo, partitions)
		for i := range t.Partitions {
			t.Partitions[i] = newPartition(int32(i), reps)
		}
		return t, nil
	})
}

func (s *snapshot) hasID(id [16]byte) bool {
	for _, t := range s.sorted {
		if t.ID == id {
			return true
		}
	}
	return false
}

// newPartition is a fresh partition on reps: the first replica leads at
// epoch 0 and every replica is in sync. The replica slice is shared between
// partitions; snapshots are never modified.
func newPartition(p int32, reps []int32) PartitionInfo {
	return PartitionInfo{Partition: p, Leader: reps[0], LeaderEpoch: 0, Replicas: reps, ISR: reps}
}

func (tb *table) deleteTopic(ctx context.Context, name string) error {
	_, err := tb.change(ctx, "delete topic", name, -1, func(s *snapshot) (Topic, error) {
		t, ok := s.byName[name]
		if !ok {
			return Topic{}, ErrUnknownTopic
		}
		t.Partitions = nil
		return t, nil
	})
	return err
}

func (tb *table) alterTopicConfig(ctx context.Context, name string, config map[string]string) error {
	_, err := tb.change(ctx, "alter config", name, -1, func(s *snapshot) (Topic, error) {
		t, ok := s.byName[name]
		if !ok {
			return Topic{}, ErrUnknownTopic
		}
		cfg, err := ParseTopicConfig(config)
		if err != nil {
			return Topic{}, err
		}
		t.Config, t.Overrides = cfg, cfg.overrides(config)
		return t, nil
	})
	return err
}

func (tb *table) createPartitions(ctx context.Context, name string, count int32) error {
	_, err := tb.change(ctx, "create partitions", name, -1, func(s *snapshot) (Topic, error) {
		t, ok := s.byName[name]
		if !ok {
			return Topic{}, ErrUnknownTopic
		}
		// Kafka's CreatePartitions: the count is the new total and must be
		// an increase (ReplicationControlManager.createPartitions).
		cur := int32(len(t.Partitions))
		switch {
		case count == cur:
			return Topic{}, fmt.Errorf("%w: the topic already has %d partitions", ErrInvalidPartitions, cur)
		case count < cur:
			return Topic{}, fmt.Errorf("%w: the topic has %d partitions; %d would not be an increase", ErrInvalidPartitions, cur, count)
		case count > MaxPartitions:
			return Topic{}, fmt.Errorf("%w: %d is above the limit of %d", ErrInvalidPartitions, count, MaxPartitions)
		}
		reps := t.Partitions[0].Replicas
		parts := make([]PartitionInfo, count)
		copy(parts, t.Partitions)
		for i := cur; i < count; i++ {
			parts[i] = newPartition(i, reps)
		}
		t.Partitions = parts
		return t, nil
	})
	return err
}

func (tb *table) setLeader(ctx context.Context, name string, partition, leader int32) error {
	_, err := tb.change(ctx, "set leader", name, partition, func(s *snapshot) (Topic, error) {
		t, ok := s.byName[name]
		if !ok {
			return Topic{}, ErrUnknownTopic
		}
		p, ok := t.Partition(partition)
		if !ok {
			return Topic{}, fmt.Errorf("%w: the topic has %d partitions", ErrUnknownPartition, len(t.Partitions))
		}
		if leader != -1 && !slices.Contains(p.Replicas, leader) {
			return Topic{}, fmt.Errorf("%w: node %d is not in replicas %v", ErrInvalidLeader, leader, p.Replicas)
		}
		if p.LeaderEpoch == math.MaxInt32 {
			return Topic{}, fmt.Errorf("%w: leader epoch would overflow int32", ErrInvalidLeader)
		}
		// Every replica stays in the ISR: nothing in this store shrinks it,
		// so any replica is a clean choice of leader.
		p.Leader = leader
		p.LeaderEpoch++
		parts := slices.Clone(t.Partitions)
		parts[partition] = p
		t.Partitions = parts
		return t, nil
	})
	return err
}
