package produce

import (
	"encoding/binary"
	"hash/crc32"
	"testing"
	"time"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/record"
)

func idemBatch(t *testing.T, pid int64, epoch int16, seq int32, n int) []byte {
	s := newSpec(n)
	s.producerID, s.epoch, s.baseSequence = pid, epoch, seq
	return s.build(t)
}

func TestIdempotentDuplicateGetsOriginalOffset(t *testing.T) {
	e := newEnv(t, nil)
	e.topic("t", 1, nil)
	first := one(t, e.produce(9, -1, pr("t", 0, idemBatch(t, 1000, 0, 0, 3))))
	wantCode(t, first, errcode.None)
	wantCode(t, one(t, e.produce(9, -1, pr("t", 0, idemBatch(t, 1000, 0, 3, 2)))), errcode.None)
	// The retry of the first batch: success, the original offset, the
	// original batch's timestamp, and nothing appended.
	dup := one(t, e.produce(9, -1, pr("t", 0, idemBatch(t, 1000, 0, 0, 3))))
	wantCode(t, dup, errcode.None)
	if dup.BaseOffset != first.BaseOffset || dup.LogAppendTimeMs == -1 {
		t.Fatalf("duplicate answered %+v, want base offset %d and the cached timestamp", dup, first.BaseOffset)
	}
	if n := e.logEnd("t", 0); n != 5 {
		t.Fatalf("log end %d, want 5: the duplicate was appended", n)
	}
	if got := len(e.readAll("t", 0)); got != 2 {
		t.Fatalf("%d batches stored, want 2", got)
	}
	if s := e.h.Metrics().Snapshot(); s.DuplicateRecords != 3 {
		t.Fatalf("duplicate_records = %d, want 3", s.DuplicateRecords)
	}
}

func TestIdempotentRejectionsBurnNoOffsets(t *testing.T) {
	e := newEnv(t, nil)
	e.topic("t", 1, nil)
	wantCode(t, one(t, e.produce(9, 1, pr("t", 0, idemBatch(t, 7, 2, 0, 2)))), errcode.None)
	cases := []struct {
		name  string
		batch []byte
		code  errcode.Code
	}{
		{"gap", idemBatch(t, 7, 2, 5, 1), errcode.OutOfOrderSequenceNumber},
		{"stale epoch", idemBatch(t, 7, 1, 2, 1), errcode.InvalidProducerEpoch},
		{"new epoch not at 0", idemBatch(t, 7, 3, 2, 1), errcode.OutOfOrderSequenceNumber},
		{"partial overlap", idemBatch(t, 7, 2, 1, 1), errcode.OutOfOrderSequenceNumber},
	}
	for _, tc := range cases {
		got := one(t, e.produce(9, 1, pr("t", 0, tc.batch)))
		wantCode(t, got, tc.code)
		if got.LogStartOffset != 0 {
			t.Fatalf("%s: log start offset %d, want the real one", tc.name, got.LogStartOffset)
		}
		if n := e.logEnd("t", 0); n != 2 {
			t.Fatalf("%s: log end %d, want 2", tc.name, n)
		}
	}
	// The next valid batch gets the next offset: nothing was burnt.
	next := one(t, e.produce(9, 1, pr("t", 0, idemBatch(t, 7, 2, 2, 1))))
	wantCode(t, next, errcode.None)
	if next.BaseOffset != 2 {
		t.Fatalf("next batch at %d, want 2", next.BaseOffset)
	}
	// An epoch bump restarts at sequence 0.
	wantCode(t, one(t, e.produce(9, 1, pr("t", 0, idemBatch(t, 7, 3, 0, 1)))), errcode.None)
}

func TestNoIdempotenceAppendsWithoutChecks(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.EnableIdempotence, c.EnableTransactions = false, false })
	e.topic("t", 1, nil)
	for i := 0; i < 2; i++ {
		got := one(t, e.produce(9, 1, pr("t", 0, idemBatch(t, 7, 0, 0, 2))))
		wantCode(t, got, errcode.None)
		if got.BaseOffset != int64(2*i) {
			t.Fatalf("attempt %d at offset %d", i, got.BaseOffset)
		}
	}
	wantCode(t, one(t, e.produce(9, 1, pr("t", 0, idemBatch(t, 7, 0, 9, 1)))), errcode.None)
}

// reopen closes the env's handler and opens a new one on the same data
// directory and metadata.
func (e *env) reopen(mutate func(*Config)) {
	e.t.Helper()
	if err := e.h.Close(); err != nil {
		e.t.Logf("close before reopening: %v", err) // a failed log reports its sticky error
	}
	cfg := e.h.Config()
	if mutate != nil {
		mutate(&cfg)
	}
	h, err := New(cfg, e.meta)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { h.Close() })
	e.h = h
}

func TestDuplicateRecognisedAcrossRestart(t *testing.T) {
	for _, clean := range []bool{true, false} {
		name := map[bool]string{true: "clean shutdown", false: "no snapshot"}[clean]
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.Linger = time.Millisecond })
			e.topic("t", 1, nil)
			var offsets []int64
			for i := int32(0); i < 6; i++ {
				got := one(t, e.produce(9, -1, pr("t", 0, idemBatch(t, 42, 0, i*2, 2))))
				wantCode(t, got, errcode.None)
				offsets = append(offsets, got.BaseOffset)
			}
			if !clean {
				// Lose the snapshots: the state must come from replaying the log.
				for _, off := range e.partitionForTest("t", 0).snapshots() {
					_ = e.h.fs.Remove(e.partitionForTest("t", 0).dir + "/" + snapshotName(off))
				}
			}
			e.reopen(nil)
			if !clean {
				// Reopening wrote a fresh snapshot from the replay only.
				if n := len(e.partitionForTest("t", 0).snapshots()); n != 1 {
					t.Fatalf("%d snapshots after replay, want 1", n)
				}
			}
			// Retries of the last five batches are duplicates with their offsets.
			for i := int32(1); i < 6; i++ {
				got := one(t, e.produce(9, -1, pr("t", 0, idemBatch(t, 42, 0, i*2, 2))))
				wantCode(t, got, errcode.None)
				if got.BaseOffset != offsets[i] {
					t.Fatalf("retry of batch %d after restart answered offset %d, want %d", i, got.BaseOffset, offsets[i])
				}
			}
			if n := e.logEnd("t", 0); n != 12 {
				t.Fatalf("log end %d, want 12", n)
			}
			wantCode(t, one(t, e.produce(9, -1, pr("t", 0, idemBatch(t, 42, 0, 13, 1)))), errcode.OutOfOrderSequenceNumber)
			wantCode(t, one(t, e.produce(9, -1, pr("t", 0, idemBatch(t, 42, 0, 12, 1)))), errcode.None)
		})
	}
}

func (e *env) partitionForTest(topic string, index int32) *partition {
	e.t.Helper()
	t, _ := e.meta.Topic(topic)
	p, err := e.h.partition(&t, index)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func TestProducerExpiry(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	e := newEnv(t, func(c *Config) { c.ProducerIDExpiration = time.Minute }, WithClock(clock))
	e.topic("t", 1, nil)
	b := newSpec(1)
	b.producerID, b.epoch, b.baseSequence, b.baseTimestamp = 5, 0, 0, now.UnixMilli()
	wantCode(t, one(t, e.produce(9, 1, pr("t", 0, b.build(t)))), errcode.None)
	// Another producer's append an hour later triggers the expiry check.
	now = now.Add(time.Hour)
	other := newSpec(1)
	other.producerID, other.epoch, other.baseSequence, other.baseTimestamp = 6, 0, 0, now.UnixMilli()
	wantCode(t, one(t, e.produce(9, 1, pr("t", 0, other.build(t)))), errcode.None)
	p := e.partitionForTest("t", 0)
	p.mu.Lock()
	_, known := p.producers.Entry(5)
	p.mu.Unlock()
	if known {
		t.Fatal("producer 5 did not expire")
	}
	// Unknown again: any sequence is accepted.
	b.baseSequence, b.baseTimestamp = 40, now.UnixMilli()
	wantCode(t, one(t, e.produce(9, 1, pr("t", 0, b.build(t)))), errcode.None)
}

func TestLegacyMessageSetsAreUpConverted(t *testing.T) {
	e := newEnv(t, nil)
	e.topic("t", 1, nil)
	set := legacyMessageSet(t, 1, [][2]string{{"k1", "v1"}, {"k2", "v2"}, {"", "v3"}})
	got := one(t, e.produce(2, 1, pr("t", 0, set)))
	wantCode(t, got, errcode.None)
	b := e.readAll("t", 0)[0]
	h := record.ReadHeader(b)
	if h.NumRecords != 3 || h.ProducerID != -1 || !record.CRCValid(b) {
		t.Fatalf("up-converted header %+v crc %v", h, record.CRCValid(b))
	}
	var vals []string
	if _, err := record.WalkBatch(b, &h, nil, 1<<20, func(i int, r *record.Record) error {
		vals = append(vals, string(r.Value))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(vals) != 3 || vals[2] != "v3" {
		t.Fatalf("values %q", vals)
	}
	// A v2 batch is also accepted at v0-v2.
	wantCode(t, one(t, e.produce(1, 1, pr("t", 0, newSpec(1).build(t)))), errcode.None)
}

// legacyMessageSet hand-encodes an uncompressed magic 0 or 1 message set
// (offset, size, CRC-32 over magic..end, magic, attributes, [timestamp],
// key, value); an empty key is a null key.
func legacyMessageSet(t *testing.T, magic int8, kvs [][2]string) []byte {
	t.Helper()
	var set []byte
	for i, kv := range kvs {
		var m []byte
		m = append(m, byte(magic), 0)
		if magic == 1 {
			m = binary.BigEndian.AppendUint64(m, uint64(time.Now().UnixMilli()))
		}
		if kv[0] == "" {
			m = binary.BigEndian.AppendUint32(m, 0xffffffff)
		} else {
			m = binary.BigEndian.AppendUint32(m, uint32(len(kv[0])))
			m = append(m, kv[0]...)
		}
		m = binary.BigEndian.AppendUint32(m, uint32(len(kv[1])))
		m = append(m, kv[1]...)
		set = binary.BigEndian.AppendUint64(set, uint64(i))
		set = binary.BigEndian.AppendUint32(set, uint32(4+len(m)))
		set = binary.BigEndian.AppendUint32(set, crc32.ChecksumIEEE(m))
		set = append(set, m...)
	}
	return set
}
