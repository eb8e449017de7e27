package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/chronik-go/chronik/errcode"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Transactions with real clients. Each producer runs the same script on a
// two-partition topic: transaction 1 commits three records to partition 0,
// transaction 2 aborts three records on each partition, transaction 3
// commits three records on each partition. Then a plain record keyed
// "end" goes to each partition, so that a consumer knows it has read
// everything: read_committed consumers must see exactly the committed
// records before it, read_uncommitted ones every data record, and none
// sees a control record.

// txnRecord is the key of record i of a transaction's partition: the
// transaction's label ("c1", "a2", "c3"), the partition and i.
func txnRecord(label string, partition int32, i int) string {
	return fmt.Sprintf("%s-p%d-%d", label, partition, i)
}

// txnPlan is one transaction of the script.
type txnPlan struct {
	label      string
	commit     bool
	partitions []int32
}

var txnScript = []txnPlan{
	{"c1", true, []int32{0}},
	{"a2", false, []int32{0, 1}},
	{"c3", true, []int32{0, 1}},
}

const txnRecordsPer = 3 // records per partition per transaction

// keyFunc names record i of a transaction's partition (txnRecord, or
// kcatTxnKey for kcat, which cannot pick partitions within one run).
type keyFunc func(label string, partition int32, i int) string

// wantTxnKeys returns, per partition, the keys a consumer must see before
// the "end" sentinel: committed transactions only, or all of them.
func wantTxnKeys(committedOnly bool, key keyFunc) map[int32][]string {
	want := map[int32][]string{0: nil, 1: nil}
	for _, tx := range txnScript {
		if committedOnly && !tx.commit {
			continue
		}
		for _, p := range tx.partitions {
			for i := 0; i < txnRecordsPer; i++ {
				want[p] = append(want[p], key(tx.label, p, i))
			}
		}
	}
	return want
}

// endSentinels produces the plain "end" record to every partition of
// topic.
func endSentinels(t testing.TB, addr, topic string, partitions int32) {
	t.Helper()
	cl := newKgo(t, addr, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := int32(0); p < partitions; p++ {
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Partition: p, Key: []byte("end"), Value: []byte("end")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// checkTxnKeys compares what a consumer read (per partition, up to and
// without the sentinel) with wantTxnKeys.
func checkTxnKeys(t testing.TB, client string, got map[int32][]string, committedOnly bool, key keyFunc) {
	t.Helper()
	want := wantTxnKeys(committedOnly, key)
	for p, w := range want {
		if !slices.Equal(got[p], w) {
			t.Fatalf("%s, partition %d: read %v, want %v", client, p, got[p], w)
		}
	}
}

// txnTopic creates a two-partition topic for one client's script.
func txnTopic(t testing.TB, addr, name string) string {
	t.Helper()
	createTopic(t, addr, name, 2, nil)
	return name
}

// runKgoTxnScript runs the script with a franz-go transactional producer.
func runKgoTxnScript(t testing.TB, addr, topic, txnID string) {
	t.Helper()
	cl := newKgo(t, addr, kgo.TransactionalID(txnID), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	for _, tx := range txnScript {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for _, p := range tx.partitions {
			for i := 0; i < txnRecordsPer; i++ {
				k := txnRecord(tx.label, p, i)
				if err := cl.ProduceSync(ctx, &kgo.Record{Partition: p, Key: []byte(k), Value: []byte("v-" + k)}).FirstErr(); err != nil {
					t.Fatalf("franz-go transactional produce: %v", err)
				}
			}
		}
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(tx.commit)); err != nil {
			t.Fatalf("franz-go end transaction %s: %v", tx.label, err)
		}
	}
}

// consumeKgoUntilEnd reads every partition of topic from the start with
// franz-go until each partition's "end" record, and returns the keys read
// before it, per partition. It fails on a control record surfacing.
func consumeKgoUntilEnd(t testing.TB, addr, topic string, partitions int32, committed bool) map[int32][]string {
	t.Helper()
	offsets := map[int32]kgo.Offset{}
	for p := int32(0); p < partitions; p++ {
		offsets[p] = kgo.NewOffset().AtStart()
	}
	opts := []kgo.Opt{kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}), kgo.FetchMaxWait(250 * time.Millisecond)}
	if committed {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl := newKgo(t, addr, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	got := map[int32][]string{}
	done := map[int32]bool{}
	for len(done) < int(partitions) {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("franz-go consume %s: read %v after %v without every end record", topic, got, clientTimeout)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("franz-go fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if r.Attrs.IsControl() {
				t.Fatalf("control record surfaced at %d", r.Offset)
			}
			if done[r.Partition] {
				t.Fatalf("partition %d: record %q after the end record", r.Partition, r.Key)
			}
			if string(r.Key) == "end" {
				done[r.Partition] = true
				return
			}
			got[r.Partition] = append(got[r.Partition], string(r.Key))
		})
	}
	return got
}

// consumeSaramaUntilEnd is consumeKgoUntilEnd with sarama's partition
// consumers, read_committed.
func consumeSaramaUntilEnd(t testing.TB, addr, topic string, partitions int32) map[int32][]string {
	t.Helper()
	cfg := saramaConfig(sarama.DefaultVersion)
	cfg.Consumer.IsolationLevel = sarama.ReadCommitted
	c, err := sarama.NewConsumer([]string{addr}, cfg)
	if err != nil {
		t.Fatalf("sarama consumer: %v", err)
	}
	defer c.Close()
	got := map[int32][]string{}
	timeout := time.After(clientTimeout)
	for p := int32(0); p < partitions; p++ {
		pc, err := c.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatalf("sarama consume partition: %v", err)
		}
		for done := false; !done; {
			select {
			case m := <-pc.Messages():
				if string(m.Key) == "end" {
					done = true
				} else {
					got[p] = append(got[p], string(m.Key))
				}
			case err := <-pc.Errors():
				t.Fatalf("sarama consume: %v", err)
			case <-timeout:
				t.Fatalf("sarama consume %s/%d: read %v after %v without the end record", topic, p, got[p], clientTimeout)
			}
		}
		pc.Close()
	}
	return got
}

// consumeKcatUntilEnd reads each partition with kcat -C (librdkafka's
// default isolation.level is read_committed) up to its end.
func consumeKcatUntilEnd(t *testing.T, kcat, addr, topic string, partitions int32) map[int32][]string {
	t.Helper()
	got := map[int32][]string{}
	for p := int32(0); p < partitions; p++ {
		out := runCmd(t, nil, nil, kcat, "-C", "-b", addr, "-t", topic, "-p", fmt.Sprint(p), "-o", "beginning", "-e", "-q", "-f", `%k\x1e`)
		keys := strings.Split(strings.TrimSuffix(string(out), "\x1e"), "\x1e")
		if len(keys) == 0 || keys[len(keys)-1] != "end" {
			t.Fatalf("kcat %s/%d: read %q, want the end record last", topic, p, keys)
		}
		got[p] = keys[:len(keys)-1]
	}
	return got
}

// checkTxnConsumers runs every consumer over a topic that went through
// the script and checks what each reads: franz-go at both isolation
// levels, sarama and kcat read_committed, and with withKafkajs a kafkajs
// consumer group (read_committed by default).
func checkTxnConsumers(t *testing.T, addr, topic string, key keyFunc, withKafkajs bool) {
	t.Helper()
	endSentinels(t, addr, topic, 2)
	checkTxnKeys(t, "franz-go read_committed", consumeKgoUntilEnd(t, addr, topic, 2, true), true, key)
	checkTxnKeys(t, "franz-go read_uncommitted", consumeKgoUntilEnd(t, addr, topic, 2, false), false, key)
	checkTxnKeys(t, "sarama read_committed", consumeSaramaUntilEnd(t, addr, topic, 2), true, key)
	if kcat := optionalKcat(t); kcat != "" {
		checkTxnKeys(t, "kcat", consumeKcatUntilEnd(t, kcat, addr, topic, 2), true, key)
	}
	if !withKafkajs {
		return
	}
	if node, env := optionalKafkajs(t); node != "" {
		n := 0
		for _, keys := range wantTxnKeys(true, key) {
			n += len(keys) + 1 // and the end record
		}
		res := runKafkajsConsumer(t, node, env, addr, topic, "kjs-readers-"+topic, 1, n)
		got := map[int32][]string{}
		for _, m := range res.Messages {
			if m.Key != "end" {
				got[m.Partition] = append(got[m.Partition], m.Key)
			}
		}
		checkTxnKeys(t, "kafkajs consumer group", got, true, key)
	}
}

// optionalKcat returns kcat's path, or "" (logged) when it is not
// installed; under CI=true a missing kcat fails the test.
func optionalKcat(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("kcat is not installed: run scripts/install-kcat.sh (CI=true: external clients are required)")
		}
		t.Log("kcat is not installed (scripts/install-kcat.sh): its read_committed check is skipped")
		return ""
	}
	return p
}

// txnBroker starts a broker for transaction and group tests: a short
// initial rebalance delay and a short session timeout floor keep the
// tests fast.
func txnBroker(t *testing.T, mod func(*config)) *testBroker {
	t.Helper()
	return newBroker(t, func(c *config) {
		c.GroupInitialDelay = 200 * time.Millisecond
		c.GroupMinSession = time.Second
		if mod != nil {
			mod(c)
		}
	})
}

// TestTransactionsFranzGo: franz-go's transactional producer; franz-go
// (both isolation levels), sarama and kcat consume.
func TestTransactionsFranzGo(t *testing.T) {
	b := txnBroker(t, nil)
	topic := txnTopic(t, b.addrs.Kafka, "txn-kgo")
	runKgoTxnScript(t, b.addrs.Kafka, topic, "kgo-txn")
	checkTxnConsumers(t, b.addrs.Kafka, topic, txnRecord, true)
}

// runSaramaTxnScript runs the script with sarama's transactional
// producer (it needs Idempotent, Net.MaxOpenRequests=1, Version >= 0.11).
func runSaramaTxnScript(t testing.TB, addr, topic, txnID string) {
	t.Helper()
	cfg := saramaConfig(sarama.DefaultVersion)
	cfg.Producer.Idempotent = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Producer.Transaction.ID = txnID
	cfg.Producer.Transaction.Retry.Backoff = 20 * time.Millisecond
	cfg.Net.MaxOpenRequests = 1
	p, err := sarama.NewSyncProducer([]string{addr}, cfg)
	if err != nil {
		t.Fatalf("sarama transactional producer: %v", err)
	}
	defer p.Close()
	for _, tx := range txnScript {
		if err := p.BeginTxn(); err != nil {
			t.Fatal(err)
		}
		for _, part := range tx.partitions {
			for i := 0; i < txnRecordsPer; i++ {
				k := txnRecord(tx.label, part, i)
				if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Partition: part, Key: sarama.StringEncoder(k), Value: sarama.StringEncoder("v-" + k)}); err != nil {
					t.Fatalf("sarama transactional send: %v", err)
				}
			}
		}
		if tx.commit {
			err = p.CommitTxn()
		} else {
			err = p.AbortTxn()
		}
		if err != nil {
			t.Fatalf("sarama end transaction %s: %v", tx.label, err)
		}
	}
}

// TestTransactionsSarama: sarama's transactional producer.
func TestTransactionsSarama(t *testing.T) {
	b := txnBroker(t, nil)
	topic := txnTopic(t, b.addrs.Kafka, "txn-sarama")
	runSaramaTxnScript(t, b.addrs.Kafka, topic, "sarama-txn")
	checkTxnConsumers(t, b.addrs.Kafka, topic, txnRecord, false)
}

// TestTransactionFencing: a second producer with the same transactional
// id fences the first: the first's open transaction is aborted (invisible
// to read_committed, and the LSO moves past it) and its next produce and
// commit fail with a fencing error.
func TestTransactionFencing(t *testing.T) {
	b := txnBroker(t, nil)
	addr := b.addrs.Kafka
	topic := txnTopic(t, addr, "txn-fence")
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	opts := []kgo.Opt{kgo.TransactionalID("fenced-id"), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner())}
	first := newKgo(t, addr, opts...)
	if err := first.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := first.ProduceSync(ctx, &kgo.Record{Key: []byte(fmt.Sprint("old-", i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if lso := lastStable(t, addr, topic, 0); lso != 0 {
		t.Fatalf("LSO %d with the first transaction open, want 0", lso)
	}

	second := newKgo(t, addr, opts...)
	if err := second.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	// The second producer's InitProducerId fenced the first and aborted
	// its transaction (the client retried CONCURRENT_TRANSACTIONS until
	// the ABORT marker was written).
	if err := second.ProduceSync(ctx, &kgo.Record{Key: []byte("new-0")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := second.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}

	err := first.ProduceSync(ctx, &kgo.Record{Key: []byte("old-late")}).FirstErr()
	if err == nil {
		err = first.EndTransaction(ctx, kgo.TryCommit)
	}
	if !isFenced(err) {
		t.Fatalf("fenced producer's produce/commit: %v, want a fencing error", err)
	}
	t.Logf("fenced producer: %v", err)
	if err := first.EndTransaction(ctx, kgo.TryCommit); err == nil {
		t.Fatal("fenced producer committed")
	}
	endSentinels(t, addr, topic, 1)
	got := consumeKgoUntilEnd(t, addr, topic, 1, true)
	if !slices.Equal(got[0], []string{"new-0"}) {
		t.Fatalf("read_committed after fencing: %v, want only the second producer's record", got[0])
	}
}

// isFenced reports whether err is one of the errors a fenced transactional
// producer gets.
func isFenced(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) ||
		errors.Is(err, kerr.InvalidProducerIDMapping) || errors.Is(err, kerr.TransactionalIDAuthorizationFailed)
}

// lastStable returns a partition's last stable offset (ListOffsets latest,
// read_committed).
func lastStable(t testing.TB, addr, topic string, partition int32) int64 {
	t.Helper()
	return listLatest(t, addr, topic, partition, 1)
}

// listLatest returns ListOffsets latest at an isolation level: the high
// watermark (0) or the last stable offset (1).
func listLatest(t testing.TB, addr, topic string, partition int32, isolation int8) int64 {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.IsolationLevel = isolation
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp = partition, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	p := dialRaw(t, addr).roundTrip(req, 7).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
	if p.ErrorCode != 0 {
		t.Fatalf("ListOffsets: %s", errcode.Code(p.ErrorCode))
	}
	return p.Offset
}

// TestTransactionTimeout: a producer with a 2 s transaction timeout
// abandons a transaction; the coordinator (cleanup every 200 ms here)
// aborts it within the timeout plus a little, read_committed consumers
// move past it, and the producer's next commit is fenced.
func TestTransactionTimeout(t *testing.T) {
	b := txnBroker(t, func(c *config) { c.TxnAbortInterval = 200 * time.Millisecond })
	addr := b.addrs.Kafka
	topic := txnTopic(t, addr, "txn-timeout")
	cl := newKgo(t, addr, kgo.TransactionalID("slow"), kgo.TransactionTimeout(2*time.Second),
		kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte("abandoned")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	endSentinels(t, addr, topic, 1) // after the open transaction: held back by the LSO
	if lso := lastStable(t, addr, topic, 0); lso != 0 {
		t.Fatalf("LSO %d with the transaction open, want 0", lso)
	}
	for lastStable(t, addr, topic, 0) == 0 {
		if time.Since(start) > 2*time.Second+3*time.Second {
			t.Fatalf("transaction with a 2s timeout still open after %v", time.Since(start))
		}
		time.Sleep(50 * time.Millisecond)
	}
	aborted := time.Since(start)
	if aborted < 1500*time.Millisecond {
		t.Fatalf("transaction aborted after %v, before its 2s timeout", aborted)
	}
	if lso := lastStable(t, addr, topic, 0); lso != 3 { // data, end record, ABORT marker
		t.Fatalf("LSO %d after the abort, want 3", lso)
	}
	if got := consumeKgoUntilEnd(t, addr, topic, 1, true); len(got[0]) != 0 {
		t.Fatalf("read_committed after the timeout: %v", got[0])
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); !isFenced(err) {
		t.Fatalf("commit after the timeout: %v, want a fencing error", err)
	}
}

// kcatLine is the length of kcat's input lines: see runKcatTxnScript.
const kcatLine = 1024

// kcatTxnKey is txnRecord with "x"s appended until librdkafka's consistent
// partitioner (CRC-32 of the key modulo the partition count) puts it on
// the partition, so that one kcat run can write to both partitions.
func kcatTxnKey(label string, partition int32, i int) string {
	k := txnRecord(label, partition, i)
	for crc32.ChecksumIEEE([]byte(k))%2 != uint32(partition) {
		k += "x"
	}
	return k
}

// runKcatTxnScript runs the script with kcat -P and a transactional.id:
// kcat commits when its input ends; the aborted transaction is kcat
// interrupted (SIGINT) with its input still open, once its records are in
// the log (kcat then aborts when its input ends). kcat reads its input in
// blocks of 1024 bytes and produces only the complete lines of what it
// has read, so every line is padded to exactly 1024 bytes.
func runKcatTxnScript(t *testing.T, kcat, addr, topic, txnID string) {
	t.Helper()
	args := []string{"-P", "-b", addr, "-t", topic, "-K:", "-X", "transactional.id=" + txnID,
		"-X", "partitioner=consistent", "-X", "linger.ms=5"}
	for _, tx := range txnScript {
		var in bytes.Buffer
		for _, p := range tx.partitions {
			for i := 0; i < txnRecordsPer; i++ {
				k := kcatTxnKey(tx.label, p, i)
				line := k + ":v-" + k
				fmt.Fprintf(&in, "%s%s\n", line, strings.Repeat(" ", kcatLine-1-len(line)))
			}
		}
		if tx.commit {
			runCmd(t, in.Bytes(), nil, kcat, args...)
			continue
		}
		hw := map[int32]int64{}
		for _, p := range tx.partitions {
			hw[p] = listLatest(t, addr, topic, p, 0)
		}
		cmd := exec.Command(kcat, args...)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr syncBuffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		if _, err := stdin.Write(in.Bytes()); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for _, p := range tx.partitions {
			for listLatest(t, addr, topic, p, 0) < hw[p]+txnRecordsPer {
				if time.Now().After(deadline) {
					_ = cmd.Process.Kill()
					t.Fatalf("kcat's records did not reach partition %d:\n%s", p, stderr.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		stdin.Close()
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("kcat did not exit after SIGINT:\n%s", stderr.String())
		}
		if !strings.Contains(stderr.String(), "Aborting transaction") {
			t.Fatalf("kcat did not abort:\n%s", stderr.String())
		}
		// kcat exits once its abort is answered, which is after the
		// ABORT markers are durable: nothing is open any more.
		for _, p := range tx.partitions {
			if lso, hw := listLatest(t, addr, topic, p, 1), listLatest(t, addr, topic, p, 0); lso != hw {
				t.Fatalf("partition %d after kcat's abort: LSO %d, high watermark %d:\n%s", p, lso, hw, stderr.String())
			}
		}
	}
}

// TestTransactionsKcat: kcat (librdkafka) as the transactional producer.
func TestTransactionsKcat(t *testing.T) {
	kcat := kcatPath(t)
	b := txnBroker(t, nil)
	topic := txnTopic(t, b.addrs.Kafka, "txn-kcat")
	runKcatTxnScript(t, kcat, b.addrs.Kafka, topic, "kcat-txn")
	checkTxnConsumers(t, b.addrs.Kafka, topic, kcatTxnKey, false)
}

// TestTransactionsKafkajs: a kafkajs transactional producer, which also
// commits consumer-group offsets inside its transactions (sendOffsets):
// the aborted transaction's offset is dropped, the committed one's kept.
func TestTransactionsKafkajs(t *testing.T) {
	node, env := kafkajsEnv(t)
	b := txnBroker(t, nil)
	topic := txnTopic(t, b.addrs.Kafka, "txn-kafkajs")
	script, err := filepath.Abs(filepath.Join("testdata", "kafkajs_txn.js"))
	if err != nil {
		t.Fatal(err)
	}
	runCmd(t, nil, env, node, script, b.addrs.Kafka, topic, "kafkajs-txn", "kjs-offsets")
	checkTxnConsumers(t, b.addrs.Kafka, topic, txnRecord, true)
	if got := committedOffsets(t, b.addrs.Kafka, "kjs-offsets", topic, 1); got[0] != 42 {
		t.Fatalf("offset committed in kafkajs' transactions: %d, want 42", got[0])
	}
}
