package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"
)

// produceAt produces recs with franz-go (idempotent, acks=all) and
// returns the offset each got.
func produceAt(t testing.TB, addr, topic string, recs []rec) []int64 {
	t.Helper()
	cl := newKgo(t, addr, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.AllowAutoTopicCreation())
	krs := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		krs[i] = &kgo.Record{Key: []byte(r.Key), Value: []byte(r.Value)}
		for _, h := range r.Headers {
			krs[i].Headers = append(krs[i].Headers, kgo.RecordHeader{Key: h.Key, Value: []byte(h.Value)})
		}
	}
	res := cl.ProduceSync(context.Background(), krs...)
	if err := res.FirstErr(); err != nil {
		t.Fatal(err)
	}
	out := make([]int64, len(res))
	for i, r := range res {
		out[i] = r.Record.Offset
	}
	return out
}

// clusterAndTopicID reads the cluster id and a topic's id from Metadata.
func clusterAndTopicID(t testing.TB, addr, topic string) (string, [16]byte) {
	t.Helper()
	resp := dialRaw(t, addr).roundTrip(metadataRequest(false, topic), 12).(*kmsg.MetadataResponse)
	return *resp.ClusterID, resp.Topics[0].TopicID
}

// TestRestart stops the broker and starts a new one on the same data
// directory: every record is still there, offsets continue, and the cluster
// and topic ids are unchanged.
func TestRestart(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	first := testRecords("before", 50, true)
	second := testRecords("after", 50, true)

	b1 := startBroker(t, cfg)
	offs := produceAt(t, b1.addrs.Kafka, "durable", first)
	if offs[0] != 0 || offs[49] != 49 {
		t.Fatalf("first offsets %d..%d", offs[0], offs[49])
	}
	cluster1, topic1 := clusterAndTopicID(t, b1.addrs.Kafka, "durable")
	b1.stop()

	b2 := startBroker(t, cfg) // new ports, same directory
	checkRecords(t, consumeKgo(t, b2.addrs.Kafka, "durable", len(first)), first)
	offs = produceAt(t, b2.addrs.Kafka, "durable", second)
	if offs[0] != 50 || offs[49] != 99 {
		t.Fatalf("offsets after restart %d..%d, want 50..99", offs[0], offs[49])
	}
	checkRecords(t, consumeKgo(t, b2.addrs.Kafka, "durable", 100), append(append([]rec{}, first...), second...))
	if cluster2, topic2 := clusterAndTopicID(t, b2.addrs.Kafka, "durable"); cluster2 != cluster1 || topic2 != topic1 {
		t.Fatalf("ids changed across restart: cluster %s -> %s, topic %x -> %x", cluster1, cluster2, topic1, topic2)
	}
}

// TestObjectStoreTier checks the default object store: sealed segments of
// a topic with small segments are archived under
// <data>/objects/<topic>/<partition>/, and every record stays readable.
func TestObjectStoreTier(t *testing.T) {
	b := newBroker(t, nil)
	createTopic(t, b.addrs.Kafka, "tiered", 1, map[string]string{"segment.bytes": "16384"})
	want := testRecords("tiered", 200, true)
	for i := 0; i < len(want); i += 10 {
		produceKgo(t, b.addrs.Kafka, "tiered", want[i:i+10], "none", -1, true)
	}
	dir := filepath.Join(b.cfg.DataDir, "objects", "tiered", "0")
	deadline := time.Now().Add(30 * time.Second)
	for {
		objs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
		if len(objs) >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d segment objects in %s after 30s, want at least 3", len(objs), dir)
		}
		time.Sleep(50 * time.Millisecond)
	}
	checkRecords(t, consumeKgo(t, b.addrs.Kafka, "tiered", len(want)), want)
}

// TestNoGoroutineLeaks runs a broker through connections, produce, a
// committed transaction, a long poll and a JoinGroup waiting out the
// initial rebalance delay, both cut short by shutdown, and HTTP requests,
// and checks that no goroutine survives it.
func TestNoGoroutineLeaks(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	func() {
		ctx, cancel := context.WithCancel(context.Background())
		ready := make(chan addrs, 1)
		done := make(chan error, 1)
		go func() { done <- run(ctx, testConfig(t, t.TempDir()), testLogger(), ready) }()
		a := <-ready
		cl, err := kgo.NewClient(kgo.SeedBrokers(a.Kafka), kgo.DefaultProduceTopic("leak"), kgo.AllowAutoTopicCreation())
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Key: []byte("k"), Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		cl.Close()
		tx, err := kgo.NewClient(kgo.SeedBrokers(a.Kafka), kgo.DefaultProduceTopic("leak"), kgo.TransactionalID("leak"))
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := tx.ProduceSync(context.Background(), &kgo.Record{Value: []byte("t")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := tx.EndTransaction(context.Background(), kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
		tx.Close()
		httpGet(t, "http://"+a.HTTP+"/metrics")
		httpGet(t, "http://"+a.HTTP+"/leak/_key/k")
		// A fetch waiting 60 s for data, answered by the shutdown.
		rc := dialRaw(t, a.Kafka)
		rc.send(1, 12, fetchRequest(12, "leak", 1, 60000, 1).AppendTo(nil))
		// A JoinGroup parked for the 3 s initial rebalance delay, answered
		// NOT_COORDINATOR by the shutdown.
		jc := dialRaw(t, a.Kafka)
		join := kmsg.NewPtrJoinGroupRequest()
		join.Group, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis, join.ProtocolType = "leak", 10000, 60000, "consumer"
		join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range"}}
		join.SetVersion(3)
		jc.send(11, 3, join.AppendTo(nil))
		time.Sleep(100 * time.Millisecond)
		start := time.Now()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el > 10*time.Second {
			t.Fatalf("shutdown took %v with a long poll waiting", el)
		}
		frame, err := jc.recvFrame(5 * time.Second)
		if err != nil {
			t.Fatalf("parked JoinGroup not answered at shutdown: %v", err)
		}
		jr := kmsg.NewPtrJoinGroupResponse()
		jr.SetVersion(3)
		if err := jr.ReadFrom(frame[4:]); err != nil || jr.ErrorCode != 16 {
			t.Fatalf("parked JoinGroup at shutdown: %v, %+v; want NOT_COORDINATOR", err, jr)
		}
		rc.c.Close()
		jc.c.Close()
	}()
}

// brokerProcess is the broker command run as a child process: the test
// binary re-executed with subprocessEnv set (see TestMain).
type brokerProcess struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	kafka  string
	http   string
	exited chan error
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var readyLine = regexp.MustCompile(`msg="broker ready" kafka=(\S+) advertised=\S+ http=(\S+)`)

// startProcess starts the broker command with args and waits for its
// "broker ready" log line.
func startProcess(t *testing.T, args ...string) *brokerProcess {
	t.Helper()
	return startProcessEnv(t, nil, args...)
}

// startProcessEnv is startProcess with extra environment variables.
func startProcessEnv(t *testing.T, env []string, args ...string) *brokerProcess {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := &brokerProcess{stderr: &syncBuffer{}, exited: make(chan error, 1)}
	p.cmd = exec.Command(exe, args...)
	p.cmd.Env = append(append(os.Environ(), subprocessEnv+"=1"), env...)
	pr, pw := io.Pipe()
	p.cmd.Stderr = io.MultiWriter(p.stderr, pw)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- p.cmd.Wait(); pw.Close() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
	found := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := readyLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m
				break
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case m := <-found:
		p.kafka, p.http = m[1], m[2]
	case err := <-p.exited:
		t.Fatalf("broker exited before ready: %v\n%s", err, p.stderr.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("broker not ready after 60s:\n%s", p.stderr.String())
	}
	return p
}

// signal sends sig and expects a clean exit (status 0) within 60 s.
func (p *brokerProcess) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		if err != nil {
			t.Fatalf("broker exited with %v after %v:\n%s", err, sig, p.stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("broker still running 60s after %v", sig)
	}
	if !strings.Contains(p.stderr.String(), `msg="broker stopped cleanly"`) {
		t.Fatalf("no clean stop logged:\n%s", p.stderr.String())
	}
}

// TestCommand runs the broker as a separate process, the way `go run
// ./examples/broker` does: it starts on an empty directory with port 0,
// serves clients and HTTP, stops cleanly on SIGTERM, starts again on the
// same directory and stops on SIGINT.
func TestCommand(t *testing.T) {
	dir := t.TempDir()
	args := []string{"-listen", "127.0.0.1:0", "-http", "127.0.0.1:0", "-data", dir, "-log-level", "debug"}
	p := startProcess(t, args...)
	if code, body := httpGet(t, "http://"+p.http+"/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Fatalf("healthz: %d %q", code, body)
	}
	want := testRecords("proc", 30, true)
	produceAt(t, p.kafka, "proc", want)
	p.signal(t, syscall.SIGTERM)

	p = startProcess(t, args...)
	checkRecords(t, consumeKgo(t, p.kafka, "proc", len(want)), want)
	if offs := produceAt(t, p.kafka, "proc", testRecords("proc2", 5, false)); offs[0] != 30 {
		t.Fatalf("offset after restart %d, want 30", offs[0])
	}
	p.signal(t, os.Interrupt)

	// Bad flags: exit status 2 and a message.
	cmd := exec.Command(p.cmd.Path, "-partitions", "0")
	cmd.Env = append(os.Environ(), subprocessEnv+"=1")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "-partitions 0") {
		t.Fatalf("bad flag: %v\n%s", err, out)
	}
}
