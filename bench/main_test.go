package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	r := rand.New(rand.NewPCG(1, 2))
	var all []time.Duration
	for range 100000 {
		d := time.Duration(r.Int64N(int64(50 * time.Millisecond)))
		h.record(d)
		all = append(all, d)
	}
	for _, q := range []float64{0.5, 0.9, 0.99} {
		got := h.quantile(q)
		// The exact quantile of a uniform distribution on [0, 50 ms).
		want := time.Duration(q * float64(50*time.Millisecond))
		if diff := float64(got-want) / float64(want); diff > 0.07 || diff < -0.07 {
			t.Errorf("quantile(%v) = %v, want %v within 7%%", q, got, want)
		}
	}
	if h.total != uint64(len(all)) {
		t.Fatalf("total %d, want %d", h.total, len(all))
	}
	for _, v := range []uint64{0, 1, 31, 32, 33, 1000, 1 << 40, 1<<63 - 1} {
		i := histIndex(v)
		if i < 0 || i >= histBuckets || histLow(i) > v || (i+1 < histBuckets && histLow(i+1) <= v) {
			t.Errorf("value %d in bucket %d [%d, %d)", v, i, histLow(i), histLow(i+1))
		}
	}
}

// produceTiny produces a small run to a fresh topic of a kfake cluster and
// returns the cluster, the topic, the result and the generator.
func produceTiny(t *testing.T, partitions int32) (*kfakeTarget, string, *produceResult, recordGen) {
	t.Helper()
	k, err := startKfake(peerMemory, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Stop() })
	ctx := context.Background()
	topic := "tiny"
	if err := createTopic(ctx, k.Addr(), topic, partitions); err != nil {
		t.Fatal(err)
	}
	gen := recordGen{pool: newPayloadPool(1<<20, 7), valueSize: 200}
	s := spec{ValueSize: 200, Partitions: partitions, Linger: time.Millisecond, Clients: 2,
		MaxRecords: 3000, MaxDuration: time.Minute, BufferBytes: 4 << 20}
	res, err := produce(ctx, k.Addr(), topic, s, gen)
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != 3000 {
		t.Fatalf("%d records acknowledged, want 3000", res.Records)
	}
	return k, topic, res, gen
}

// wantReconcileError checks err is a *ReconcileError mentioning every
// fragment.
func wantReconcileError(t *testing.T, err error, fragments ...string) {
	t.Helper()
	var re *ReconcileError
	if !errors.As(err, &re) {
		t.Fatalf("reconcile error = %v, want a *ReconcileError", err)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("reconcile error %q does not mention %q", err, f)
		}
	}
}

func TestReconcileAcceptsFaithfulBroker(t *testing.T) {
	k, topic, res, gen := produceTiny(t, 3)
	checks, err := reconcile(context.Background(), k.Addr(), topic, res.Ledger, gen)
	if err != nil {
		t.Fatal(err)
	}
	var read int64
	for _, c := range checks {
		if c.Read != c.Acked || c.GotSum != c.WantSum || c.EndOffset != c.Acked {
			t.Errorf("partition %d: %+v", c.Partition, c)
		}
		read += c.Read
	}
	if read != 3000 {
		t.Fatalf("read back %d records, want 3000", read)
	}
}

func TestReconcileDetectsRecordMissingFromLog(t *testing.T) {
	defer func(d time.Duration) { endOffsetWait = d }(endOffsetWait)
	endOffsetWait = 500 * time.Millisecond
	k, topic, res, gen := produceTiny(t, 2)
	// A producer told record 999999 is at the end of partition 1, which the
	// log does not hold.
	end := int64(len(res.Ledger.acks[1]))
	res.Ledger.add(1, end, 999999)
	_, err := reconcile(context.Background(), k.Addr(), topic, res.Ledger, gen)
	wantReconcileError(t, err, "partition 1: log end offset", "acknowledged (record 999999) but not in the log")
}

func TestReconcileDetectsUnacknowledgedRecord(t *testing.T) {
	k, topic, res, gen := produceTiny(t, 2)
	// Drop one acknowledgement: the log then holds a record no producer
	// was told about (as a duplicate from a retry would be).
	dropped := res.Ledger.acks[0][10]
	res.Ledger.acks[0] = append(res.Ledger.acks[0][:10], res.Ledger.acks[0][11:]...)
	_, err := reconcile(context.Background(), k.Addr(), topic, res.Ledger, gen)
	wantReconcileError(t, err, "never acknowledged to a producer", "log end offset")
	if !strings.Contains(err.Error(), "offset "+strconv.FormatInt(dropped.offset, 10)) {
		t.Errorf("error %q does not name offset %d", err, dropped.offset)
	}
}

func TestReconcileDetectsCorruptedRecord(t *testing.T) {
	k, err := startKfake(peerMemory, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer k.Stop()
	ctx := context.Background()
	if err := createTopic(ctx, k.Addr(), "corrupt", 1); err != nil {
		t.Fatal(err)
	}
	gen := recordGen{pool: newPayloadPool(1<<20, 7), valueSize: 100}
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Addr()), kgo.DefaultProduceTopic("corrupt"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	l := newLedger(1)
	for n := uint64(0); n < 50; n++ {
		key, value := gen.record(nil, n)
		if n == 17 { // the broker stores a record whose value lost a byte flip
			value = append([]byte(nil), value...)
			value[3] ^= 0x40
		}
		r := cl.ProduceSync(ctx, &kgo.Record{Key: key, Value: value})[0]
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		l.add(0, r.Record.Offset, n)
	}
	_, err = reconcile(ctx, k.Addr(), "corrupt", l, gen)
	wantReconcileError(t, err, "offset 17: content differs from record 17", "checksum")
}

func TestUpdateMarkdownKeepsHandWrittenText(t *testing.T) {
	path := filepath.Join(t.TempDir(), "B.md")
	if err := updateMarkdown(path, "first"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	hand := string(b) + "\n## Hot spots\n\nwritten by hand\n"
	if err := os.WriteFile(path, []byte(strings.Replace(hand, "# Benchmarks\n", "# Benchmarks\n\nintro by hand\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := updateMarkdown(path, "second"); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(path)
	s := string(b)
	for _, want := range []string{"intro by hand", "written by hand", beginMarker + "\nsecond\n" + endMarker} {
		if !strings.Contains(s, want) {
			t.Errorf("file lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "first") {
		t.Errorf("old generated text survived:\n%s", s)
	}
}

// TestQuickRun runs the tool in quick mode on the smallest side-by-side
// workload against the real example broker and kfake: both runs must
// reconcile and the report and charts must be written.
func TestQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the example broker")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "BENCHMARKS.md")
	charts := filepath.Join(dir, "charts")
	var log strings.Builder
	code := run(context.Background(), []string{"-quick", "-workloads", "P2", "-out", out, "-charts", charts, "-tmp", dir}, &log)
	if code != 0 {
		t.Fatalf("exit status %d; log:\n%s", code, log.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{beginMarker, endMarker, "| chronik (example broker) |", "| 1 of 1 |", "P2-throughput.png", "Physical limits"} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
	for _, f := range []string{"P2-throughput.png", "P2-latency.png"} {
		if st, err := os.Stat(filepath.Join(charts, f)); err != nil || st.Size() == 0 {
			t.Errorf("chart %s: %v", f, err)
		}
	}
	if !strings.Contains(log.String(), "records reconciled") {
		t.Errorf("log does not report reconciliation:\n%s", log.String())
	}
}

func TestSelectedWorkloads(t *testing.T) {
	ws, err := selected(options{only: []string{"P1", "P9"}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, w := range ws {
		ids = append(ids, w.ID)
	}
	if got := strings.Join(ids, ","); got != "P1-1p,P1-8p,P1-lat,P9" {
		t.Fatalf("selected %s", got)
	}
	if _, err := selected(options{only: []string{"P42"}}); err == nil {
		t.Fatal("unknown workload accepted")
	}
}
