package txn

import (
	"strings"
	"testing"
	"time"

	"github.com/chronik-go/chronik/errcode"
)

func offs(topic string, partition int32, offset int64) map[string]map[int32]OffsetAndMetadata {
	return map[string]map[int32]OffsetAndMetadata{topic: {partition: {Offset: offset, LeaderEpoch: 3, Metadata: "m"}}}
}

// fetched returns the offset and code of topic/partition for group.
func fetched(t *testing.T, e *env, group, topic string, partition int32, stable bool) (int64, errcode.Code) {
	t.Helper()
	res, code := e.c.FetchOffsets(bg, group, map[string][]int32{topic: {partition}}, stable)
	if code != errcode.None {
		t.Fatalf("FetchOffsets = %v", code)
	}
	o := res[topic][partition]
	return o.Offset, o.Code
}

func commitOK(t *testing.T, res map[string]map[int32]errcode.Code) {
	t.Helper()
	for topic, ps := range res {
		for p, code := range ps {
			if code != errcode.None {
				t.Fatalf("%s/%d: %v", topic, p, code)
			}
		}
	}
}

// Offsets committed in a transaction are invisible until it commits
// (UNSTABLE_OFFSET_COMMIT with require_stable), then replace the committed
// ones.
func TestTxnOffsetCommitVisibleAfterCommit(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, kind, nil)
			commitOK(t, e.c.CommitOffsets(bg, "g", offs("t", 0, 10)))
			c := ongoing(e)
			if code := e.c.AddOffsets(bg, 3, "tx", c.pid, c.epoch, "g"); code != errcode.None {
				t.Fatal(code)
			}
			commitOK(t, e.c.TxnOffsetCommit(bg, 3, "tx", c.pid, c.epoch, "g", offs("t", 0, 20)))
			if o, code := fetched(t, e, "g", "t", 0, false); o != 10 || code != errcode.None {
				t.Fatalf("before commit: %d, %v", o, code)
			}
			if o, code := fetched(t, e, "g", "t", 0, true); o != -1 || code != errcode.UnstableOffsetCommit {
				t.Fatalf("before commit, require_stable: %d, %v", o, code)
			}
			if o, code := fetched(t, e, "g", "t", 1, true); o != -1 || code != errcode.None {
				t.Fatalf("another partition, require_stable: %d, %v", o, code)
			}
			e.end("tx", c.pid, c.epoch, true, errcode.None)
			for _, stable := range []bool{false, true} {
				if o, code := fetched(t, e, "g", "t", 0, stable); o != 20 || code != errcode.None {
					t.Fatalf("after commit (stable %v): %d, %v", stable, o, code)
				}
			}
			res, _ := e.c.FetchOffsets(bg, "g", nil, true)
			if got := res["t"][0]; got.LeaderEpoch != 3 || got.Metadata != "m" || len(res) != 1 {
				t.Fatalf("fetch all = %+v", res)
			}
		})
	}
}

func TestTxnOffsetCommitDiscardedAfterAbort(t *testing.T) {
	e := newEnv(t, "memory", nil)
	commitOK(t, e.c.CommitOffsets(bg, "g", offs("t", 0, 10)))
	c := ongoing(e)
	e.c.AddOffsets(bg, 3, "tx", c.pid, c.epoch, "g")
	commitOK(t, e.c.TxnOffsetCommit(bg, 3, "tx", c.pid, c.epoch, "g", offs("t", 0, 20)))
	commitOK(t, e.c.TxnOffsetCommit(bg, 3, "tx", c.pid, c.epoch, "g", offs("t", 5, 7)))
	e.end("tx", c.pid, c.epoch, false, errcode.None)
	if o, code := fetched(t, e, "g", "t", 0, true); o != 10 || code != errcode.None {
		t.Fatalf("after abort: %d, %v", o, code)
	}
	if o, code := fetched(t, e, "g", "t", 5, true); o != -1 || code != errcode.None {
		t.Fatalf("after abort: %d, %v", o, code)
	}
}

// A transaction aborted by its timeout drops its pending offsets.
func TestTxnOffsetCommitTimeoutAbort(t *testing.T) {
	e := newEnv(t, "memory", fastCleanup)
	c := ongoing(e)
	e.c.AddOffsets(bg, 3, "tx", c.pid, c.epoch, "g")
	commitOK(t, e.c.TxnOffsetCommit(bg, 3, "tx", c.pid, c.epoch, "g", offs("t", 0, 20)))
	e.clock.Advance(time.Hour)
	e.waitState("tx", CompleteAbort)
	if o, code := fetched(t, e, "g", "t", 0, true); o != -1 || code != errcode.None {
		t.Fatalf("after timeout: %d, %v", o, code)
	}
	if _, found, _ := e.store.Get(bg, offsetsNamespace, groupKey("g")); found {
		t.Fatal("an empty group record was kept")
	}
}

// Kafka orders commits of a group by their position in the offsets log: a
// plain commit made after the transaction's TxnOffsetCommit wins, one made
// before loses.
func TestTxnOffsetCommitOrdering(t *testing.T) {
	e := newEnv(t, "memory", nil)
	c := ongoing(e)
	e.c.AddOffsets(bg, 3, "tx", c.pid, c.epoch, "g")
	commitOK(t, e.c.CommitOffsets(bg, "g", offs("t", 0, 5)))
	commitOK(t, e.c.TxnOffsetCommit(bg, 3, "tx", c.pid, c.epoch, "g", map[string]map[int32]OffsetAndMetadata{
		"t": {0: {Offset: 20, LeaderEpoch: -1}, 1: {Offset: 21, LeaderEpoch: -1}},
	}))
	commitOK(t, e.c.CommitOffsets(bg, "g", offs("t", 1, 99)))
	e.end("tx", c.pid, c.epoch, true, errcode.None)
	if o, _ := fetched(t, e, "g", "t", 0, true); o != 20 {
		t.Fatalf("t/0 = %d, want the transaction's 20", o)
	}
	if o, _ := fetched(t, e, "g", "t", 1, true); o != 99 {
		t.Fatalf("t/1 = %d, want the later plain commit 99", o)
	}
}

// TxnOffsetCommit's checks, partition by partition and against the
// transaction.
func TestTxnOffsetCommitErrors(t *testing.T) {
	e := newEnv(t, "memory", nil)
	c := ongoing(e)
	other := ongoingAs(e, "tx2")
	e.c.AddOffsets(bg, 3, "tx2", other.pid, other.epoch, "g")
	long := strings.Repeat("x", MaxOffsetMetadataBytes+1)
	mixed := map[string]map[int32]OffsetAndMetadata{
		"t":       {0: {Offset: 1}, 1: {Offset: 2, Metadata: long}},
		"missing": {0: {Offset: 3}},
	}
	got := e.c.TxnOffsetCommit(bg, 3, "tx2", other.pid, other.epoch, "g", mixed)
	if got["t"][0] != errcode.None || got["t"][1] != errcode.OffsetMetadataTooLarge || got["missing"][0] != errcode.UnknownTopicOrPartition {
		t.Fatalf("mixed = %v", got)
	}
	cases := []struct {
		name    string
		version int16
		id      string
		pid     int64
		epoch   int16
		group   string
		want    errcode.Code
	}{
		{"empty group", 3, "tx", c.pid, c.epoch, "", errcode.InvalidGroupID},
		{"unsupported version", 5, "tx", c.pid, c.epoch, "g", errcode.UnsupportedVersion},
		{"unknown transactional id", 3, "nope", c.pid, c.epoch, "g", errcode.InvalidProducerIDMapping},
		{"empty transactional id", 3, "", c.pid, c.epoch, "g", errcode.InvalidProducerIDMapping},
		{"another producer id", 3, "tx", other.pid, c.epoch, "g", errcode.InvalidProducerIDMapping},
		{"another epoch", 3, "tx", c.pid, c.epoch + 1, "g", errcode.InvalidProducerEpoch},
		{"group not added, v3", 3, "tx", c.pid, c.epoch, "g", errcode.InvalidTxnState},
		{"group not added, v4", 4, "tx", c.pid, c.epoch, "g", errcode.TransactionAbortable},
	}
	for _, tc := range cases {
		got := e.c.TxnOffsetCommit(bg, tc.version, tc.id, tc.pid, tc.epoch, tc.group, offs("t", 0, 1))
		if got["t"][0] != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got["t"][0], tc.want)
		}
	}
	// Not Ongoing any more.
	e.c.AddOffsets(bg, 3, "tx", c.pid, c.epoch, "g")
	e.prepare("tx", c.pid, c.epoch, true)
	if got := e.c.TxnOffsetCommit(bg, 3, "tx", c.pid, c.epoch, "g", offs("t", 0, 1)); got["t"][0] != errcode.CoordinatorNotAvailable {
		t.Fatalf("PrepareCommit: %v", got)
	}
	e.releaseMarkers()
	e.waitState("tx", CompleteCommit)
	if got := e.c.TxnOffsetCommit(bg, 3, "tx", c.pid, c.epoch, "g", offs("t", 0, 1)); got["t"][0] != errcode.InvalidTxnState {
		t.Fatalf("CompleteCommit: %v", got)
	}
	// Nothing the failed calls sent became visible or pending.
	if o, code := fetched(t, e, "g", "t", 0, true); code != errcode.UnstableOffsetCommit || o != -1 {
		t.Fatalf("t/0 = %d, %v (tx2's pending offset only)", o, code)
	}
	e.end("tx2", other.pid, other.epoch, true, errcode.None)
	if o, code := fetched(t, e, "g", "t", 0, true); code != errcode.None || o != 1 {
		t.Fatalf("t/0 = %d, %v", o, code)
	}
}

func ongoingAs(e *env, id string) client {
	p, ep := e.init(id)
	e.add(id, p, ep, 0)
	return client{p, ep}
}

// Offsets survive a restart: pending ones stay pending, and a transaction
// left in PrepareCommit applies them when the new coordinator completes it.
func TestOffsetsAcrossRestart(t *testing.T) {
	b := newBoltEnv(t, nil)
	commitOK(t, b.c.CommitOffsets(bg, "", offs("t", 0, 1))) // the empty group id is valid here
	c := ongoing(b.env)
	b.c.AddOffsets(bg, 3, "tx", c.pid, c.epoch, "g")
	commitOK(t, b.c.TxnOffsetCommit(bg, 3, "tx", c.pid, c.epoch, "g", offs("t", 2, 30)))
	b.reopen()
	if o, code := fetched(t, b.env, "g", "t", 2, true); code != errcode.UnstableOffsetCommit {
		t.Fatalf("after restart: %d, %v", o, code)
	}
	if o, _ := fetched(t, b.env, "", "t", 0, false); o != 1 {
		t.Fatalf("empty group after restart: %d", o)
	}
	b.prepare("tx", c.pid, c.epoch, true)
	b.reopen()
	b.waitState("tx", CompleteCommit)
	if o, code := fetched(t, b.env, "g", "t", 2, true); o != 30 || code != errcode.None {
		t.Fatalf("after completion: %d, %v", o, code)
	}
}

func TestCommitOffsetsErrors(t *testing.T) {
	e := newEnv(t, "memory", nil)
	got := e.c.CommitOffsets(bg, "g", map[string]map[int32]OffsetAndMetadata{
		"t":       {0: {Offset: 1}, -1: {Offset: 1}, 1: {Offset: 1, Metadata: strings.Repeat("x", MaxOffsetMetadataBytes+1)}},
		"missing": {0: {Offset: 1}},
	})
	want := map[string]map[int32]errcode.Code{
		"t":       {0: errcode.None, -1: errcode.UnknownTopicOrPartition, 1: errcode.OffsetMetadataTooLarge},
		"missing": {0: errcode.UnknownTopicOrPartition},
	}
	for topic, ps := range want {
		for p, code := range ps {
			if got[topic][p] != code {
				t.Errorf("%s/%d = %v, want %v", topic, p, got[topic][p], code)
			}
		}
	}
	// A group record over the store's value limit.
	big := map[string]map[int32]OffsetAndMetadata{}
	e2 := newEnv(t, "memory", func(o *Options) { o.PartitionExists = nil })
	for i := range 400 {
		big[strings.Repeat("t", 200)+string(rune('a'+i%26))+strings.Repeat("p", i)] = map[int32]OffsetAndMetadata{0: {Offset: 1, Metadata: strings.Repeat("m", 4000)}}
	}
	for topic, ps := range e2.c.CommitOffsets(bg, "g", big) {
		if ps[0] != errcode.InvalidCommitOffsetSize {
			t.Fatalf("%s: %v", topic[:3], ps[0])
		}
	}
	// Store failures.
	e.store.Store.Close()
	if got := e.c.CommitOffsets(bg, "g", offs("t", 0, 1)); got["t"][0] != errcode.NotCoordinator {
		t.Fatalf("closed store: %v", got)
	}
	if _, code := e.c.FetchOffsets(bg, "g", nil, false); code != errcode.NotCoordinator {
		t.Fatalf("closed store fetch: %v", code)
	}
	e.c.Close()
	if _, code := e.c.FetchOffsets(bg, "g", nil, false); code != errcode.NotCoordinator {
		t.Fatalf("after Close: %v", code)
	}
}

// A corrupt group record: reads and commits answer UNKNOWN_SERVER_ERROR,
// and a transaction that added the group still completes.
func TestCorruptGroupRecord(t *testing.T) {
	e := newEnv(t, "memory", nil)
	c := ongoing(e)
	e.c.AddOffsets(bg, 3, "tx", c.pid, c.epoch, "g")
	if err := e.store.Put(bg, offsetsNamespace, groupKey("g"), []byte{1, 0, 0}); err != nil {
		t.Fatal(err)
	}
	if _, code := e.c.FetchOffsets(bg, "g", nil, false); code != errcode.UnknownServerError {
		t.Fatalf("FetchOffsets = %v", code)
	}
	if got := e.c.CommitOffsets(bg, "g", offs("t", 0, 1)); got["t"][0] != errcode.UnknownServerError {
		t.Fatalf("CommitOffsets = %v", got)
	}
	e.end("tx", c.pid, c.epoch, true, errcode.None)
}
