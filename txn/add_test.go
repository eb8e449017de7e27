package txn

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/chronik-go/chronik/errcode"
)

// TestAddPartitionsStates covers kafka-semantics.md §4.3 (client form)
// case by case, checking the code of every partition and the stored record.
func TestAddPartitionsStates(t *testing.T) {
	cases := []struct {
		name    string
		version int16
		id      string
		setup   func(e *env) client
		req     func(c client) (int64, int16) // producer id and epoch sent
		parts   map[string][]int32
		want    map[string]map[int32]errcode.Code // nil: every partition wantAll
		wantAll errcode.Code
		check   func(t *testing.T, e *env, c client, before *record)
	}{
		{
			name: "unknown partition: nothing added, the others not attempted", version: 3, id: "tx",
			setup: func(e *env) client { p, ep := e.init("tx"); return client{p, ep} },
			parts: map[string][]int32{"t": {0, 9}, "missing": {0}, "u": {1}},
			want: map[string]map[int32]errcode.Code{
				"t":       {0: errcode.OperationNotAttempted, 9: errcode.UnknownTopicOrPartition},
				"missing": {0: errcode.UnknownTopicOrPartition},
				"u":       {1: errcode.OperationNotAttempted},
			},
			check: unchanged,
		},
		{
			name: "empty transactional id", version: 3, id: "",
			parts: map[string][]int32{"t": {0}}, wantAll: errcode.InvalidRequest,
		},
		{
			name: "unknown transactional id", version: 3, id: "tx",
			req:   func(client) (int64, int16) { return 1, 0 },
			parts: map[string][]int32{"t": {0}}, wantAll: errcode.InvalidProducerIDMapping,
		},
		{
			name: "another producer id", version: 3, id: "tx",
			setup: func(e *env) client { p, ep := e.init("tx"); return client{p, ep} },
			req:   func(c client) (int64, int16) { return c.pid + 1, c.epoch },
			parts: map[string][]int32{"t": {0}}, wantAll: errcode.InvalidProducerIDMapping, check: unchanged,
		},
		{
			name: "another epoch, v2: PRODUCER_FENCED", version: 2, id: "tx",
			setup: func(e *env) client { p, ep := e.init("tx"); return client{p, ep} },
			req:   func(c client) (int64, int16) { return c.pid, c.epoch + 1 },
			parts: map[string][]int32{"t": {0}}, wantAll: errcode.ProducerFenced, check: unchanged,
		},
		{
			name: "another epoch, v1: INVALID_PRODUCER_EPOCH", version: 1, id: "tx",
			setup: func(e *env) client { p, ep := e.init("tx"); return client{p, ep} },
			req:   func(c client) (int64, int16) { return c.pid, c.epoch - 1 },
			parts: map[string][]int32{"t": {0}}, wantAll: errcode.InvalidProducerEpoch, check: unchanged,
		},
		{
			name: "PrepareCommit: CONCURRENT_TRANSACTIONS", version: 3, id: "tx",
			setup: func(e *env) client {
				p, ep := e.begin("tx", 0)
				e.prepare("tx", p, ep, true)
				return client{p, ep}
			},
			parts: map[string][]int32{"t": {1}}, wantAll: errcode.ConcurrentTransactions, check: unchanged,
		},
		{
			name: "PrepareAbort: CONCURRENT_TRANSACTIONS", version: 0, id: "tx",
			setup: func(e *env) client {
				p, ep := e.begin("tx", 0)
				e.prepare("tx", p, ep, false)
				return client{p, ep}
			},
			parts: map[string][]int32{"t": {1}}, wantAll: errcode.ConcurrentTransactions, check: unchanged,
		},
		{
			name: "Empty: Ongoing, started now", version: 3, id: "tx",
			setup: func(e *env) client { p, ep := e.init("tx"); return client{p, ep} },
			parts: map[string][]int32{"t": {3, 1, 3}, "u": {0}}, wantAll: errcode.None,
			check: func(t *testing.T, e *env, c client, _ *record) {
				r := e.stored("tx")
				if r.state != Ongoing || r.startMs != e.clock.Now().UnixMilli() || r.epoch != c.epoch {
					t.Fatalf("stored %+v", r)
				}
				want := map[string][]int32{"t": {1, 3}, "u": {0}}
				if !maps.EqualFunc(r.partitions, want, slices.Equal) {
					t.Fatalf("partitions %v, want %v", r.partitions, want)
				}
			},
		},
		{
			name: "Ongoing: union, start time kept", version: 3, id: "tx",
			setup: func(e *env) client {
				p, ep := e.begin("tx", 0, 2)
				e.clock.Advance(time.Second)
				return client{p, ep}
			},
			parts: map[string][]int32{"t": {1, 2}}, wantAll: errcode.None,
			check: func(t *testing.T, e *env, _ client, before *record) {
				r := e.stored("tx")
				if r.state != Ongoing || r.startMs != before.startMs || r.updateMs != before.updateMs+1000 {
					t.Fatalf("stored %+v", r)
				}
				if !slices.Equal(r.partitions["t"], []int32{0, 1, 2}) {
					t.Fatalf("partitions %v", r.partitions)
				}
			},
		},
		{
			name: "Ongoing, every partition already in: NONE without a write", version: 3, id: "tx",
			setup: func(e *env) client { p, ep := e.begin("tx", 0, 2); return client{p, ep} },
			parts: map[string][]int32{"t": {2}}, wantAll: errcode.None,
			check: func(t *testing.T, e *env, _ client, before *record) {
				unchanged(t, e, client{}, before)
			},
		},
		{
			name: "CompleteCommit: a new transaction with only the new partitions", version: 3, id: "tx",
			setup: func(e *env) client {
				p, ep := e.begin("tx", 0, 2)
				e.end("tx", p, ep, true, errcode.None)
				e.clock.Advance(time.Second)
				return client{p, ep}
			},
			parts: map[string][]int32{"t": {5}}, wantAll: errcode.None,
			check: func(t *testing.T, e *env, _ client, before *record) {
				r := e.stored("tx")
				if r.state != Ongoing || r.startMs != e.clock.Now().UnixMilli() || !slices.Equal(r.partitions["t"], []int32{5}) {
					t.Fatalf("stored %+v", r)
				}
			},
		},
		{
			name: "CompleteAbort: a new transaction", version: 3, id: "tx",
			setup: func(e *env) client {
				p, ep := e.begin("tx", 0)
				e.end("tx", p, ep, false, errcode.None)
				return client{p, ep}
			},
			parts: map[string][]int32{"t": {1}}, wantAll: errcode.None,
			check: func(t *testing.T, e *env, _ client, _ *record) {
				if r := e.stored("tx"); r.state != Ongoing || !slices.Equal(r.partitions["t"], []int32{1}) {
					t.Fatalf("stored %+v", r)
				}
			},
		},
		{
			name: "broker form (v4) not served", version: 4, id: "tx",
			parts: map[string][]int32{"t": {0}}, wantAll: errcode.UnsupportedVersion,
		},
	}
	for _, kind := range storeKinds {
		for _, tc := range cases {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				e := newEnv(t, kind, nil)
				var c client
				if tc.setup != nil {
					c = tc.setup(e)
				}
				pid, epoch := c.pid, c.epoch
				if tc.req != nil {
					pid, epoch = tc.req(c)
				}
				before := e.stored("tx")
				casBefore := e.store.cas.Load()
				got := e.c.AddPartitions(bg, tc.version, tc.id, pid, epoch, tc.parts)
				want := tc.want
				if want == nil {
					want = map[string]map[int32]errcode.Code{}
					for topic, ps := range tc.parts {
						want[topic] = map[int32]errcode.Code{}
						for _, p := range ps {
							want[topic][p] = tc.wantAll
						}
					}
				}
				if !maps.EqualFunc(got, want, maps.Equal) {
					t.Fatalf("got %v, want %v", got, want)
				}
				if tc.wantAll != errcode.None && e.store.cas.Load() != casBefore {
					t.Fatalf("a failed request wrote a record")
				}
				if tc.check != nil {
					tc.check(t, e, c, before)
				}
			})
		}
	}
}

// client is the producer id and epoch a client holds.
type client struct {
	pid   int64
	epoch int16
}

// unchanged checks the stored record is the one before the request.
func unchanged(t *testing.T, e *env, _ client, before *record) {
	t.Helper()
	after := e.stored("tx")
	if before == nil || after == nil {
		if before != after {
			t.Fatalf("record went from %+v to %+v", before, after)
		}
		return
	}
	a, _ := encodeRecord(before)
	b, _ := encodeRecord(after)
	if string(a) != string(b) {
		t.Fatalf("record went from %+v to %+v", before, after)
	}
}

func TestAddOffsets(t *testing.T) {
	e := newEnv(t, "memory", nil)
	pid, epoch := e.init("tx")
	cases := []struct {
		name    string
		version int16
		id      string
		pid     int64
		epoch   int16
		want    errcode.Code
	}{
		{"empty id", 3, "", pid, epoch, errcode.InvalidRequest},
		{"unknown id", 3, "nope", pid, epoch, errcode.InvalidProducerIDMapping},
		{"another producer id", 3, "tx", pid + 1, epoch, errcode.InvalidProducerIDMapping},
		{"another epoch v2", 2, "tx", pid, epoch + 1, errcode.ProducerFenced},
		{"another epoch v1", 1, "tx", pid, epoch + 1, errcode.InvalidProducerEpoch},
		{"unsupported version", 5, "tx", pid, epoch, errcode.UnsupportedVersion},
	}
	for _, tc := range cases {
		if got := e.c.AddOffsets(bg, tc.version, tc.id, tc.pid, tc.epoch, "g1"); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if r := e.stored("tx"); r.state != Empty {
		t.Fatalf("stored %+v", r)
	}
	// From Empty: Ongoing with the group and no partitions.
	if got := e.c.AddOffsets(bg, 3, "tx", pid, epoch, "g1"); got != errcode.None {
		t.Fatal(got)
	}
	if got := e.c.AddOffsets(bg, 3, "tx", pid, epoch, ""); got != errcode.None {
		t.Fatal(got)
	}
	r := e.stored("tx")
	if r.state != Ongoing || !slices.Equal(r.groups, []string{"", "g1"}) || len(r.partitions) != 0 {
		t.Fatalf("stored %+v", r)
	}
	// Again: already in, no write.
	n := e.store.cas.Load()
	if got := e.c.AddOffsets(bg, 3, "tx", pid, epoch, "g1"); got != errcode.None || e.store.cas.Load() != n {
		t.Fatalf("repeat = %v, writes %d", got, e.store.cas.Load()-n)
	}
	// Partitions and groups together; EndTxn clears both.
	e.add("tx", pid, epoch, 4)
	r = e.stored("tx")
	if !slices.Equal(r.groups, []string{"", "g1"}) || !slices.Equal(r.partitions["t"], []int32{4}) {
		t.Fatalf("stored %+v", r)
	}
	e.end("tx", pid, epoch, true, errcode.None)
	if r := e.stored("tx"); r.state != CompleteCommit || r.groups != nil || r.partitions != nil {
		t.Fatalf("stored %+v", r)
	}
}

// TestVerify covers the produce-side check, kafka-semantics.md §4.8.
func TestVerify(t *testing.T) {
	e := newEnv(t, "memory", nil)
	pid, epoch := e.begin("tx", 0, 1)
	other, _ := e.init("other")
	checks := []struct {
		name      string
		id        string
		pid       int64
		epoch     int16
		topic     string
		partition int32
		want      errcode.Code
	}{
		{"in the transaction", "tx", pid, epoch, "t", 1, errcode.None},
		{"partition not added", "tx", pid, epoch, "t", 2, errcode.InvalidTxnState},
		{"topic not added", "tx", pid, epoch, "u", 0, errcode.InvalidTxnState},
		{"unknown id", "nope", pid, epoch, "t", 0, errcode.InvalidProducerIDMapping},
		{"another producer id", "tx", other, epoch, "t", 0, errcode.InvalidProducerIDMapping},
		{"older epoch", "tx", pid, epoch - 1, "t", 0, errcode.InvalidProducerEpoch},
		{"newer epoch", "tx", pid, epoch + 1, "t", 0, errcode.InvalidProducerEpoch},
		{"no transaction open", "other", other, 0, "t", 0, errcode.InvalidTxnState},
	}
	for _, c := range checks {
		if got := e.c.Verify(c.id, c.pid, c.epoch, c.topic, c.partition); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	// Being ended: retriable.
	e.prepare("tx", pid, epoch, true)
	if got := e.c.Verify("tx", pid, epoch, "t", 0); got != errcode.NotEnoughReplicas {
		t.Errorf("PrepareCommit: %v", got)
	}
	e.releaseMarkers()
	e.waitState("tx", CompleteCommit)
	if got := e.c.Verify("tx", pid, epoch, "t", 0); got != errcode.InvalidTxnState {
		t.Errorf("CompleteCommit: %v", got)
	}
	e.c.Close()
	if got := e.c.Verify("tx", pid, epoch, "t", 0); got != errcode.NotEnoughReplicas {
		t.Errorf("after Close: %v", got)
	}
}
