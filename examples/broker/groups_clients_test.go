package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chronik-go/chronik/errcode"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Consumer groups with real clients: members share partitions, commit
// offsets, and a later member resumes from them; franz-go's
// GroupTransactSession consumes, produces and commits its offsets in one
// transaction.

// committedOffsets reads a group's committed offsets of partitions
// 0..n-1 of topic with OffsetFetch v8 and require_stable (-1 when none).
func committedOffsets(t testing.TB, addr, group, topic string, n int32) map[int32]int64 {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.RequireStable = true
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = group
	rt := kmsg.NewOffsetFetchRequestGroupTopic()
	rt.Topic = topic
	for p := int32(0); p < n; p++ {
		rt.Partitions = append(rt.Partitions, p)
	}
	rg.Topics = append(rg.Topics, rt)
	req.Groups = append(req.Groups, rg)
	resp := dialRaw(t, addr).roundTrip(req, 8).(*kmsg.OffsetFetchResponse)
	g := resp.Groups[0]
	if g.ErrorCode != 0 {
		t.Fatalf("OffsetFetch %s: %s", group, errcode.Code(g.ErrorCode))
	}
	out := map[int32]int64{}
	for _, p := range g.Topics[0].Partitions {
		if p.ErrorCode != 0 {
			t.Fatalf("OffsetFetch %s %s/%d: %s", group, topic, p.Partition, errcode.Code(p.ErrorCode))
		}
		out[p.Partition] = p.Offset
	}
	return out
}

// produceKeys produces one record per key to its partition (idempotent,
// acks=all) and returns once all are acknowledged.
func produceKeys(t testing.TB, addr, topic string, keys map[int32][]string) {
	t.Helper()
	cl := newKgo(t, addr, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var rs []*kgo.Record
	for p, ks := range keys {
		for _, k := range ks {
			rs = append(rs, &kgo.Record{Partition: p, Key: []byte(k), Value: []byte("v-" + k)})
		}
	}
	if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// keysPer returns n keys per partition for partitions 0..parts-1, named
// prefix-p<p>-<i> starting at i = from.
func keysPer(prefix string, parts int32, from, n int) map[int32][]string {
	out := map[int32][]string{}
	for p := int32(0); p < parts; p++ {
		for i := from; i < from+n; i++ {
			out[p] = append(out[p], fmt.Sprintf("%s-p%d-%d", prefix, p, i))
		}
	}
	return out
}

// describeGroup returns DescribeGroups v5 of one group.
func describeGroup(t testing.TB, addr, group string) kmsg.DescribeGroupsResponseGroup {
	t.Helper()
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Groups = []string{group}
	return dialRaw(t, addr).roundTrip(req, 5).(*kmsg.DescribeGroupsResponse).Groups[0]
}

// waitStable waits until the group is Stable with n members that all have
// an assignment.
func waitStable(t testing.TB, addr, group string, n int) kmsg.DescribeGroupsResponseGroup {
	t.Helper()
	deadline := time.Now().Add(clientTimeout)
	for {
		g := describeGroup(t, addr, group)
		ok := g.State == "Stable" && len(g.Members) == n
		for _, m := range g.Members {
			ok = ok && len(m.MemberAssignment) > 0
		}
		if ok {
			return g
		}
		if time.Now().After(deadline) {
			t.Fatalf("group %s not Stable with %d assigned members after %v: %+v", group, n, clientTimeout, g)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestConsumerGroupFranzGo: two franz-go members (cooperative-sticky,
// franz-go's default) split a four-partition topic, each record is read
// once, offsets are committed; after both leave, a new member reads only
// what came after.
func TestConsumerGroupFranzGo(t *testing.T) {
	b := txnBroker(t, nil)
	addr, topic, group := b.addrs.Kafka, "grp-kgo", "kgo-group"
	createTopic(t, addr, topic, 4, nil)
	var mu sync.Mutex
	owned := map[int]map[int32]bool{0: {}, 1: {}} // member -> partitions it holds
	member := func(i int) *kgo.Client {
		set := func(m map[string][]int32, on bool) {
			mu.Lock()
			defer mu.Unlock()
			for _, p := range m[topic] {
				if on {
					owned[i][p] = true
				} else {
					delete(owned[i], p)
				}
			}
		}
		return newKgo(t, addr, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(),
			kgo.FetchMaxWait(250*time.Millisecond), kgo.ClientID(fmt.Sprint("member-", i)),
			kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { set(m, true) }),
			kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { set(m, false) }),
			kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { set(m, false) }))
	}
	members := []*kgo.Client{member(0), member(1)}
	deadline := time.Now().Add(clientTimeout)
	for {
		mu.Lock()
		split := len(owned[0]) == 2 && len(owned[1]) == 2
		mu.Unlock()
		if split {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("partitions not split between the two members: %v", owned)
		}
		// franz-go joins a group once a poll starts its consumer.
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		for _, m := range members {
			m.PollFetches(ctx)
		}
		cancel()
	}
	g := waitStable(t, addr, group, 2)
	if g.Protocol != "cooperative-sticky" || g.ProtocolType != "consumer" {
		t.Fatalf("group protocol %q/%q", g.ProtocolType, g.Protocol)
	}

	first := keysPer("first", 4, 0, 10)
	produceKeys(t, addr, topic, first)
	got := make([]map[int32][]string, 2)
	var wg sync.WaitGroup
	n, all := 0, make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	for i, m := range members {
		got[i] = map[int32][]string{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				fs := m.PollFetches(ctx)
				fs.EachRecord(func(r *kgo.Record) {
					mu.Lock()
					defer mu.Unlock()
					got[i][r.Partition] = append(got[i][r.Partition], string(r.Key))
					if n++; n == 40 {
						close(all)
					}
				})
			}
		}()
	}
	select {
	case <-all:
	case <-ctx.Done():
		t.Fatalf("the members read %d of 40 records", n)
	}
	time.Sleep(300 * time.Millisecond) // any duplicate would arrive now
	cancel()
	wg.Wait()
	for i := range members {
		for p, keys := range got[i] {
			if !owned[i][p] {
				t.Fatalf("member %d read partition %d, which it does not own (%v)", i, p, owned[i])
			}
			if !slices.Equal(keys, first[p]) {
				t.Fatalf("member %d partition %d: %v, want %v", i, p, keys, first[p])
			}
		}
		if len(got[i]) != 2 {
			t.Fatalf("member %d read %d partitions, want 2", i, len(got[i]))
		}
	}
	for _, m := range members {
		if err := m.CommitUncommittedOffsets(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if offs := committedOffsets(t, addr, group, topic, 4); !equalOffsets(offs, map[int32]int64{0: 10, 1: 10, 2: 10, 3: 10}) {
		t.Fatalf("committed offsets %v, want 10 everywhere", offs)
	}
	for _, m := range members {
		m.Close() // LeaveGroup
	}
	if g := describeGroup(t, addr, group); g.State != "Empty" {
		t.Fatalf("group %s after both members left, want Empty", g.State)
	}

	// A new member resumes from the committed offsets.
	produceKeys(t, addr, topic, keysPer("second", 4, 0, 2))
	resumed := newKgo(t, addr, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.FetchMaxWait(250*time.Millisecond))
	var keys []string
	ctx2, cancel2 := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel2()
	for len(keys) < 8 {
		fs := resumed.PollFetches(ctx2)
		if ctx2.Err() != nil {
			t.Fatalf("resumed member read %v", keys)
		}
		fs.EachRecord(func(r *kgo.Record) { keys = append(keys, string(r.Key)) })
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "second-") {
			t.Fatalf("resumed member read %q again: offsets were not resumed (%v)", k, keys)
		}
	}
}

// equalOffsets compares offset maps.
func equalOffsets(a, b map[int32]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// kafkajsResult is the output of testdata/kafkajs_consume.js.
type kafkajsResult struct {
	Messages []struct {
		Member    int    `json:"member"`
		Partition int32  `json:"partition"`
		Offset    string `json:"offset"`
		Key       string `json:"key"`
	} `json:"messages"`
	Members int `json:"members"`
}

// startKafkajsConsumer starts testdata/kafkajs_consume.js with members
// consumers in group until they read n messages; the returned function
// waits for it and parses its output.
func startKafkajsConsumer(t *testing.T, node string, env []string, addr, topic, group string, members, n int) func() kafkajsResult {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("testdata", "kafkajs_consume.js"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := exec.CommandContext(ctx, node, script, addr, topic, group, fmt.Sprint(members), fmt.Sprint(n))
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var once sync.Once
	var waitErr error
	waitCmd := func() error {
		once.Do(func() { waitErr = <-done })
		return waitErr
	}
	t.Cleanup(func() { cancel(); _ = waitCmd() })
	return func() kafkajsResult {
		t.Helper()
		if err := waitCmd(); err != nil {
			t.Fatalf("kafkajs consumer: %v\nstderr:\n%s", err, stderr.String())
		}
		var res kafkajsResult
		if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
			t.Fatalf("kafkajs consumer output %q: %v", stdout.String(), err)
		}
		return res
	}
}

// runKafkajsConsumer runs testdata/kafkajs_consume.js to completion.
func runKafkajsConsumer(t *testing.T, node string, env []string, addr, topic, group string, members, n int) kafkajsResult {
	t.Helper()
	return startKafkajsConsumer(t, node, env, addr, topic, group, members, n)()
}

// TestConsumerGroupKafkajs: two kafkajs consumers (one group, kafkajs'
// eager RoundRobinAssigner) share a four-partition topic, each record is
// read once and offsets are committed; a second run resumes from them.
func TestConsumerGroupKafkajs(t *testing.T) {
	node, env := kafkajsEnv(t)
	b := txnBroker(t, nil)
	addr, topic, group := b.addrs.Kafka, "grp-kafkajs", "kafkajs-group"
	createTopic(t, addr, topic, 4, nil)
	wait := startKafkajsConsumer(t, node, env, addr, topic, group, 2, 40)
	g := waitStable(t, addr, group, 2)
	if g.Protocol != "RoundRobinAssigner" {
		t.Fatalf("kafkajs group protocol %q", g.Protocol)
	}
	first := keysPer("first", 4, 0, 10)
	produceKeys(t, addr, topic, first)
	res := wait()
	if res.Members != 2 {
		t.Fatalf("%d kafkajs members received messages, want 2", res.Members)
	}
	got := map[int32][]string{}
	byMember := map[int32]int{}
	for _, m := range res.Messages {
		got[m.Partition] = append(got[m.Partition], m.Key)
		if prev, ok := byMember[m.Partition]; ok && prev != m.Member {
			t.Fatalf("partition %d read by two members", m.Partition)
		}
		byMember[m.Partition] = m.Member
	}
	for p, keys := range first {
		if !slices.Equal(got[p], keys) {
			t.Fatalf("partition %d: %v, want %v", p, got[p], keys)
		}
	}
	if offs := committedOffsets(t, addr, group, topic, 4); !equalOffsets(offs, map[int32]int64{0: 10, 1: 10, 2: 10, 3: 10}) {
		t.Fatalf("committed offsets %v, want 10 everywhere", offs)
	}
	second := keysPer("second", 4, 0, 2)
	produceKeys(t, addr, topic, second)
	res = runKafkajsConsumer(t, node, env, addr, topic, group, 1, 8)
	if len(res.Messages) != 8 {
		t.Fatalf("resumed kafkajs consumer read %d messages, want the 8 new ones: %+v", len(res.Messages), res.Messages)
	}
	for _, m := range res.Messages {
		if !strings.HasPrefix(m.Key, "second-") {
			t.Fatalf("resumed kafkajs consumer read %q again: offsets were not resumed", m.Key)
		}
	}
}

// TestConsumeTransformProduce: franz-go's GroupTransactSession consumes an
// input topic in a group, produces transformed records and commits its
// offsets in the same transaction. After a commit the group's committed
// offsets and the output match; after an abort neither moved, and the
// session reads the aborted input again.
func TestConsumeTransformProduce(t *testing.T) {
	b := txnBroker(t, nil)
	addr := b.addrs.Kafka
	in, out, group := "ctp-in", "ctp-out", "ctp-group"
	createTopic(t, addr, in, 2, nil)
	createTopic(t, addr, out, 1, nil)
	s, err := kgo.NewGroupTransactSession(kgo.SeedBrokers(addr), kgo.TransactionalID("ctp"),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(in), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DefaultProduceTopic(out), kgo.FetchMaxWait(250*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()

	// round consumes want records, produces "out-<key>" for each, and ends
	// the transaction; it returns the input keys.
	round := func(want int, commit bool) []string {
		t.Helper()
		if err := s.Begin(); err != nil {
			t.Fatal(err)
		}
		var keys []string
		for len(keys) < want {
			fs := s.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("consumed %v of %d", keys, want)
			}
			fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
			fs.EachRecord(func(r *kgo.Record) {
				keys = append(keys, string(r.Key))
				s.Produce(ctx, &kgo.Record{Key: []byte("out-" + string(r.Key)), Value: r.Value}, func(_ *kgo.Record, err error) {
					if err != nil && commit { // an abort fails the records still buffered
						t.Errorf("produce: %v", err)
					}
				})
			})
		}
		if len(keys) != want {
			t.Fatalf("consumed %d records, want %d: %v", len(keys), want, keys)
		}
		committed, err := s.End(ctx, kgo.TransactionEndTry(commit))
		if err != nil || committed != commit {
			t.Fatalf("End(commit=%v): committed %v, %v", commit, committed, err)
		}
		return keys
	}
	ends := 0
	checkOutput := func(inputs []string) {
		t.Helper()
		endSentinels(t, addr, out, 1)
		ends++
		got := consumeKgoUntilEnds(t, addr, out, ends)
		var want []string
		for _, k := range inputs {
			want = append(want, "out-"+k)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("committed output %v, want %v", got, want)
		}
	}

	first := keysPer("in", 2, 0, 10)
	produceKeys(t, addr, in, first)
	done := round(20, true)
	if offs := committedOffsets(t, addr, group, in, 2); !equalOffsets(offs, map[int32]int64{0: 10, 1: 10}) {
		t.Fatalf("offsets after the commit: %v, want 10 and 10", offs)
	}
	checkOutput(done)

	more := map[int32][]string{0: keysPer("in", 1, 10, 5)[0]}
	produceKeys(t, addr, in, more)
	aborted := round(5, false)
	if offs := committedOffsets(t, addr, group, in, 2); !equalOffsets(offs, map[int32]int64{0: 10, 1: 10}) {
		t.Fatalf("offsets after the abort: %v, want them unchanged", offs)
	}
	checkOutput(done)

	again := round(5, true)
	slices.Sort(aborted)
	slices.Sort(again)
	if !slices.Equal(aborted, again) {
		t.Fatalf("after the abort the session read %v, want the aborted input %v again", again, aborted)
	}
	if offs := committedOffsets(t, addr, group, in, 2); !equalOffsets(offs, map[int32]int64{0: 15, 1: 10}) {
		t.Fatalf("offsets after the second commit: %v, want 15 and 10", offs)
	}
	checkOutput(append(done, again...))
}

// consumeKgoUntilEnds reads partition 0 of topic read_committed until the
// nth "end" record and returns the other keys.
func consumeKgoUntilEnds(t testing.TB, addr, topic string, n int) []string {
	t.Helper()
	cl := newKgo(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(250*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	var keys []string
	for seen := 0; seen < n; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %v and %d end records of %d", keys, seen, n)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if string(r.Key) == "end" {
				seen++
			} else if seen < n {
				keys = append(keys, string(r.Key))
			}
		})
	}
	return keys
}

// kcatGroupKeys consumes topic with kcat's balanced consumer (-G, a
// librdkafka consumer group) from the group's committed offsets (earliest
// when none) to the end of every partition, and returns the keys read.
func kcatGroupKeys(t *testing.T, kcat, addr, topic, group string) []string {
	t.Helper()
	out := runCmd(t, nil, nil, kcat, "-b", addr, "-G", group, "-X", "auto.offset.reset=earliest", "-e", "-q", "-f", `%k\x1e`, topic)
	var keys []string
	for _, k := range strings.Split(string(out), "\x1e") {
		if k != "" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// TestConsumerGroupKcat: kcat -G reads a topic in a group, commits its
// offsets when it leaves, and a second run reads only the newer records.
func TestConsumerGroupKcat(t *testing.T) {
	kcat := kcatPath(t)
	b := txnBroker(t, nil)
	addr, topic, group := b.addrs.Kafka, "grp-kcat", "kcat-group"
	createTopic(t, addr, topic, 2, nil)
	sorted := func(m map[int32][]string) []string {
		var all []string
		for _, ks := range m {
			all = append(all, ks...)
		}
		slices.Sort(all)
		return all
	}
	first := keysPer("first", 2, 0, 5)
	produceKeys(t, addr, topic, first)
	if got := kcatGroupKeys(t, kcat, addr, topic, group); !slices.Equal(got, sorted(first)) {
		t.Fatalf("first kcat -G run: %v, want %v", got, sorted(first))
	}
	if offs := committedOffsets(t, addr, group, topic, 2); !equalOffsets(offs, map[int32]int64{0: 5, 1: 5}) {
		t.Fatalf("kcat committed %v, want 5 and 5", offs)
	}
	second := keysPer("second", 2, 0, 2)
	produceKeys(t, addr, topic, second)
	if got := kcatGroupKeys(t, kcat, addr, topic, group); !slices.Equal(got, sorted(second)) {
		t.Fatalf("second kcat -G run: %v, want only the new %v", got, sorted(second))
	}
}
