package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/chronik-go/chronik/internal/netchaos"
	"github.com/chronik-go/chronik/record"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Idempotent producers of real clients through a proxy that keeps cutting
// their connections, in the middle of requests and of responses. A cut
// response is a batch the broker appended whose acknowledgement the client
// never saw: the client sends it again with the same producer id, epoch
// and sequence numbers, and the broker must answer it with the original
// offset without appending it twice (Kafka's ProducerStateManager
// duplicate check, kafka-semantics.md §3.2). Each test reads every
// partition back directly from the broker and checks that every
// acknowledged record is stored exactly once, at the offset the client was
// given, in the order it was produced.

const (
	idemRecords    = 3000 // records each client produces
	idemPartitions = 3
	idemTimeout    = 3 * time.Minute // bound of one client's run, for a machine under heavy load
)

// idemBudgets are the proxy's cut points per connection. A produce
// response is about a hundred bytes, so a connection is cut after a few to
// a couple of dozen of them, in the middle of one (the broker appended the
// batch, the client never learns it); requests are cut after 8-128 KiB,
// in the middle of a batch the broker never sees whole. The handshake
// (ApiVersions, Metadata, InitProducerId answers, about 350 bytes) fits in
// the smallest response budget, so every connection gets produce work
// done.
var idemBudgets = netchaos.Options{
	ToTarget: netchaos.Budget{Min: 8 << 10, Max: 128 << 10},
	ToClient: netchaos.Budget{Min: 500, Max: 2500},
}

// idemCase is one client's run: a broker that advertises a cutting proxy
// as its address, so that every connection the client opens goes through
// the proxy, and a topic of idemPartitions partitions.
type idemCase struct {
	t      *testing.T
	client string
	topic  string
	proxy  *netchaos.Proxy
	broker *testBroker
	// partOf is the partition the client sends record seq to.
	partOf func(seq int) int32
	start  time.Time
}

// idemAcks is what the client reported: the offset of every record it
// acknowledged (-1 when the client does not say), by sequence number, and
// the error of every record it gave up on.
type idemAcks struct {
	offsets map[int]int64
	failed  map[int]string
}

func newIdemAcks() idemAcks {
	return idemAcks{offsets: map[int]int64{}, failed: map[int]string{}}
}

// newIdemCase starts the proxy and a broker (acks=all is the clients'
// choice; idempotence is on) advertising the proxy's address, and creates
// the topic directly on the broker.
func newIdemCase(t *testing.T, client string, partOf func(int) int32) *idemCase {
	t.Helper()
	opts := idemBudgets
	opts.Seed = time.Now().UnixNano()
	p, err := netchaos.NewWithOptions("", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	b := newBroker(t, func(c *config) {
		c.AdvertisedAddr = p.Addr()
		c.Handler.EnableIdempotence = true
	})
	p.SetTarget(b.addrs.Kafka)
	c := &idemCase{t: t, client: client, topic: "idem-" + client, proxy: p, broker: b, partOf: partOf, start: time.Now()}
	createTopic(t, b.addrs.Kafka, c.topic, idemPartitions, nil)
	t.Logf("%s: proxy seed %d, %d records over %d partitions", client, opts.Seed, idemRecords, idemPartitions)
	return c
}

// byModulo spreads records round-robin: record seq goes to seq mod the
// partition count.
func byModulo(seq int) int32 { return int32(seq % idemPartitions) }

// idemKey and idemValue are record seq's key and value; the value repeats
// the client's name and the sequence number.
func idemKey(seq int) string { return fmt.Sprintf("idem-%05d", seq) }

func idemValue(client string, seq int) string {
	return fmt.Sprintf(`{"client":%q,"seq":%d,"text":%q}`, client, seq, strings.Repeat("exactly once ", 6))
}

// idemSeq parses a key made by idemKey.
func idemSeq(key []byte) (int, bool) {
	s, ok := bytes.CutPrefix(key, []byte("idem-"))
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(string(s))
	return n, err == nil && n >= 0 && n < idemRecords
}

// idemStored is one record read back from the log.
type idemStored struct {
	offset     int64
	key, value []byte
	producerID int64
	epoch      int16
}

// readIdemPartition reads every record of a partition below the high
// watermark with raw Fetch requests straight to the broker (not through
// the proxy), decompressing the batches.
func readIdemPartition(t *testing.T, addr, topic string, partition int32) (recs []idemStored, batches int) {
	t.Helper()
	var scratch []byte
	offset := int64(0)
	for {
		p := fetchRaw(t, addr, topic, partition, offset)
		if p.ErrorCode != 0 {
			t.Fatalf("fetch %s/%d at %d: error %d", topic, partition, offset, p.ErrorCode)
		}
		b := p.Records
		if len(b) == 0 {
			return recs, batches
		}
		for len(b) >= record.HeaderSize {
			h := record.ReadHeader(b)
			if h.Size() > len(b) {
				break
			}
			if h.Control() {
				t.Fatalf("%s/%d: control batch at offset %d in a topic no transaction wrote", topic, partition, h.BaseOffset)
			}
			var err error
			scratch, err = record.WalkBatch(b[:h.Size()], &h, scratch, 64<<20, func(_ int, r *record.Record) error {
				recs = append(recs, idemStored{
					offset: h.Offset(r), key: bytes.Clone(r.Key), value: bytes.Clone(r.Value),
					producerID: h.ProducerID, epoch: h.ProducerEpoch,
				})
				return nil
			})
			if err != nil {
				t.Fatalf("%s/%d: batch at offset %d: %v", topic, partition, h.BaseOffset, err)
			}
			batches++
			offset = h.LastOffset() + 1
			b = b[h.Size():]
		}
	}
}

// duplicateMetric matches the broker's count of records of retried
// batches it recognised as duplicates.
var duplicateMetric = regexp.MustCompile(`(?m)^chronik_duplicate_records_total (\S+)$`)

// produceErrorMetric matches the broker's produce error counters.
var produceErrorMetric = regexp.MustCompile(`(?m)^chronik_produce_errors_total\{error="([^"]+)"\} (\S+)$`)

// brokerCounts reads the duplicate records and the produce errors by code
// from the broker's /metrics.
func (c *idemCase) brokerCounts() (duplicates int64, errs map[string]int64) {
	c.t.Helper()
	code, body := httpGet(c.t, "http://"+c.broker.addrs.HTTP+"/metrics")
	if code != 200 {
		c.t.Fatalf("/metrics: status %d", code)
	}
	m := duplicateMetric.FindStringSubmatch(body)
	if m == nil {
		c.t.Fatal("/metrics has no chronik_duplicate_records_total")
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		c.t.Fatalf("chronik_duplicate_records_total %q: %v", m[1], err)
	}
	errs = map[string]int64{}
	for _, e := range produceErrorMetric.FindAllStringSubmatch(body, -1) {
		if v, err := strconv.ParseFloat(e[2], 64); err == nil && v > 0 {
			errs[e[1]] = int64(v)
		}
	}
	return int64(f), errs
}

// verify reads the topic back and checks the client's delivery reports
// against it: every acknowledged record stored exactly once, at the offset
// the client was given, in its partition, in production order, and
// nothing stored that was not produced. It then checks that the run
// proves something: the proxy cut responses, and (when requireDuplicates)
// the broker recognised retried batches as duplicates. It logs the
// numbers of the run.
func (c *idemCase) verify(acks idemAcks, requireDuplicates bool) {
	t := c.t
	t.Helper()
	elapsed := time.Since(c.start)
	where := map[int]int64{} // seq -> stored offset
	batches := 0
	producers := map[string]bool{}
	for p := int32(0); p < idemPartitions; p++ {
		recs, nb := readIdemPartition(t, c.broker.addrs.Kafka, c.topic, p)
		batches += nb
		prev := -1
		for _, r := range recs {
			seq, ok := idemSeq(r.key)
			if !ok || string(r.value) != idemValue(c.client, seq) {
				t.Fatalf("%s/%d offset %d: a record that was never produced: key %q value %q", c.topic, p, r.offset, r.key, r.value)
			}
			if r.producerID < 0 {
				t.Fatalf("%s/%d offset %d: record %d stored without a producer id", c.topic, p, r.offset, seq)
			}
			producers[fmt.Sprintf("%d/%d", r.producerID, r.epoch)] = true
			if off, dup := where[seq]; dup {
				t.Fatalf("%s/%d: record %d stored twice, at offsets %d and %d", c.topic, p, seq, off, r.offset)
			}
			where[seq] = r.offset
			if want := c.partOf(seq); want != p {
				t.Fatalf("%s/%d offset %d: record %d belongs to partition %d", c.topic, p, r.offset, seq, want)
			}
			if seq <= prev {
				t.Fatalf("%s/%d: record %d at offset %d follows record %d: not in production order", c.topic, p, seq, r.offset, prev)
			}
			prev = seq
		}
	}
	var failed []string
	for seq := 0; seq < idemRecords; seq++ {
		off, stored := where[seq]
		ackOff, acked := acks.offsets[seq]
		switch {
		case acked && !stored:
			t.Fatalf("record %d was acknowledged at offset %d of partition %d but is not stored", seq, ackOff, c.partOf(seq))
		case acked && ackOff >= 0 && ackOff != off:
			t.Fatalf("record %d was acknowledged at offset %d of partition %d but is stored at offset %d", seq, ackOff, c.partOf(seq), off)
		case !acked:
			err, gaveUp := acks.failed[seq]
			if !gaveUp {
				t.Fatalf("record %d: the client reported neither its delivery nor a failure", seq)
			}
			failed = append(failed, fmt.Sprintf("record %d (stored: %v): %s", seq, stored, err))
		}
	}
	duplicates, errs := c.brokerCounts()
	t.Logf("%s: %d records acknowledged (%d given up), all stored once in production order in %d batches (producer id/epoch %s); proxy: %d connections, %d cuts, %d of them mid-response; broker: %d duplicate records recognised, produce errors %v; %v",
		c.client, len(acks.offsets), len(failed), batches, keysOf(producers), c.proxy.Connections(), c.proxy.Cuts(), c.proxy.ResponseCuts(), duplicates, errs, elapsed.Round(time.Millisecond))
	if len(failed) > 0 {
		// An idempotent producer with unlimited retries gives up on a
		// record only after a fatal error: a broker that keeps Kafka's
		// guarantees never causes one here.
		t.Errorf("%s gave up on %d records, first: %s", c.client, len(failed), failed[0])
	}
	if c.proxy.ResponseCuts() == 0 {
		t.Errorf("the proxy cut no connection in the middle of a response (%d cuts): the run proves nothing about retries", c.proxy.Cuts())
	}
	if requireDuplicates && duplicates == 0 {
		t.Errorf("the broker recognised no duplicate batch: the client never resent a batch the broker had appended")
	}
}

func keysOf(m map[string]bool) string {
	var s []string
	for k := range m {
		s = append(s, k)
	}
	sort.Strings(s)
	return strings.Join(s, ",")
}

// TestIdempotentFranzGoThroughCuts: franz-go's default producer
// (idempotent, acks=all, up to 5 requests in flight, snappy).
func TestIdempotentFranzGoThroughCuts(t *testing.T) {
	c := newIdemCase(t, "franz-go", byModulo)
	cl := newKgo(t, c.proxy.Addr(),
		kgo.DefaultProduceTopic(c.topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchMaxBytes(4<<10), // many batches, many requests
		kgo.RetryBackoffFn(func(int) time.Duration { return 10 * time.Millisecond }),
		kgo.RequestRetries(1000),
	)
	ctx, cancel := context.WithTimeout(context.Background(), idemTimeout)
	defer cancel()
	var mu sync.Mutex
	acks := newIdemAcks()
	for seq := 0; seq < idemRecords; seq++ {
		r := &kgo.Record{Key: []byte(idemKey(seq)), Value: []byte(idemValue(c.client, seq)), Partition: c.partOf(seq)}
		cl.Produce(ctx, r, func(r *kgo.Record, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				acks.failed[seq] = err.Error()
				return
			}
			if r.Partition != c.partOf(seq) {
				acks.failed[seq] = fmt.Sprintf("acknowledged in partition %d", r.Partition)
				return
			}
			acks.offsets[seq] = r.Offset
		})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatalf("franz-go flush: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	c.verify(acks, true)
}

// TestIdempotentSaramaThroughCuts: sarama's async producer with
// Idempotent, Net.MaxOpenRequests=1 and acks=all (lz4).
func TestIdempotentSaramaThroughCuts(t *testing.T) {
	c := newIdemCase(t, "sarama", byModulo)
	cfg := saramaConfig(sarama.DefaultVersion)
	cfg.Producer.Idempotent = true
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Retry.Max = 1000
	cfg.Producer.Retry.Backoff = 10 * time.Millisecond
	cfg.Producer.Return.Successes = true
	cfg.Producer.Return.Errors = true
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Producer.Compression = sarama.CompressionLZ4
	cfg.Producer.MaxMessageBytes = 4 << 10 // batches of at most 4 KiB
	cfg.Producer.Flush.MaxMessages = 60    // and about 50 requests
	cfg.Metadata.Retry.Max = 1000
	cfg.Metadata.Retry.Backoff = 10 * time.Millisecond
	p, err := sarama.NewAsyncProducer([]string{c.proxy.Addr()}, cfg)
	if err != nil {
		t.Fatalf("sarama producer: %v", err)
	}
	stop, fed := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(fed)
		for seq := 0; seq < idemRecords; seq++ {
			m := &sarama.ProducerMessage{
				Topic: c.topic, Partition: c.partOf(seq), Metadata: seq,
				Key: sarama.StringEncoder(idemKey(seq)), Value: sarama.StringEncoder(idemValue(c.client, seq)),
			}
			select {
			case p.Input() <- m:
			case <-stop:
				return
			}
		}
	}()
	acks := newIdemAcks()
	timeout := time.After(idemTimeout)
	for n := 0; n < idemRecords; n++ {
		select {
		case m := <-p.Successes():
			acks.offsets[m.Metadata.(int)] = m.Offset
		case e := <-p.Errors():
			acks.failed[e.Msg.Metadata.(int)] = e.Err.Error()
		case <-timeout:
			close(stop)
			<-fed
			p.AsyncClose()
			go func() {
				for range p.Successes() {
				}
			}()
			go func() {
				for range p.Errors() {
				}
			}()
			t.Fatalf("sarama: %d of %d delivery reports after %v", n, idemRecords, idemTimeout)
		}
	}
	<-fed
	if err := p.Close(); err != nil {
		t.Fatalf("sarama close: %v", err)
	}
	c.verify(acks, false)
}

// kafkajsAck is one line of testdata/kafkajs_idempotent.js's output: the
// answer to one send of records [first, first+count).
type kafkajsAck struct {
	First   int    `json:"first"`
	Count   int    `json:"count"`
	Error   string `json:"error"`
	Results []struct {
		Partition  int32  `json:"partition"`
		BaseOffset string `json:"baseOffset"`
		ErrorCode  int16  `json:"errorCode"`
	} `json:"results"`
}

// TestIdempotentKafkajsThroughCuts: kafkajs's producer with idempotent:
// true and maxInFlightRequests: 1 (kafkajs keeps one sequence per
// partition and numbers a send when it is built, so it sends one at a
// time), gzip.
func TestIdempotentKafkajsThroughCuts(t *testing.T) {
	node, env := kafkajsEnv(t)
	script, err := filepath.Abs(filepath.Join("testdata", "kafkajs_idempotent.js"))
	if err != nil {
		t.Fatal(err)
	}
	c := newIdemCase(t, "kafkajs", byModulo)
	ctx, cancel := context.WithTimeout(context.Background(), idemTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script, c.proxy.Addr(), c.topic, strconv.Itoa(idemRecords), strconv.Itoa(idemPartitions))
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if os.Getenv("KAFKAJS_LOG_LEVEL") != "" {
		t.Logf("kafkajs log:\n%s", stderr.String())
	}
	if err != nil {
		t.Fatalf("kafkajs: %v\n%s", err, lastLines(stderr.String(), 20))
	}
	acks := newIdemAcks()
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var a kafkajsAck
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("kafkajs output %q: %v", sc.Text(), err)
		}
		base := map[int32]int64{}
		for _, r := range a.Results {
			off, err := strconv.ParseInt(r.BaseOffset, 10, 64)
			if err != nil || r.ErrorCode != 0 {
				t.Fatalf("kafkajs result %+v for records %d-%d", r, a.First, a.First+a.Count-1)
			}
			base[r.Partition] = off
		}
		for seq := a.First; seq < a.First+a.Count; seq++ {
			if a.Error != "" {
				acks.failed[seq] = a.Error
				continue
			}
			p := c.partOf(seq)
			off, ok := base[p]
			if !ok {
				acks.failed[seq] = fmt.Sprintf("no result for partition %d", p)
				continue
			}
			// Records of one send are stored in order in their
			// partition, from the partition's base offset.
			acks.offsets[seq] = off
			base[p] = off + 1
		}
	}
	c.verify(acks, false)
}

// kcatDelivered matches kcat's delivery reports at verbosity 3.
var kcatDelivered = regexp.MustCompile(`^% Message delivered to partition (\d+) \(offset (-?\d+)\)`)

// kcatPartition is librdkafka's "consistent" partitioner: CRC-32 (IEEE)
// of the key modulo the partition count.
func kcatPartition(seq int) int32 {
	return int32(crc32.ChecksumIEEE([]byte(idemKey(seq))) % idemPartitions)
}

// TestIdempotentKcatThroughCuts: kcat (librdkafka) with
// enable.idempotence=true (acks=all, up to 5 requests in flight, unlimited
// retries), zstd. kcat reports deliveries as partition and offset only;
// librdkafka reports them in production order per partition, so the k-th
// report of a partition is the k-th record sent to it.
func TestIdempotentKcatThroughCuts(t *testing.T) {
	kcat := kcatPath(t)
	c := newIdemCase(t, "kcat", kcatPartition)
	var in bytes.Buffer
	for seq := 0; seq < idemRecords; seq++ {
		fmt.Fprintf(&in, "%s:%s\n", idemKey(seq), idemValue(c.client, seq))
	}
	ctx, cancel := context.WithTimeout(context.Background(), idemTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcat, "-P", "-b", c.proxy.Addr(), "-t", c.topic, "-K:", "-v", "-v", "-E",
		"-X", "enable.idempotence=true", "-X", "partitioner=consistent", "-X", "compression.codec=zstd",
		"-X", "linger.ms=2", "-X", "batch.num.messages=40",
		"-X", "retry.backoff.ms=10", "-X", "reconnect.backoff.ms=10", "-X", "reconnect.backoff.max.ms=100",
		"-X", "message.timeout.ms=150000")
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat: %v\n%s", err, lastLines(stderr.String(), 20))
	}
	// The records of each partition in production order.
	var sent [idemPartitions][]int
	for seq := 0; seq < idemRecords; seq++ {
		p := c.partOf(seq)
		sent[p] = append(sent[p], seq)
	}
	acks := newIdemAcks()
	var next [idemPartitions]int
	var failures []string
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, "Delivery failed") {
			failures = append(failures, line)
			continue
		}
		m := kcatDelivered.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		p, _ := strconv.Atoi(m[1])
		off, _ := strconv.ParseInt(m[2], 10, 64)
		if p >= idemPartitions || next[p] >= len(sent[p]) {
			t.Fatalf("kcat reported more deliveries to partition %d than records sent to it: %s", p, line)
		}
		acks.offsets[sent[p][next[p]]] = off
		next[p]++
	}
	if len(failures) > 0 {
		// kcat does not say which record failed.
		t.Errorf("kcat: %d failed deliveries, first: %s", len(failures), failures[0])
		for seq := 0; seq < idemRecords; seq++ {
			if _, ok := acks.offsets[seq]; !ok {
				acks.failed[seq] = "delivery failed"
			}
		}
	}
	c.verify(acks, false)
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
