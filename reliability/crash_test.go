package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The crash loop's workload: one idempotent acks=all producer per codec,
// each writing to every partition of one topic, and two plain acks=1
// producers writing to another; both topics have small segments that roll
// often (so that kills also land during rolls, index writes and uploads).
const (
	crashTopic        = "crash"       // idempotent, acks=all: exactly once
	crashAcks1Topic   = "crash-acks1" // acks=1, no idempotence: at least once
	crashPartitions   = 4
	crashRate         = 300 // records per second per producer
	crashSegmentBytes = "131072"
	crashLookups      = 25 // acknowledged keys looked up over HTTP at the end
)

// crashProducers are the producers: one idempotent acks=all producer per
// compression codec on crashTopic, and two acks=1 producers on
// crashAcks1Topic.
var crashProducers = []struct {
	codecName string
	codec     kgo.CompressionCodec
	acks1     bool
}{
	{"none", kgo.NoCompression(), false},
	{"lz4", kgo.Lz4Compression(), false},
	{"zstd", kgo.ZstdCompression(), false},
	{"snappy", kgo.SnappyCompression(), false},
	{"gzip", kgo.GzipCompression(), false},
	{"none", kgo.NoCompression(), true},
	{"zstd", kgo.ZstdCompression(), true},
}

// Record states kept per produced record besides its acknowledged offset.
const (
	offsetPending = -1 // produced, no outcome yet
	offsetFailed  = -2 // the client gave up on it
)

// crashKey is the key of record seq of producer prod on partition part.
func crashKey(prod, part int, seq int64) string { return fmt.Sprintf("k%d.%d.%d", prod, part, seq) }

// parseCrashKey inverts crashKey.
func parseCrashKey(k string) (prod, part int, seq int64, ok bool) {
	f := strings.Split(strings.TrimPrefix(k, "k"), ".")
	if len(f) != 3 || !strings.HasPrefix(k, "k") {
		return 0, 0, 0, false
	}
	a, err1 := strconv.Atoi(f[0])
	b, err2 := strconv.Atoi(f[1])
	c, err3 := strconv.ParseInt(f[2], 10, 64)
	return a, b, c, err1 == nil && err2 == nil && err3 == nil
}

// crashValue is the value of record seq of producer prod on partition part:
// its identity followed by 16-255 filler bytes derived from it, so that a
// reader can check every byte without the writer keeping the values. It
// starts with a letter, so the key lookup endpoint returns it as a JSON
// string.
func crashValue(prod, part int, seq int64) []byte {
	v := fmt.Appendf(nil, "p%d.%d.%d|", prod, part, seq)
	x := uint64(prod)<<56 ^ uint64(part)<<48 ^ uint64(seq)
	n := 16 + int(splitmix(&x)%240)
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	for range n {
		v = append(v, alphabet[splitmix(&x)%uint64(len(alphabet))])
	}
	return v
}

// splitmix advances x and returns the next splitmix64 output.
func splitmix(x *uint64) uint64 {
	*x += 0x9e3779b97f4a7c15
	z := *x
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// crashProducer is one franz-go producer of the crash loop and the outcome
// of every record it produced.
type crashProducer struct {
	id    int
	codec string
	topic string
	acks1 bool // acks=1 without idempotence; else idempotent acks=all
	cl    *kgo.Client

	mu       sync.Mutex // guards the fields below
	offs     [crashPartitions][]int64
	maxAcked [crashPartitions]int64 // highest acknowledged offset, -1 for none
	acked    int64
	failed   int64
	errs     map[string]int // failure reasons and their counts
}

// run produces about rate records per second, round-robin over the
// partitions, until stop is closed.
func (cp *crashProducer) run(ctx context.Context, stop <-chan struct{}, rate int) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	perTick := max(1, rate/100)
	n := 0
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		for range perTick {
			part := n % crashPartitions
			n++
			cp.mu.Lock()
			seq := int64(len(cp.offs[part]))
			cp.offs[part] = append(cp.offs[part], offsetPending)
			cp.mu.Unlock()
			r := &kgo.Record{Topic: cp.topic, Partition: int32(part), Key: []byte(crashKey(cp.id, part, seq)), Value: crashValue(cp.id, part, seq)}
			cp.cl.Produce(ctx, r, func(r *kgo.Record, err error) { cp.done(part, seq, r, err) })
		}
	}
}

// done records the outcome of one record.
func (cp *crashProducer) done(part int, seq int64, r *kgo.Record, err error) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if err == nil && r.Partition != int32(part) {
		err = fmt.Errorf("acknowledged on partition %d, produced to %d", r.Partition, part)
	}
	if err != nil {
		cp.offs[part][seq] = offsetFailed
		cp.failed++
		if cp.errs == nil {
			cp.errs = map[string]int{}
		}
		cp.errs[err.Error()]++
		return
	}
	cp.offs[part][seq] = r.Offset
	cp.acked++
	cp.maxAcked[part] = max(cp.maxAcked[part], r.Offset)
}

// counts returns the producer's acknowledged, failed and produced counts.
func (cp *crashProducer) counts() (acked, failed, produced int64) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	for _, o := range cp.offs {
		produced += int64(len(o))
	}
	return cp.acked, cp.failed, produced
}

// crashLoop is the state of one TestCrashLoop run.
type crashLoop struct {
	t       *testing.T
	cmd     brokerCmd
	log     *syncWriter
	kafka   string
	http    string
	dataDir string
	procs   []*brokerProcess // every process started, the current one last
}

// start starts the broker and waits until it is ready.
func (c *crashLoop) start(ctx context.Context) *brokerProcess {
	c.t.Helper()
	var p *brokerProcess
	var err error
	// The fixed ports may be held for a moment by the process just killed.
	for try := 0; ; try++ {
		p, err = startBroker(ctx, c.cmd, c.log, 2*time.Minute)
		if err == nil || try == 20 || !strings.Contains(err.Error(), "address already in use") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		c.t.Fatal(err)
	}
	c.procs = append(c.procs, p)
	return p
}

// maxAcked returns, per partition, the highest offset any producer has
// seen acknowledged.
func maxAcked(ps []*crashProducer) [crashPartitions]int64 {
	var m [crashPartitions]int64
	for i := range m {
		m[i] = -1
	}
	for _, cp := range ps {
		cp.mu.Lock()
		for i, o := range cp.maxAcked {
			m[i] = max(m[i], o)
		}
		cp.mu.Unlock()
	}
	return m
}

// totalAcked sums the producers' acknowledged records.
func totalAcked(ps []*crashProducer) int64 {
	var n int64
	for _, cp := range ps {
		a, _, _ := cp.counts()
		n += a
	}
	return n
}

// duplicatesRecognised returns the broker's count of records in retried
// batches it answered as duplicates (chronik_duplicate_records_total) since
// it started, or 0 when /metrics does not answer within a second.
func duplicatesRecognised(ctx context.Context, p *brokerProcess) float64 {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	m, err := scrapeCounters(ctx, p.http, "chronik_duplicate_records_total")
	if err != nil {
		return 0
	}
	var n float64
	for _, v := range m {
		n += v
	}
	return n
}

// randDuration returns a duration uniformly in [lo, hi].
func randDuration(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
}

// TestCrashLoop kills the broker with SIGKILL at random moments while
// producers write, restarts it on the same data directory and ports, and
// checks what Kafka and the README promise for acks=all and acks=1 across
// a crash of the process (kafka-semantics.md §1.3, §5; README "Durability
// of each acks mode"). Five idempotent acks=all producers (one per codec)
// write to one topic, two acks=1 producers without idempotence to another.
//
//   - after every restart, each partition's high watermark is at least one
//     past the highest offset acknowledged before the kill, in both topics
//     (acks=1 data is in the page cache, which a killed process leaves);
//   - at the end, every acknowledged record is stored at the offset its
//     acknowledgement named, with its exact key and value, in the order its
//     producer sent it; on the idempotent topic no record is stored twice
//     (retries across restarts are recognised as duplicates), on the acks=1
//     topic extra copies are counted, as Kafka allows them there;
//   - offsets have no gaps (except under control batches) and every stored
//     batch's CRC-32C holds, both as served by Fetch and in the segment
//     files once the broker is stopped;
//   - the HTTP key lookup finds a sample of the acknowledged keys;
//   - where the broker indexes for search, the index catches up to one
//     document per stored record (nothing lost or indexed twice by the
//     crashes) and holds the sampled acknowledged records;
//   - no run of the broker ever logs a panic, and the last one stops
//     cleanly.
//
// Some kills land while the broker is still recovering, before it is ready.
// The default run is short; -iterations and -duration (or -long) make it
// long.
func TestCrashLoop(t *testing.T) {
	t.Parallel()
	bin := brokerBinary(t)
	rng, _ := newRand(t)
	iters, limit := iterations(), duration(20*time.Second, 30*time.Minute)
	dir := testDir(t, "crash")
	kafka, err := freeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	httpAddr, err := freeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	c := &crashLoop{t: t, log: openLog(t, dir), kafka: kafka, http: httpAddr, dataDir: filepath.Join(dir, "data")}
	c.cmd = brokerCmd{bin: bin, args: []string{"-listen", kafka, "-http", httpAddr, "-data", c.dataDir, "-log-level", "info"}}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		for _, p := range c.procs {
			if p.alive() {
				p.kill()
			}
		}
	})

	proc := c.start(ctx)
	for _, topic := range []string{crashTopic, crashAcks1Topic} {
		if err := createTopic(ctx, kafka, topic, crashPartitions, map[string]string{"segment.bytes": crashSegmentBytes}); err != nil {
			t.Fatal(err)
		}
	}
	check, err := newClient(kafka)
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()

	producers := make([]*crashProducer, len(crashProducers))
	byTopic := map[string][]*crashProducer{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, pc := range crashProducers {
		cp := &crashProducer{id: i, codec: pc.codecName, topic: crashTopic, acks1: pc.acks1}
		opts := []kgo.Opt{
			kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.ProducerBatchCompression(pc.codec),
			kgo.ProducerLinger(5 * time.Millisecond),
			kgo.MaxBufferedRecords(4000),
			// A SIGKILL can end a connection before its first response;
			// franz-go otherwise takes an EOF there for a TLS or SASL
			// mismatch and fails the records instead of retrying them.
			kgo.AlwaysRetryEOF(),
		}
		mode := "idempotent"
		if pc.acks1 {
			cp.topic, mode = crashAcks1Topic, "acks1"
			opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
		}
		cl, err := newClient(kafka, append(opts, kgo.ClientID(fmt.Sprintf("crash-producer-%d-%s-%s", i, mode, pc.codecName)))...)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		cp.cl = cl
		for p := range cp.maxAcked {
			cp.maxAcked[p] = -1
		}
		producers[i] = cp
		byTopic[cp.topic] = append(byTopic[cp.topic], cp)
		wg.Add(1)
		go func() { // owned by the test: ends when stop is closed
			defer wg.Done()
			cp.run(ctx, stop, crashRate)
		}()
	}

	start := time.Now()
	kills, startupKills := 0, 0
	dups := 0.0 // retried batches' records the broker recognised as duplicates, summed over its runs
	for kills < iters && time.Since(start) < limit {
		// Up for a random time, and at least until some record written
		// since the restart is acknowledged.
		up := randDuration(rng, 300*time.Millisecond, 2500*time.Millisecond)
		ackedAtStart := totalAcked(producers)
		upSince := time.Now()
		for time.Since(upSince) < up || totalAcked(producers) == ackedAtStart {
			if time.Since(upSince) > time.Minute {
				t.Fatalf("kill %d: no record acknowledged within a minute of the restart:\n%s", kills+1, proc.tail())
			}
			time.Sleep(5 * time.Millisecond)
		}
		if !proc.alive() {
			t.Fatalf("kill %d: the broker exited by itself (%v):\n%s", kills+1, proc.waitErr, proc.tail())
		}
		before := map[string][crashPartitions]int64{}
		for topic, ps := range byTopic {
			before[topic] = maxAcked(ps)
		}
		dups += duplicatesRecognised(ctx, proc)
		proc.kill()
		kills++
		time.Sleep(randDuration(rng, 0, 400*time.Millisecond))

		// One restart in six is killed again while it recovers.
		if kills < iters && rng.IntN(6) == 0 {
			p, err := launchBroker(c.cmd, c.log)
			if err != nil {
				t.Fatal(err)
			}
			c.procs = append(c.procs, p)
			time.Sleep(randDuration(rng, 0, 60*time.Millisecond))
			p.kill()
			kills++
			startupKills++
		}

		proc = c.start(ctx)
		var hws []string
		for _, topic := range []string{crashTopic, crashAcks1Topic} {
			hw, err := highWatermarks(ctx, check, topic, crashPartitions)
			if err != nil {
				t.Fatalf("after kill %d: %v", kills, err)
			}
			for p := range crashPartitions {
				if b := before[topic][p]; hw[p] < b+1 {
					t.Fatalf("after kill %d: %s/%d high watermark %d, but offset %d was acknowledged before the kill (acknowledged data lost)", kills, topic, p, hw[p], b)
				}
			}
			hws = append(hws, fmt.Sprintf("%s %v", topic, hw))
		}
		if kills%10 == 0 || testing.Verbose() {
			t.Logf("kill %d at %v: high watermarks %s; %d records acknowledged", kills, time.Since(start).Round(time.Millisecond), strings.Join(hws, ", "), totalAcked(producers))
		}
	}
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()
	fctx, fcancel := context.WithTimeout(ctx, 3*time.Minute)
	for _, cp := range producers {
		if err := cp.cl.Flush(fctx); err != nil {
			t.Fatalf("producer %d: flush after the last restart: %v", cp.id, err)
		}
	}
	fcancel()

	var acked, failed, produced int64
	failures := map[string]int{}
	for _, cp := range producers {
		a, f, p := cp.counts()
		acked, failed, produced = acked+a, failed+f, produced+p
		cp.mu.Lock()
		for k, v := range cp.errs {
			failures[fmt.Sprintf("producer %d (%s): %s", cp.id, cp.codec, k)] += v
		}
		cp.mu.Unlock()
	}
	if acked+failed != produced {
		t.Fatalf("%d records produced but %d acknowledged and %d failed after the flush", produced, acked, failed)
	}
	for k, v := range failures {
		t.Errorf("%d records failed: %s", v, k)
	}

	vctx, vcancel := context.WithTimeout(ctx, 10*time.Minute)
	defer vcancel()
	results := map[string]crashResult{}
	searched := 0
	for _, topic := range []string{crashTopic, crashAcks1Topic} {
		res := verifyCrashData(t, vctx, c, check, topic, producers, rng)
		results[topic] = res
		if checkSearch(t, vctx, c.http, topic, res, longOr(time.Minute, 10*time.Minute)) {
			searched += len(res.sample)
		}
	}

	dups += duplicatesRecognised(ctx, proc)
	if err := proc.terminate(time.Minute); err != nil {
		t.Fatal(err)
	}
	var segs, segBatches int
	for topic, res := range results {
		for p := range crashPartitions {
			sc, err := scanPartitionDir(filepath.Join(c.dataDir, "logs", fmt.Sprintf("%s-%d", topic, p)))
			if err != nil {
				t.Fatalf("%s/%d segment files: %v", topic, p, err)
			}
			if sc.NextOffset != res.hwm[p] || sc.Records != res.stored[p] {
				t.Fatalf("%s/%d segment files: end offset %d with %d records; the broker served %d records up to %d", topic, p, sc.NextOffset, sc.Records, res.stored[p], res.hwm[p])
			}
			segs += sc.Segments
			segBatches += sc.Batches
		}
	}
	for _, p := range c.procs {
		if lines := p.panics(); len(lines) > 0 {
			t.Fatalf("broker pid %d logged a panic:\n%s", p.pid(), strings.Join(lines, "\n"))
		}
	}
	idem, a1 := results[crashTopic], results[crashAcks1Topic]
	t.Logf("RESULT crash-loop: %d SIGKILLs (%d during recovery) in %v; %d records produced, %d acknowledged, %d failed; idempotent acks=all: %d stored, each acknowledged one exactly once (%d unacknowledged stored once), %v retried records recognised as duplicates by the broker; acks=1: %d stored, every acknowledged one at its offset (%d stored more than once, as Kafka allows without idempotence); 0 acknowledged records lost; %d batches in %d segment files, every CRC valid; %d key lookups found; search index: one document per stored record, %d sampled records found by id",
		kills, startupKills, elapsed.Round(time.Second), produced, acked, failed, idem.total, idem.unackedStored, dups, a1.total, a1.duplicates, segBatches, segs, idem.lookups+a1.lookups, searched)
}

// crashResult is what verifyCrashData found in one topic.
type crashResult struct {
	hwm           [crashPartitions]int64
	stored        [crashPartitions]int64 // records (non-control) below the high watermark
	total         int64
	unackedStored int64 // records stored but never acknowledged
	duplicates    int64 // extra copies (acks=1 only)
	lookups       int
	sample        []crashSample // acknowledged records looked up by key
}

// verifyCrashData checks one topic of a running broker after the crash
// loop: batches as served by Fetch, then every record through a franz-go
// consumer against what the topic's producers were told, then a sample of
// key lookups. On the idempotent topic every record is stored at most once
// and each producer's records are in order; on the acks=1 topic, where
// retries without idempotence may store a batch twice (as in Kafka), first
// copies are in order and every acknowledged record is found at the offset
// its acknowledgement named.
func verifyCrashData(t *testing.T, ctx context.Context, c *crashLoop, check *kgo.Client, topic string, producers []*crashProducer, rng *rand.Rand) crashResult {
	t.Helper()
	var res crashResult
	hw, err := highWatermarks(ctx, check, topic, crashPartitions)
	if err != nil {
		t.Fatal(err)
	}
	copy(res.hwm[:], hw)
	for p := range crashPartitions {
		sc, err := scanFetched(ctx, check, topic, int32(p), hw[p])
		if err != nil {
			t.Fatal(err)
		}
		res.stored[p] = sc.Records
	}

	// first[prod][part][seq] is the offset a record was first found at, or
	// -1; atAck marks records found at their acknowledged offset.
	first := make([][crashPartitions][]int64, len(producers))
	atAck := make([][crashPartitions][]bool, len(producers))
	lastSeq := make([][crashPartitions]int64, len(producers))
	for i, cp := range producers {
		cp.mu.Lock()
		for p := range crashPartitions {
			first[i][p] = make([]int64, len(cp.offs[p]))
			for j := range first[i][p] {
				first[i][p][j] = -1
			}
			atAck[i][p] = make([]bool, len(cp.offs[p]))
			lastSeq[i][p] = -1
		}
		cp.mu.Unlock()
	}
	var next, records [crashPartitions]int64 // next offset expected; data records read
	err = consumeAll(ctx, c.kafka, topic, hw, func(r *kgo.Record) error {
		p := r.Partition
		if r.Offset != next[p] {
			return fmt.Errorf("%s/%d: record at offset %d, expected %d (offset gap)", topic, p, r.Offset, next[p])
		}
		next[p]++
		if r.Attrs.IsControl() {
			return nil
		}
		records[p]++
		prod, part, seq, ok := parseCrashKey(string(r.Key))
		if !ok || prod < 0 || prod >= len(producers) || producers[prod].topic != topic || part != int(p) || seq < 0 || seq >= int64(len(first[prod][part])) {
			return fmt.Errorf("%s/%d offset %d: record with key %q was never produced to this partition", topic, p, r.Offset, r.Key)
		}
		if want := crashValue(prod, part, seq); string(r.Value) != string(want) {
			return fmt.Errorf("%s/%d offset %d: key %q has value %q, want %q", topic, p, r.Offset, r.Key, r.Value, want)
		}
		cp := producers[prod]
		cp.mu.Lock()
		ackOff := cp.offs[part][seq]
		cp.mu.Unlock()
		if ackOff == r.Offset {
			atAck[prod][part][seq] = true
		}
		if prev := first[prod][part][seq]; prev >= 0 {
			if !cp.acks1 {
				return fmt.Errorf("%s/%d: record %q stored twice, at offsets %d and %d", topic, p, r.Key, prev, r.Offset)
			}
			res.duplicates++
			return nil
		}
		if seq <= lastSeq[prod][part] {
			return fmt.Errorf("%s/%d offset %d: producer %d's record %d stored after its record %d (out of order)", topic, p, r.Offset, prod, seq, lastSeq[prod][part])
		}
		lastSeq[prod][part] = seq
		first[prod][part][seq] = r.Offset
		res.total++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p := range crashPartitions {
		if next[p] != hw[p] || records[p] != res.stored[p] {
			t.Fatalf("%s/%d: the consumer read %d records up to offset %d; Fetch served %d records up to the high watermark %d", topic, p, records[p], next[p], res.stored[p], hw[p])
		}
	}

	var sample []crashSample
	var acked int64
	for i, cp := range producers {
		if cp.topic != topic {
			continue
		}
		cp.mu.Lock()
		for p := range crashPartitions {
			for seq, off := range cp.offs[p] {
				switch {
				case off >= 0 && !atAck[i][p][seq]:
					cp.mu.Unlock()
					t.Fatalf("%s/%d: record %s acknowledged at offset %d is not there (first stored at %d)", topic, p, crashKey(i, p, int64(seq)), off, first[i][p][seq])
				case off < 0 && first[i][p][seq] >= 0:
					res.unackedStored++
				}
				if off >= 0 {
					// Reservoir sampling of crashLookups acknowledged records.
					acked++
					if len(sample) < crashLookups {
						sample = append(sample, crashSample{i, p, int64(seq), off})
					} else if j := rng.Int64N(acked); j < crashLookups {
						sample[j] = crashSample{i, p, int64(seq), off}
					}
				}
			}
		}
		cp.mu.Unlock()
	}

	sort.Slice(sample, func(i, j int) bool { return sample[i].off < sample[j].off })
	for _, s := range sample {
		key := crashKey(s.prod, s.part, s.seq)
		got, err := lookupKey(ctx, c.http, topic, int32(s.part), key)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range got.Records {
			var value string
			if err := json.Unmarshal(r.Value, &value); err != nil {
				t.Fatalf("key lookup %q: value %s: %v", key, r.Value, err)
			}
			if r.Key != key || value != string(crashValue(s.prod, s.part, s.seq)) {
				t.Fatalf("key lookup %q on %s/%d: a record with key %q, value %q", key, topic, s.part, r.Key, value)
			}
			found = found || r.Offset == s.off
		}
		if !found || (!producers[s.prod].acks1 && len(got.Records) != 1) {
			t.Fatalf("key lookup %q on %s/%d: %d records, none or more than allowed at the acknowledged offset %d", key, topic, s.part, len(got.Records), s.off)
		}
		res.lookups++
	}
	res.sample = sample
	return res
}

// checkSearch waits, up to limit, until the broker's search index holds
// exactly one document per record stored in topic (none missing after the
// crashes, none indexed twice) with no indexing lag, then fetches the
// sampled acknowledged records from it by id. It reports false when the
// broker has no search index for the topic.
func checkSearch(t *testing.T, ctx context.Context, httpAddr, topic string, res crashResult, limit time.Duration) bool {
	t.Helper()
	var stored int64
	for _, n := range res.stored {
		stored += n
	}
	deadline := time.Now().Add(limit)
	for {
		idx, err := searchIndexes(ctx, httpAddr)
		if err != nil {
			t.Fatal(err)
		}
		row, ok := idx[topic]
		if !ok {
			return false
		}
		docs, _ := strconv.ParseInt(row.DocsCount, 10, 64)
		if docs > stored {
			t.Fatalf("%s: the search index holds %d documents for %d stored records (indexed twice)", topic, docs, stored)
		}
		if docs == stored && row.LagRecords == "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the search index holds %d documents for %d stored records (lag %s records) %v after the last restart", topic, docs, stored, row.LagRecords, limit)
		}
		time.Sleep(500 * time.Millisecond)
	}
	for _, s := range res.sample {
		d, err := getDoc(ctx, httpAddr, topic, int32(s.part), s.off)
		if err != nil {
			t.Fatal(err)
		}
		key := crashKey(s.prod, s.part, s.seq)
		if !d.Found || d.Key == nil || *d.Key != key {
			t.Fatalf("%s: search document %d-%d: found %v, key %v; want the acknowledged record %s", topic, s.part, s.off, d.Found, d.Key, key)
		}
	}
	return true
}

// crashSample is an acknowledged record picked for the lookups.
type crashSample struct {
	prod, part int
	seq, off   int64
}
