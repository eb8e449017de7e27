// Package metadatatest is the conformance suite for metadata.Store: every
// implementation (memory, bbolt, and any a host plugs in) runs Run from its
// own tests and must pass it unchanged.
package metadatatest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/metadata"
)

// Run checks the Store that open returns against the metadata.Store
// contract, one subtest per behaviour.
//
// open must return a new, empty store each time it is called; the suite
// closes every store it gets. reopen, for durable stores, must close old and
// return a store over the same data; pass nil for a store that keeps nothing
// across Close, and the durability subtests are skipped.
func Run(t *testing.T, open func(t *testing.T) metadata.Store, reopen func(t *testing.T, old metadata.Store) metadata.Store) {
	s := &suite{open: open, reopen: reopen}
	tests := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"CreateTopic", s.testCreateTopic},
		{"CreateTopicExists", s.testCreateTopicExists},
		{"CreateTopicNames", s.testCreateTopicNames},
		{"CreateTopicPartitionsAndReplicas", s.testCreateTopicPartitionsAndReplicas},
		{"CreateTopicConfig", s.testCreateTopicConfig},
		{"AlterTopicConfig", s.testAlterTopicConfig},
		{"DeleteTopic", s.testDeleteTopic},
		{"CreatePartitions", s.testCreatePartitions},
		{"SetLeader", s.testSetLeader},
		{"SnapshotsAreIsolated", s.testSnapshotsAreIsolated},
		{"ConcurrentTopicWrites", s.testConcurrentTopicWrites},
		{"Watch", s.testWatch},
		{"WatchCancel", s.testWatchCancel},
		{"ProducerIDs", s.testProducerIDs},
		{"ProducerIDsConcurrent", s.testProducerIDsConcurrent},
		{"KeyValue", s.testKeyValue},
		{"KeyValueInvalid", s.testKeyValueInvalid},
		{"CompareAndSwap", s.testCompareAndSwap},
		{"CompareAndSwapConcurrent", s.testCompareAndSwapConcurrent},
		{"List", s.testList},
		{"CancelledContext", s.testCancelledContext},
		{"Close", s.testClose},
		{"DurableTopics", s.testDurableTopics},
		{"DurableProducerIDs", s.testDurableProducerIDs},
		{"DurableKeyValue", s.testDurableKeyValue},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.fn)
	}
}

type suite struct {
	open   func(t *testing.T) metadata.Store
	reopen func(t *testing.T, old metadata.Store) metadata.Store
}

// waitTimeout bounds every wait for a watch notice.
const waitTimeout = 10 * time.Second

// store opens a fresh store that is closed when the test ends.
func (s *suite) store(t *testing.T) metadata.Store {
	t.Helper()
	st := s.open(t)
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return st
}

// reopened closes st and returns the store over the same data, closed when
// the test ends. The test is skipped for stores that are not durable.
func (s *suite) reopened(t *testing.T, st metadata.Store) metadata.Store {
	t.Helper()
	n := s.reopen(t, st)
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return n
}

func (s *suite) needDurable(t *testing.T) {
	t.Helper()
	if s.reopen == nil {
		t.Skip("store is not durable")
	}
}

func mustCreate(t *testing.T, st metadata.Store, name string, partitions int32, replicas []int32, config map[string]string) metadata.Topic {
	t.Helper()
	tp, err := st.CreateTopic(t.Context(), name, partitions, replicas, config)
	if err != nil {
		t.Fatalf("CreateTopic(%q, %d, %v, %v): %v", name, partitions, replicas, config, err)
	}
	return tp
}

func mustTopic(t *testing.T, st metadata.Store, name string) metadata.Topic {
	t.Helper()
	tp, ok := st.Topic(name)
	if !ok {
		t.Fatalf("Topic(%q): not found", name)
	}
	return tp
}

// wantErr checks that err wraps target and maps to the Kafka code.
func wantErr(t *testing.T, what string, err, target error, code errcode.Code) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
	if got := metadata.ErrorCode(err); got != code {
		t.Fatalf("%s: ErrorCode(%v) = %v, want %v", what, err, got, code)
	}
}

func names(ts []metadata.Topic) []string {
	out := make([]string, len(ts))
	for i, tp := range ts {
		out[i] = tp.Name
	}
	return out
}

// checkTopic verifies the invariants every live topic snapshot satisfies.
func checkTopic(t *testing.T, tp metadata.Topic) {
	t.Helper()
	if tp.ID == ([16]byte{}) {
		t.Errorf("topic %q: zero id", tp.Name)
	}
	if tp.ID[6]>>4 != 4 || tp.ID[8]>>6 != 2 {
		t.Errorf("topic %q: id %x is not a version-4 RFC 4122 UUID", tp.Name, tp.ID)
	}
	if strings.HasPrefix(tp.IDString(), "-") {
		t.Errorf("topic %q: id %s starts with '-'", tp.Name, tp.IDString())
	}
	if len(tp.Partitions) == 0 || tp.Deleted() {
		t.Fatalf("topic %q: no partitions", tp.Name)
	}
	for i, p := range tp.Partitions {
		if p.Partition != int32(i) {
			t.Errorf("topic %q: partition %d at index %d", tp.Name, p.Partition, i)
		}
		if len(p.Replicas) == 0 {
			t.Errorf("topic %q partition %d: no replicas", tp.Name, i)
		}
		if p.Leader != -1 && !slices.Contains(p.Replicas, p.Leader) {
			t.Errorf("topic %q partition %d: leader %d not in replicas %v", tp.Name, i, p.Leader, p.Replicas)
		}
		for _, r := range p.ISR {
			if !slices.Contains(p.Replicas, r) {
				t.Errorf("topic %q partition %d: ISR %v not within replicas %v", tp.Name, i, p.ISR, p.Replicas)
			}
		}
		if p.LeaderEpoch < 0 {
			t.Errorf("topic %q partition %d: negative epoch %d", tp.Name, i, p.LeaderEpoch)
		}
	}
	if err := tp.Config.Validate(); err != nil {
		t.Errorf("topic %q: invalid config: %v", tp.Name, err)
	}
	want, err := metadata.ParseTopicConfig(tp.Overrides)
	if err != nil {
		t.Errorf("topic %q: overrides %v do not parse: %v", tp.Name, tp.Overrides, err)
	} else if !reflect.DeepEqual(want, tp.Config) {
		t.Errorf("topic %q: config %+v is not its overrides %v applied to the defaults (%+v)", tp.Name, tp.Config, tp.Overrides, want)
	}
}

func (s *suite) testCreateTopic(t *testing.T) {
	st := s.store(t)
	if _, ok := st.Topic("orders"); ok {
		t.Fatal("Topic found in an empty store")
	}
	if got := st.Topics(); len(got) != 0 {
		t.Fatalf("Topics of an empty store = %v", names(got))
	}

	orders := mustCreate(t, st, "orders", 3, nil, nil)
	checkTopic(t, orders)
	if orders.Name != "orders" || len(orders.Partitions) != 3 {
		t.Fatalf("created %q with %d partitions, want orders with 3", orders.Name, len(orders.Partitions))
	}
	for _, p := range orders.Partitions {
		if len(p.Replicas) != 1 || p.Leader != p.Replicas[0] || p.LeaderEpoch != 0 || !slices.Equal(p.ISR, p.Replicas) {
			t.Errorf("default placement: partition %+v, want the default node alone as leader at epoch 0", p)
		}
	}
	if node := orders.Partitions[0].Replicas[0]; node < 0 {
		t.Errorf("default node %d is negative", node)
	}
	if !reflect.DeepEqual(orders.Config, metadata.DefaultTopicConfig()) || len(orders.Overrides) != 0 {
		t.Errorf("config without overrides = %+v / %v, want the defaults", orders.Config, orders.Overrides)
	}
	if got := mustTopic(t, st, "orders"); !reflect.DeepEqual(got, orders) {
		t.Errorf("Topic after create = %+v, want what CreateTopic returned %+v", got, orders)
	}

	replicas := []int32{3, 1, 2}
	pay := mustCreate(t, st, "payments", 2, replicas, nil)
	replicas[0] = 9 // the store must have copied the caller's slice
	checkTopic(t, pay)
	for _, p := range mustTopic(t, st, "payments").Partitions {
		if p.Leader != 3 || !slices.Equal(p.Replicas, []int32{3, 1, 2}) || !slices.Equal(p.ISR, []int32{3, 1, 2}) || p.LeaderEpoch != 0 {
			t.Errorf("explicit placement: partition %+v, want leader 3, replicas = ISR = [3 1 2], epoch 0", p)
		}
	}
	if pay.ID == orders.ID {
		t.Error("two topics share an id")
	}
	if got := names(st.Topics()); !slices.Equal(got, []string{"orders", "payments"}) {
		t.Errorf("Topics = %v, want [orders payments]", got)
	}
	for _, tp := range st.Topics() {
		checkTopic(t, tp)
	}
}

func (s *suite) testCreateTopicExists(t *testing.T) {
	st := s.store(t)
	first := mustCreate(t, st, "events", 1, nil, nil)
	_, err := st.CreateTopic(t.Context(), "events", 4, []int32{1}, map[string]string{metadata.ConfigRetentionMs: "1"})
	wantErr(t, "duplicate CreateTopic", err, metadata.ErrTopicExists, errcode.TopicAlreadyExists)
	if got := mustTopic(t, st, "events"); !reflect.DeepEqual(got, first) {
		t.Errorf("duplicate create changed the topic: %+v, want %+v", got, first)
	}
}

func (s *suite) testCreateTopicNames(t *testing.T) {
	st := s.store(t)
	invalid := []string{"", ".", "..", strings.Repeat("x", metadata.MaxTopicNameLen+1),
		"a b", "a/b", "a:b", "a*b", "tópico", "a\x00b", "a\nb", "a+b", "a,b"}
	for _, name := range invalid {
		_, err := st.CreateTopic(t.Context(), name, 1, nil, nil)
		wantErr(t, fmt.Sprintf("CreateTopic(%q)", name), err, metadata.ErrInvalidTopic, errcode.InvalidTopicException)
		if _, ok := st.Topic(name); ok {
			t.Errorf("invalid name %q was created", name)
		}
	}
	valid := []string{"a", "...", "a-b_C.9", "_", "-", strings.Repeat("y", metadata.MaxTopicNameLen), "__consumer_offsets"}
	for _, name := range valid {
		mustCreate(t, st, name, 1, nil, nil)
	}
	if got := len(st.Topics()); got != len(valid) {
		t.Errorf("%d topics after creating %d valid names", got, len(valid))
	}

	// Kafka's collision rule: '.' and '_' are interchangeable.
	mustCreate(t, st, "metrics.cpu", 1, nil, nil)
	_, err := st.CreateTopic(t.Context(), "metrics_cpu", 1, nil, nil)
	wantErr(t, "colliding name", err, metadata.ErrInvalidTopic, errcode.InvalidTopicException)
	if err := st.DeleteTopic(t.Context(), "metrics.cpu"); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, st, "metrics_cpu", 1, nil, nil)
	_, err = st.CreateTopic(t.Context(), "metrics.cpu", 1, nil, nil)
	wantErr(t, "colliding name after recreate", err, metadata.ErrInvalidTopic, errcode.InvalidTopicException)
}

func (s *suite) testCreateTopicPartitionsAndReplicas(t *testing.T) {
	st := s.store(t)
	for _, n := range []int32{0, -1, metadata.MaxPartitions + 1} {
		_, err := st.CreateTopic(t.Context(), "t", n, nil, nil)
		wantErr(t, fmt.Sprintf("CreateTopic with %d partitions", n), err, metadata.ErrInvalidPartitions, errcode.InvalidPartitions)
	}
	for _, reps := range [][]int32{{1, 1}, {-1}, {2, 3, 2}, {0, -5}} {
		_, err := st.CreateTopic(t.Context(), "t", 1, reps, nil)
		wantErr(t, fmt.Sprintf("CreateTopic with replicas %v", reps), err, metadata.ErrInvalidReplicas, errcode.InvalidReplicaAssignment)
	}
	if _, ok := st.Topic("t"); ok {
		t.Fatal("a failed CreateTopic created the topic")
	}
	// An empty, non-nil list means the default node, like nil.
	tp := mustCreate(t, st, "t", 64, []int32{}, nil)
	checkTopic(t, tp)
	if len(tp.Partitions) != 64 || len(tp.Partitions[63].Replicas) != 1 {
		t.Errorf("64-partition topic: %d partitions, last replicas %v", len(tp.Partitions), tp.Partitions[63].Replicas)
	}
	zero := mustCreate(t, st, "on-node-0", 1, []int32{0}, nil)
	if zero.Partitions[0].Leader != 0 {
		t.Errorf("node 0 is a valid replica, got leader %d", zero.Partitions[0].Leader)
	}
}

func (s *suite) testCreateTopicConfig(t *testing.T) {
	st := s.store(t)
	cfg := map[string]string{
		metadata.ConfigRetentionMs:     " 1000 ",
		metadata.ConfigCleanupPolicy:   "compact",
		metadata.ConfigSearchEnabled:   "TRUE",
		metadata.ConfigSearchFields:    "user, amount",
		metadata.ConfigCompressionType: "zstd",
	}
	tp := mustCreate(t, st, "configured", 1, nil, cfg)
	checkTopic(t, tp)
	want, err := metadata.ParseTopicConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tp.Config, want) {
		t.Errorf("Config = %+v, want %+v", tp.Config, want)
	}
	wantOverrides := map[string]string{
		metadata.ConfigRetentionMs:     "1000",
		metadata.ConfigCleanupPolicy:   "compact",
		metadata.ConfigSearchEnabled:   "true",
		metadata.ConfigSearchFields:    "user,amount",
		metadata.ConfigCompressionType: "zstd",
	}
	if !maps.Equal(tp.Overrides, wantOverrides) {
		t.Errorf("Overrides = %v, want the normalised %v", tp.Overrides, wantOverrides)
	}

	bad := []map[string]string{
		{"unknown.key": "1"},
		{"message.timestamp.difference.max.ms": "1000"}, // removed in Kafka 4.0; chronik never knew it
		{metadata.ConfigRetentionMs: "-2"},
		{metadata.ConfigRetentionMs: "soon"},
		{metadata.ConfigCompressionType: "brotli"},
		{metadata.ConfigMaxMessageBytes: "4294967296"},
		{metadata.ConfigSearchEnabled: "yes"},
		{metadata.ConfigRetentionMs: "1", "bogus": "x"},
	}
	for _, c := range bad {
		_, err := st.CreateTopic(t.Context(), "bad-config", 1, nil, c)
		wantErr(t, fmt.Sprintf("CreateTopic with config %v", c), err, metadata.ErrInvalidConfig, errcode.InvalidConfig)
		var ce *metadata.ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("config %v: error %v carries no *ConfigError", c, err)
		} else if _, ok := c[ce.Key]; !ok {
			t.Errorf("config %v: ConfigError names key %q, not one of the input", c, ce.Key)
		}
		if _, ok := st.Topic("bad-config"); ok {
			t.Fatalf("config %v: topic created despite the error", c)
		}
	}
}

func (s *suite) testAlterTopicConfig(t *testing.T) {
	st := s.store(t)
	orig := mustCreate(t, st, "alter", 2, []int32{1, 2}, map[string]string{
		metadata.ConfigCleanupPolicy: "compact", metadata.ConfigRetentionMs: "100",
	})
	if err := st.AlterTopicConfig(t.Context(), "alter", map[string]string{metadata.ConfigRetentionMs: "5000"}); err != nil {
		t.Fatal(err)
	}
	got := mustTopic(t, st, "alter")
	checkTopic(t, got)
	// AlterConfigs semantics: the map replaces every override.
	if got.Config.RetentionMs != 5000 || got.Config.CleanupPolicy != metadata.CleanupDelete {
		t.Errorf("after alter: retention.ms %d, cleanup.policy %q; want 5000 and the default delete", got.Config.RetentionMs, got.Config.CleanupPolicy)
	}
	if !maps.Equal(got.Overrides, map[string]string{metadata.ConfigRetentionMs: "5000"}) {
		t.Errorf("Overrides after alter = %v", got.Overrides)
	}
	if got.ID != orig.ID || !reflect.DeepEqual(got.Partitions, orig.Partitions) {
		t.Error("AlterTopicConfig changed the id or the partitions")
	}

	before := got
	err := st.AlterTopicConfig(t.Context(), "alter", map[string]string{metadata.ConfigRetentionMs: "1", "no.such.key": "1"})
	wantErr(t, "alter with an unknown key", err, metadata.ErrInvalidConfig, errcode.InvalidConfig)
	err = st.AlterTopicConfig(t.Context(), "alter", map[string]string{metadata.ConfigSegmentBytes: "13"})
	wantErr(t, "alter with segment.bytes below Kafka's minimum", err, metadata.ErrInvalidConfig, errcode.InvalidConfig)
	if got := mustTopic(t, st, "alter"); !reflect.DeepEqual(got, before) {
		t.Errorf("a failed alter changed the topic: %+v", got)
	}

	if err := st.AlterTopicConfig(t.Context(), "alter", nil); err != nil {
		t.Fatal(err)
	}
	if got := mustTopic(t, st, "alter"); !reflect.DeepEqual(got.Config, metadata.DefaultTopicConfig()) || len(got.Overrides) != 0 {
		t.Errorf("alter with no overrides: %+v / %v, want the defaults", got.Config, got.Overrides)
	}

	err = st.AlterTopicConfig(t.Context(), "missing", nil)
	wantErr(t, "alter a missing topic", err, metadata.ErrUnknownTopic, errcode.UnknownTopicOrPartition)
}

func (s *suite) testDeleteTopic(t *testing.T) {
	st := s.store(t)
	old := mustCreate(t, st, "doomed", 2, nil, nil)
	mustCreate(t, st, "kept", 1, nil, nil)
	if err := st.DeleteTopic(t.Context(), "doomed"); err != nil {
		t.Fatal(err)
	}
	if _, ok := st.Topic("doomed"); ok {
		t.Error("Topic finds a deleted topic")
	}
	if got := names(st.Topics()); !slices.Equal(got, []string{"kept"}) {
		t.Errorf("Topics after delete = %v, want [kept]", got)
	}
	err := st.DeleteTopic(t.Context(), "doomed")
	wantErr(t, "second delete", err, metadata.ErrUnknownTopic, errcode.UnknownTopicOrPartition)
	err = st.DeleteTopic(t.Context(), "never-existed")
	wantErr(t, "delete a missing topic", err, metadata.ErrUnknownTopic, errcode.UnknownTopicOrPartition)

	again := mustCreate(t, st, "doomed", 1, nil, nil)
	if again.ID == old.ID {
		t.Error("a recreated topic kept the deleted topic's id")
	}
	if len(again.Partitions) != 1 || again.Partitions[0].LeaderEpoch != 0 {
		t.Errorf("recreated topic carries old state: %+v", again.Partitions)
	}
}

func (s *suite) testCreatePartitions(t *testing.T) {
	st := s.store(t)
	mustCreate(t, st, "grow", 2, []int32{5, 6}, nil)
	if err := st.SetLeader(t.Context(), "grow", 1, 6); err != nil {
		t.Fatal(err)
	}
	before := mustTopic(t, st, "grow")
	if err := st.CreatePartitions(t.Context(), "grow", 5); err != nil {
		t.Fatal(err)
	}
	got := mustTopic(t, st, "grow")
	checkTopic(t, got)
	if len(got.Partitions) != 5 {
		t.Fatalf("%d partitions after growing to 5", len(got.Partitions))
	}
	if !reflect.DeepEqual(got.Partitions[:2], before.Partitions) {
		t.Errorf("existing partitions changed: %+v, want %+v", got.Partitions[:2], before.Partitions)
	}
	for _, p := range got.Partitions[2:] {
		if p.Leader != 5 || p.LeaderEpoch != 0 || !slices.Equal(p.Replicas, []int32{5, 6}) || !slices.Equal(p.ISR, []int32{5, 6}) {
			t.Errorf("new partition %+v, want leader 5 at epoch 0 on [5 6]", p)
		}
	}
	if got.ID != before.ID || !reflect.DeepEqual(got.Config, before.Config) {
		t.Error("CreatePartitions changed the id or config")
	}
	for _, n := range []int32{5, 3, 0, -1, metadata.MaxPartitions + 1} {
		err := st.CreatePartitions(t.Context(), "grow", n)
		wantErr(t, fmt.Sprintf("CreatePartitions to %d", n), err, metadata.ErrInvalidPartitions, errcode.InvalidPartitions)
	}
	if got := len(mustTopic(t, st, "grow").Partitions); got != 5 {
		t.Errorf("a failed CreatePartitions left %d partitions", got)
	}
	err := st.CreatePartitions(t.Context(), "missing", 3)
	wantErr(t, "CreatePartitions on a missing topic", err, metadata.ErrUnknownTopic, errcode.UnknownTopicOrPartition)
}

func (s *suite) testSetLeader(t *testing.T) {
	st := s.store(t)
	mustCreate(t, st, "lead", 2, []int32{1, 2, 3}, nil)
	steps := []struct {
		leader, epoch int32
	}{{2, 1}, {2, 2}, {-1, 3}, {3, 4}, {1, 5}}
	for _, step := range steps {
		if err := st.SetLeader(t.Context(), "lead", 0, step.leader); err != nil {
			t.Fatalf("SetLeader(%d): %v", step.leader, err)
		}
		tp := mustTopic(t, st, "lead")
		checkTopic(t, tp)
		p := tp.Partitions[0]
		if p.Leader != step.leader || p.LeaderEpoch != step.epoch {
			t.Fatalf("after SetLeader(%d): leader %d epoch %d, want %d epoch %d", step.leader, p.Leader, p.LeaderEpoch, step.leader, step.epoch)
		}
		if !slices.Equal(p.Replicas, []int32{1, 2, 3}) || !slices.Equal(p.ISR, []int32{1, 2, 3}) {
			t.Errorf("SetLeader changed replicas or ISR: %+v", p)
		}
		if other := tp.Partitions[1]; other.Leader != 1 || other.LeaderEpoch != 0 {
			t.Errorf("SetLeader on partition 0 changed partition 1: %+v", other)
		}
	}
	before := mustTopic(t, st, "lead")
	err := st.SetLeader(t.Context(), "lead", 0, 4)
	wantErr(t, "leader outside the replicas", err, metadata.ErrInvalidLeader, errcode.InvalidReplicaAssignment)
	err = st.SetLeader(t.Context(), "lead", 0, -2)
	wantErr(t, "negative leader other than -1", err, metadata.ErrInvalidLeader, errcode.InvalidReplicaAssignment)
	for _, p := range []int32{2, -1, 1000} {
		err = st.SetLeader(t.Context(), "lead", p, 1)
		wantErr(t, fmt.Sprintf("SetLeader on partition %d", p), err, metadata.ErrUnknownPartition, errcode.UnknownTopicOrPartition)
	}
	err = st.SetLeader(t.Context(), "missing", 0, 1)
	wantErr(t, "SetLeader on a missing topic", err, metadata.ErrUnknownTopic, errcode.UnknownTopicOrPartition)
	if got := mustTopic(t, st, "lead"); !reflect.DeepEqual(got, before) {
		t.Errorf("a failed SetLeader changed the topic: %+v", got)
	}
}

func (s *suite) testSnapshotsAreIsolated(t *testing.T) {
	st := s.store(t)
	mustCreate(t, st, "iso", 2, []int32{1, 2}, map[string]string{metadata.ConfigSearchFields: "a,b", metadata.ConfigSearchEnabled: "true"})
	snap := mustTopic(t, st, "iso")
	want := snap.Clone()

	// A snapshot taken before a change keeps its values.
	if err := st.SetLeader(t.Context(), "iso", 0, 2); err != nil {
		t.Fatal(err)
	}
	if err := st.CreatePartitions(t.Context(), "iso", 3); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(snap, want) {
		t.Errorf("an earlier snapshot changed under a write: %+v, want %+v", snap, want)
	}

	// A clone is private: changing it changes nothing in the store.
	cur := mustTopic(t, st, "iso")
	c := cur.Clone()
	c.Partitions[0].Replicas[0] = 99
	c.Partitions[0].ISR[0] = 99
	c.Config.SearchFields[0] = "zzz"
	*c.Config.SearchEnabled = false
	c.Overrides["x"] = "y"
	if got := mustTopic(t, st, "iso"); !reflect.DeepEqual(got, cur) {
		t.Errorf("changing a Clone changed the store: %+v", got)
	}
}

func (s *suite) testConcurrentTopicWrites(t *testing.T) {
	st := s.store(t)
	const writers, leaderChanges = 4, 10
	mustCreate(t, st, "shared", writers, []int32{1, 2}, nil)
	var wg sync.WaitGroup
	errs := make(chan error, writers*(leaderChanges+2))
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for i := 0; i < 2; i++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if tp, ok := st.Topic("shared"); !ok || len(tp.Partitions) != writers {
					errs <- fmt.Errorf("reader saw %v, %d partitions", ok, len(tp.Partitions))
					return
				}
				st.Topics()
			}
		}()
	}
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("own-%d", w)
			if _, err := st.CreateTopic(context.Background(), name, 1, nil, nil); err != nil {
				errs <- err
			}
			for i := 0; i < leaderChanges; i++ {
				if err := st.SetLeader(context.Background(), "shared", int32(w), int32(1+i%2)); err != nil {
					errs <- err
				}
			}
			if err := st.AlterTopicConfig(context.Background(), name, map[string]string{metadata.ConfigRetentionMs: strconv.Itoa(w)}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	shared := mustTopic(t, st, "shared")
	for _, p := range shared.Partitions {
		if p.LeaderEpoch != leaderChanges {
			t.Errorf("partition %d: epoch %d after %d leader changes", p.Partition, p.LeaderEpoch, leaderChanges)
		}
	}
	for w := 0; w < writers; w++ {
		tp := mustTopic(t, st, fmt.Sprintf("own-%d", w))
		if tp.Config.RetentionMs != int64(w) {
			t.Errorf("%s: retention.ms %d, want %d", tp.Name, tp.Config.RetentionMs, w)
		}
	}
	if got := len(st.Topics()); got != writers+1 {
		t.Errorf("%d topics, want %d", got, writers+1)
	}
}

// recorder collects watch notices.
type recorder struct {
	mu  sync.Mutex
	got []metadata.Topic
	ch  chan struct{} // signalled after each notice
}

func newRecorder() *recorder { return &recorder{ch: make(chan struct{}, 1000)} }

func (r *recorder) fn(tp metadata.Topic) {
	r.mu.Lock()
	r.got = append(r.got, tp)
	r.mu.Unlock()
	r.ch <- struct{}{}
}

func (r *recorder) notices() []metadata.Topic {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// wait returns once n notices arrived, failing the test after waitTimeout.
func (r *recorder) wait(t *testing.T, n int) []metadata.Topic {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		if got := r.notices(); len(got) >= n {
			return got
		}
		select {
		case <-r.ch:
		case <-deadline:
			t.Fatalf("got %d watch notices, want %d", len(r.notices()), n)
		}
	}
}

func (s *suite) testWatch(t *testing.T) {
	st := s.store(t)
	mustCreate(t, st, "before-watch", 1, nil, nil)
	a, b := newRecorder(), newRecorder()
	cancelA := st.Watch(a.fn)
	defer cancelA()
	// A callback may read the store without deadlocking.
	var inside []bool
	cancelB := st.Watch(func(tp metadata.Topic) {
		_, ok := st.Topic(tp.Name)
		inside = append(inside, ok)
		b.fn(tp)
	})
	defer cancelB()

	ctx := t.Context()
	created := mustCreate(t, st, "watched", 1, []int32{1, 2}, nil)
	if err := st.AlterTopicConfig(ctx, "watched", map[string]string{metadata.ConfigRetentionMs: "1"}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreatePartitions(ctx, "watched", 2); err != nil {
		t.Fatal(err)
	}
	if err := st.SetLeader(ctx, "watched", 1, 2); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteTopic(ctx, "watched"); err != nil {
		t.Fatal(err)
	}
	// Failed writes notify nobody.
	if _, err := st.CreateTopic(ctx, "before-watch", 1, nil, nil); err == nil {
		t.Fatal("duplicate create succeeded")
	}
	mustCreate(t, st, "last", 1, nil, nil)

	for _, r := range []*recorder{a, b} {
		got := r.wait(t, 6)
		if len(got) != 6 {
			t.Fatalf("%d notices, want 6: %v", len(got), names(got))
		}
		if !reflect.DeepEqual(got[0], created) {
			t.Errorf("create notice %+v, want %+v", got[0], created)
		}
		if got[1].Config.RetentionMs != 1 {
			t.Errorf("alter notice has retention.ms %d", got[1].Config.RetentionMs)
		}
		if len(got[2].Partitions) != 2 {
			t.Errorf("partitions notice has %d partitions", len(got[2].Partitions))
		}
		if p := got[3].Partitions[1]; p.Leader != 2 || p.LeaderEpoch != 1 {
			t.Errorf("leader notice has %+v", p)
		}
		if !got[4].Deleted() || got[4].Name != "watched" || got[4].ID != created.ID {
			t.Errorf("delete notice %+v, want a deletion of watched with its id", got[4])
		}
		if got[5].Name != "last" || got[5].Deleted() {
			t.Errorf("last notice %+v", got[5])
		}
		for _, tp := range got {
			if !tp.Deleted() {
				checkTopic(t, tp)
			}
		}
	}
	if len(inside) != 6 {
		t.Errorf("callback ran %d times", len(inside))
	}
}

func (s *suite) testWatchCancel(t *testing.T) {
	st := s.store(t)
	kept, cancelled := newRecorder(), newRecorder()
	cancelKept := st.Watch(kept.fn)
	defer cancelKept()
	cancel := st.Watch(cancelled.fn)

	mustCreate(t, st, "one", 1, nil, nil)
	cancelled.wait(t, 1)
	cancel()
	cancel() // idempotent
	mustCreate(t, st, "two", 1, nil, nil)
	mustCreate(t, st, "three", 1, nil, nil)
	kept.wait(t, 3)
	if got := cancelled.notices(); len(got) != 1 {
		t.Errorf("cancelled watcher got %d notices (%v), want 1", len(got), names(got))
	}

	// cancel from inside the callback.
	self := newRecorder()
	var selfCancel func()
	var once sync.Once
	ready := make(chan struct{})
	selfCancel = st.Watch(func(tp metadata.Topic) {
		<-ready
		self.fn(tp)
		once.Do(selfCancel)
	})
	close(ready)
	mustCreate(t, st, "four", 1, nil, nil)
	self.wait(t, 1)
	mustCreate(t, st, "five", 1, nil, nil)
	kept.wait(t, 5)
	if got := self.notices(); len(got) != 1 {
		t.Errorf("watcher that cancelled itself got %d notices", len(got))
	}
}

func (s *suite) testProducerIDs(t *testing.T) {
	st := s.store(t)
	ctx := t.Context()
	first, err := st.AllocateProducerIDs(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if first < 0 {
		t.Fatalf("first producer id %d is negative", first)
	}
	second, err := st.AllocateProducerIDs(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	third, err := st.AllocateProducerIDs(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	checkDisjoint(t, []block{{first, 1}, {second, 1000}, {third, 1}})
	for _, n := range []int64{0, -1} {
		_, err := st.AllocateProducerIDs(ctx, n)
		wantErr(t, fmt.Sprintf("AllocateProducerIDs(%d)", n), err, metadata.ErrInvalidArgument, errcode.InvalidRequest)
	}
}

type block struct{ first, n int64 }

func checkDisjoint(t *testing.T, blocks []block) {
	t.Helper()
	sort.Slice(blocks, func(i, j int) bool { return blocks[i].first < blocks[j].first })
	for i, b := range blocks {
		if b.first < 0 || b.first+b.n < b.first {
			t.Fatalf("block %+v out of range", b)
		}
		if i > 0 && blocks[i-1].first+blocks[i-1].n > b.first {
			t.Fatalf("producer id blocks overlap: %+v and %+v", blocks[i-1], b)
		}
	}
}

func (s *suite) testProducerIDsConcurrent(t *testing.T) {
	st := s.store(t)
	const goroutines, each = 8, 25
	var (
		mu     sync.Mutex
		blocks []block
		wg     sync.WaitGroup
	)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				n := int64(1 + (g+i)%7)
				first, err := st.AllocateProducerIDs(context.Background(), n)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				blocks = append(blocks, block{first, n})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(blocks) != goroutines*each {
		t.Fatalf("%d blocks allocated, want %d", len(blocks), goroutines*each)
	}
	checkDisjoint(t, blocks)
}

func (s *suite) testKeyValue(t *testing.T) {
	st := s.store(t)
	ctx := t.Context()
	get := func(ns, key string) ([]byte, bool) {
		t.Helper()
		v, ok, err := st.Get(ctx, ns, key)
		if err != nil {
			t.Fatalf("Get(%q, %q): %v", ns, key, err)
		}
		return v, ok
	}
	if v, ok := get("txn", "producer-1"); ok || v != nil {
		t.Fatalf("Get of a missing key = %q, %v", v, ok)
	}
	val := []byte("state-1")
	if err := st.Put(ctx, "txn", "producer-1", val); err != nil {
		t.Fatal(err)
	}
	val[0] = 'X' // the store must have copied it
	if v, ok := get("txn", "producer-1"); !ok || string(v) != "state-1" {
		t.Fatalf("Get after Put = %q, %v", v, ok)
	}
	v, _ := get("txn", "producer-1")
	v[0] = 'Y' // the caller owns what Get returns
	if v, _ := get("txn", "producer-1"); string(v) != "state-1" {
		t.Fatalf("changing a returned value changed the store: %q", v)
	}
	if err := st.Put(ctx, "txn", "producer-1", []byte("state-2")); err != nil {
		t.Fatal(err)
	}
	if v, _ := get("txn", "producer-1"); string(v) != "state-2" {
		t.Fatalf("Get after overwrite = %q", v)
	}

	// The same key in another namespace is another record.
	if v, ok := get("groups", "producer-1"); ok {
		t.Fatalf("namespaces leak: %q", v)
	}
	if err := st.Put(ctx, "groups", "producer-1", []byte("other")); err != nil {
		t.Fatal(err)
	}
	if v, _ := get("txn", "producer-1"); string(v) != "state-2" {
		t.Fatalf("a Put in another namespace changed this one: %q", v)
	}

	// Empty values exist; nil is stored as empty.
	for _, empty := range [][]byte{{}, nil} {
		if err := st.Put(ctx, "txn", "empty", empty); err != nil {
			t.Fatal(err)
		}
		if v, ok := get("txn", "empty"); !ok || v == nil || len(v) != 0 {
			t.Fatalf("Get of an empty value = %v (nil %v), %v; want non-nil empty, true", v, v == nil, ok)
		}
	}

	// Binary keys and values survive unchanged.
	binKey, binVal := "k\x00\xff/é", []byte{0, 1, 0xff, 0}
	if err := st.Put(ctx, "txn", binKey, binVal); err != nil {
		t.Fatal(err)
	}
	if v, ok := get("txn", binKey); !ok || !bytes.Equal(v, binVal) {
		t.Fatalf("binary record = %v, %v", v, ok)
	}
	big := bytes.Repeat([]byte{7}, metadata.MaxValueLen)
	if err := st.Put(ctx, "txn", "big", big); err != nil {
		t.Fatalf("Put of MaxValueLen bytes: %v", err)
	}
	if v, _ := get("txn", "big"); !bytes.Equal(v, big) {
		t.Fatal("MaxValueLen value changed")
	}
	longKey := strings.Repeat("k", metadata.MaxKeyLen)
	if err := st.Put(ctx, "txn", longKey, val); err != nil {
		t.Fatalf("Put with a MaxKeyLen key: %v", err)
	}

	if err := st.Delete(ctx, "txn", "producer-1"); err != nil {
		t.Fatal(err)
	}
	if _, ok := get("txn", "producer-1"); ok {
		t.Fatal("Get finds a deleted key")
	}
	if err := st.Delete(ctx, "txn", "producer-1"); err != nil {
		t.Fatalf("deleting a missing key: %v", err)
	}
	if err := st.Delete(ctx, "never-used", "k"); err != nil {
		t.Fatalf("deleting in a never-used namespace: %v", err)
	}
	if v, _ := get("groups", "producer-1"); string(v) != "other" {
		t.Fatalf("Delete reached another namespace: %q", v)
	}
}

func (s *suite) testKeyValueInvalid(t *testing.T) {
	st := s.store(t)
	ctx := t.Context()
	badNamespaces := []string{"", "a/b", "a b", "ns\x00", strings.Repeat("n", metadata.MaxNamespaceLen+1)}
	badKeys := []string{"", strings.Repeat("k", metadata.MaxKeyLen+1)}
	type call struct {
		ns, key string
	}
	var calls []call
	for _, ns := range badNamespaces {
		calls = append(calls, call{ns, "k"})
	}
	for _, k := range badKeys {
		calls = append(calls, call{"ns", k})
	}
	for _, c := range calls {
		what := fmt.Sprintf("namespace %q, key of %d bytes", c.ns, len(c.key))
		_, _, err := st.Get(ctx, c.ns, c.key)
		wantErr(t, "Get: "+what, err, metadata.ErrInvalidArgument, errcode.InvalidRequest)
		err = st.Put(ctx, c.ns, c.key, []byte("v"))
		wantErr(t, "Put: "+what, err, metadata.ErrInvalidArgument, errcode.InvalidRequest)
		err = st.Delete(ctx, c.ns, c.key)
		wantErr(t, "Delete: "+what, err, metadata.ErrInvalidArgument, errcode.InvalidRequest)
		_, err = st.CompareAndSwap(ctx, c.ns, c.key, nil, []byte("v"))
		wantErr(t, "CompareAndSwap: "+what, err, metadata.ErrInvalidArgument, errcode.InvalidRequest)
	}
	for _, ns := range badNamespaces {
		_, err := st.List(ctx, ns, "")
		wantErr(t, fmt.Sprintf("List(%q)", ns), err, metadata.ErrInvalidArgument, errcode.InvalidRequest)
	}
	tooBig := make([]byte, metadata.MaxValueLen+1)
	err := st.Put(ctx, "ns", "k", tooBig)
	wantErr(t, "Put of a value over MaxValueLen", err, metadata.ErrInvalidArgument, errcode.InvalidRequest)
	_, err = st.CompareAndSwap(ctx, "ns", "k", nil, tooBig)
	wantErr(t, "CompareAndSwap of a value over MaxValueLen", err, metadata.ErrInvalidArgument, errcode.InvalidRequest)
	if all, err := st.List(ctx, "ns", ""); err != nil || len(all) != 0 {
		t.Fatalf("rejected calls stored something: %v, %v", all, err)
	}
}

func (s *suite) testCompareAndSwap(t *testing.T) {
	st := s.store(t)
	ctx := t.Context()
	const ns, key = "cas", "k"
	steps := []struct {
		old, new []byte
		swapped  bool
		after    []byte // nil = absent
	}{
		{nil, nil, true, nil},                                // absent and stays absent
		{[]byte("x"), []byte("v1"), false, nil},              // must exist: it does not
		{[]byte{}, []byte("v1"), false, nil},                 // must exist empty: it does not
		{[]byte("v1"), nil, false, nil},                      // delete a missing key
		{nil, []byte("v1"), true, []byte("v1")},              // create if absent
		{nil, []byte("v2"), false, []byte("v1")},             // create if absent: it exists
		{nil, nil, false, []byte("v1")},                      // must be absent: it exists
		{[]byte("wrong"), []byte("v2"), false, []byte("v1")}, // mismatch
		{[]byte("v"), []byte("v2"), false, []byte("v1")},     // a prefix is not equal
		{[]byte{}, []byte("v2"), false, []byte("v1")},        // empty is not v1
		{[]byte("v1"), []byte("v2"), true, []byte("v2")},     // swap
		{[]byte("v2"), []byte("v2"), true, []byte("v2")},     // swap to the same value
		{[]byte("v2"), nil, true, nil},                       // delete
		{nil, []byte{}, true, []byte{}},                      // create an empty value
		{nil, []byte("v3"), false, []byte{}},                 // an empty value exists
		{[]byte{}, []byte("v3"), true, []byte("v3")},         // swap from empty
		{[]byte("v3"), bytes.Repeat([]byte("z"), 4096), true, bytes.Repeat([]byte("z"), 4096)},
	}
	for i, step := range steps {
		ok, err := st.CompareAndSwap(ctx, ns, key, step.old, step.new)
		if err != nil {
			t.Fatalf("step %d: CompareAndSwap(%q, %q): %v", i, step.old, step.new, err)
		}
		if ok != step.swapped {
			t.Fatalf("step %d: CompareAndSwap(%q, %q) = %v, want %v", i, step.old, step.new, ok, step.swapped)
		}
		want := step.after
		v, found, err := st.Get(ctx, ns, key)
		if err != nil {
			t.Fatal(err)
		}
		if found != (want != nil) || !bytes.Equal(v, want) {
			t.Fatalf("step %d: value after is %q (found %v), want %q (found %v)", i, v, found, want, want != nil)
		}
	}
	// The inputs are copied.
	newVal := []byte("mine")
	if ok, err := st.CompareAndSwap(ctx, ns, "copy", nil, newVal); err != nil || !ok {
		t.Fatalf("CompareAndSwap create: %v, %v", ok, err)
	}
	newVal[0] = 'X'
	if v, _, _ := st.Get(ctx, ns, "copy"); string(v) != "mine" {
		t.Fatalf("store kept the caller's slice: %q", v)
	}
}

func (s *suite) testCompareAndSwapConcurrent(t *testing.T) {
	st := s.store(t)
	const goroutines, increments = 8, 20
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		successes int
	)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for i := 0; i < increments; {
				cur, found, err := st.Get(ctx, "counters", "c")
				if err != nil {
					t.Error(err)
					return
				}
				n := 0
				var old []byte
				if found {
					old = cur
					if n, err = strconv.Atoi(string(cur)); err != nil {
						t.Errorf("counter holds %q", cur)
						return
					}
				}
				ok, err := st.CompareAndSwap(ctx, "counters", "c", old, []byte(strconv.Itoa(n+1)))
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					i++
					mu.Lock()
					successes++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	v, _, err := st.Get(context.Background(), "counters", "c")
	if err != nil {
		t.Fatal(err)
	}
	if string(v) != strconv.Itoa(goroutines*increments) || successes != goroutines*increments {
		t.Fatalf("counter %q after %d successful swaps, want %d: a compare-and-swap lost an update", v, successes, goroutines*increments)
	}
}

func (s *suite) testList(t *testing.T) {
	st := s.store(t)
	ctx := t.Context()
	records := map[string]string{"g1/a": "1", "g1/b": "2", "g10/x": "3", "g2/a": "4", "g1": "5"}
	for k, v := range records {
		if err := st.Put(ctx, "offsets", k, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Put(ctx, "other", "g1/z", []byte("6")); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		ns, prefix string
		want       []string
	}{
		{"offsets", "g1/", []string{"g1/a", "g1/b"}},
		{"offsets", "g1", []string{"g1", "g1/a", "g1/b", "g10/x"}},
		{"offsets", "", []string{"g1", "g1/a", "g1/b", "g10/x", "g2/a"}},
		{"offsets", "g1/a", []string{"g1/a"}},
		{"offsets", "zzz", nil},
		{"offsets", "g1/a/", nil},
		{"other", "", []string{"g1/z"}},
		{"never-used", "", nil},
	}
	for _, c := range cases {
		got, err := st.List(ctx, c.ns, c.prefix)
		if err != nil {
			t.Fatalf("List(%q, %q): %v", c.ns, c.prefix, err)
		}
		if got == nil {
			t.Errorf("List(%q, %q) returned a nil map", c.ns, c.prefix)
		}
		keys := slices.Sorted(maps.Keys(got))
		if !slices.Equal(keys, c.want) {
			t.Errorf("List(%q, %q) keys = %v, want %v", c.ns, c.prefix, keys, c.want)
		}
		for k, v := range got {
			want := records[k]
			if c.ns == "other" {
				want = "6"
			}
			if string(v) != want {
				t.Errorf("List(%q, %q)[%q] = %q, want %q", c.ns, c.prefix, k, v, want)
			}
		}
	}
	got, _ := st.List(ctx, "offsets", "g1/")
	got["g1/a"][0] = 'X'
	if v, _, _ := st.Get(ctx, "offsets", "g1/a"); string(v) != "1" {
		t.Fatalf("changing a listed value changed the store: %q", v)
	}
	if err := st.Delete(ctx, "offsets", "g1/a"); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.List(ctx, "offsets", "g1/"); len(got) != 1 {
		t.Fatalf("List after Delete = %v", got)
	}
}

func (s *suite) testCancelledContext(t *testing.T) {
	st := s.store(t)
	mustCreate(t, st, "exists", 1, []int32{1, 2}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v, want context.Canceled", what, err)
		}
	}
	_, err := st.CreateTopic(ctx, "new", 1, nil, nil)
	check("CreateTopic", err)
	check("DeleteTopic", st.DeleteTopic(ctx, "exists"))
	check("AlterTopicConfig", st.AlterTopicConfig(ctx, "exists", map[string]string{metadata.ConfigRetentionMs: "1"}))
	check("CreatePartitions", st.CreatePartitions(ctx, "exists", 2))
	check("SetLeader", st.SetLeader(ctx, "exists", 0, 2))
	_, err = st.AllocateProducerIDs(ctx, 1)
	check("AllocateProducerIDs", err)
	_, _, err = st.Get(ctx, "ns", "k")
	check("Get", err)
	check("Put", st.Put(ctx, "ns", "k", []byte("v")))
	check("Delete", st.Delete(ctx, "ns", "k"))
	_, err = st.CompareAndSwap(ctx, "ns", "k", nil, []byte("v"))
	check("CompareAndSwap", err)
	_, err = st.List(ctx, "ns", "")
	check("List", err)

	if _, ok := st.Topic("new"); ok {
		t.Error("a cancelled CreateTopic created the topic")
	}
	tp := mustTopic(t, st, "exists")
	if len(tp.Partitions) != 1 || tp.Partitions[0].LeaderEpoch != 0 || len(tp.Overrides) != 0 {
		t.Errorf("cancelled writes changed the topic: %+v", tp)
	}
	if _, ok, err := st.Get(context.Background(), "ns", "k"); ok || err != nil {
		t.Errorf("a cancelled Put stored the record (%v, %v)", ok, err)
	}
}

func (s *suite) testClose(t *testing.T) {
	st := s.open(t)
	ctx := t.Context()
	mustCreate(t, st, "t", 1, nil, nil)
	if err := st.Put(ctx, "ns", "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	r := newRecorder()
	st.Watch(r.fn)
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, metadata.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", what, err)
		}
	}
	_, err := st.CreateTopic(ctx, "new", 1, nil, nil)
	check("CreateTopic", err)
	check("DeleteTopic", st.DeleteTopic(ctx, "t"))
	check("AlterTopicConfig", st.AlterTopicConfig(ctx, "t", nil))
	check("CreatePartitions", st.CreatePartitions(ctx, "t", 2))
	check("SetLeader", st.SetLeader(ctx, "t", 0, -1))
	_, err = st.AllocateProducerIDs(ctx, 1)
	check("AllocateProducerIDs", err)
	_, _, err = st.Get(ctx, "ns", "k")
	check("Get", err)
	check("Put", st.Put(ctx, "ns", "k", []byte("v")))
	check("Delete", st.Delete(ctx, "ns", "k"))
	_, err = st.CompareAndSwap(ctx, "ns", "k", []byte("v"), nil)
	check("CompareAndSwap", err)
	_, err = st.List(ctx, "ns", "")
	check("List", err)
	if _, ok := st.Topic("t"); ok {
		t.Error("Topic answers after Close")
	}
	if got := st.Topics(); len(got) != 0 {
		t.Errorf("Topics after Close = %v", names(got))
	}
	cancel := st.Watch(func(metadata.Topic) { t.Error("watch callback after Close") })
	if cancel == nil {
		t.Fatal("Watch after Close returned a nil cancel")
	}
	cancel()
	if got := r.notices(); len(got) != 0 {
		t.Errorf("watcher registered before Close got %v", names(got))
	}
}

func (s *suite) testDurableTopics(t *testing.T) {
	s.needDurable(t)
	st := s.open(t)
	ctx := t.Context()
	mustCreate(t, st, "durable", 2, []int32{4, 5}, map[string]string{metadata.ConfigCleanupPolicy: "compact,delete", metadata.ConfigSearchFields: "a"})
	mustCreate(t, st, "gone", 1, nil, nil)
	mustCreate(t, st, "grown.topic", 1, []int32{7}, nil)
	if err := st.SetLeader(ctx, "durable", 1, 5); err != nil {
		t.Fatal(err)
	}
	if err := st.CreatePartitions(ctx, "grown.topic", 3); err != nil {
		t.Fatal(err)
	}
	if err := st.AlterTopicConfig(ctx, "durable", map[string]string{metadata.ConfigRetentionBytes: "1048576", metadata.ConfigSearchEnabled: "false"}); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteTopic(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	before := st.Topics()

	st = s.reopened(t, st)
	after := st.Topics()
	if !reflect.DeepEqual(after, before) {
		t.Fatalf("topics after reopen:\n%+v\nwant\n%+v", after, before)
	}
	for _, tp := range after {
		checkTopic(t, tp)
	}
	// The reopened store keeps enforcing what it loaded.
	_, err := st.CreateTopic(ctx, "durable", 1, nil, nil)
	wantErr(t, "create over a reloaded topic", err, metadata.ErrTopicExists, errcode.TopicAlreadyExists)
	_, err = st.CreateTopic(ctx, "grown_topic", 1, nil, nil)
	wantErr(t, "collision with a reloaded topic", err, metadata.ErrInvalidTopic, errcode.InvalidTopicException)
	if err := st.SetLeader(ctx, "durable", 1, 4); err != nil {
		t.Fatal(err)
	}
	if p := mustTopic(t, st, "durable").Partitions[1]; p.Leader != 4 || p.LeaderEpoch != 2 {
		t.Errorf("leader epoch did not continue from the stored one: %+v", p)
	}
	r := newRecorder()
	defer st.Watch(r.fn)()
	mustCreate(t, st, "after-reopen", 1, nil, nil)
	if got := r.wait(t, 1); got[0].Name != "after-reopen" {
		t.Errorf("watch on the reopened store: %v", names(got))
	}
	st = s.reopened(t, st)
	if got := names(st.Topics()); !slices.Equal(got, []string{"after-reopen", "durable", "grown.topic"}) {
		t.Errorf("topics after second reopen = %v", got)
	}
}

func (s *suite) testDurableProducerIDs(t *testing.T) {
	s.needDurable(t)
	st := s.open(t)
	var blocks []block
	alloc := func(n int64) {
		t.Helper()
		first, err := st.AllocateProducerIDs(t.Context(), n)
		if err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, block{first, n})
	}
	alloc(1000)
	alloc(1)
	st = s.reopened(t, st)
	alloc(1000)
	st = s.reopened(t, st)
	alloc(5)
	checkDisjoint(t, blocks)
}

func (s *suite) testDurableKeyValue(t *testing.T) {
	s.needDurable(t)
	st := s.open(t)
	ctx := t.Context()
	if err := st.Put(ctx, "txn", "a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, "txn", "empty", nil); err != nil {
		t.Fatal(err)
	}
	if ok, err := st.CompareAndSwap(ctx, "txn", "b", nil, []byte("2")); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if err := st.Put(ctx, "txn", "deleted", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, "txn", "deleted"); err != nil {
		t.Fatal(err)
	}
	st = s.reopened(t, st)
	got, err := st.List(ctx, "txn", "")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{"a": []byte("1"), "b": []byte("2"), "empty": {}}
	if !maps.EqualFunc(got, want, bytes.Equal) {
		t.Fatalf("records after reopen = %q, want %q", got, want)
	}
	if ok, err := st.CompareAndSwap(ctx, "txn", "b", []byte("2"), []byte("3")); err != nil || !ok {
		t.Fatalf("CompareAndSwap on a reloaded record: %v, %v", ok, err)
	}
}
