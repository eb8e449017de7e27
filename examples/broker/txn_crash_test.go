package main

import (
	"context"
	"errors"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Crash tests: the broker runs as a child process and dies by SIGKILL in
// the middle of transactions; a new process on the same data directory
// must finish what the coordinator had decided.

// killedBySIGKILL reports whether a process ended by SIGKILL.
func killedBySIGKILL(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// produceTxnRecords begins a transaction with a franz-go transactional
// producer and produces keys to each partition (acks=all: durable when
// acknowledged), leaving the transaction open.
func produceTxnRecords(t *testing.T, cl *kgo.Client, keys map[int32][]string) {
	t.Helper()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	for p, ks := range keys {
		for _, k := range ks {
			if err := cl.ProduceSync(ctx, &kgo.Record{Partition: p, Key: []byte(k)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// crashPartition finds the partition the test hook names in its log line.
var crashPartition = regexp.MustCompile(`test hook: killing the broker after a COMMIT marker.* partition=(\d+)`)

// TestCrashBetweenCommitMarkers: the broker is killed (SIGKILL, through
// the CrashAfterCommitMarkers test hook) after EndTxn stored PrepareCommit
// and exactly one of the transaction's two COMMIT markers was durable.
// The next start finishes the commit: both partitions' records become
// visible to read_committed consumers.
func TestCrashBetweenCommitMarkers(t *testing.T) {
	dir := t.TempDir()
	args := []string{"-listen", "127.0.0.1:0", "-http", "none", "-data", dir}
	p := startProcessEnv(t, []string{crashHookEnv + "=1"}, args...)
	topic := "crash-commit"
	createTopic(t, p.kafka, topic, 2, nil)
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.kafka), kgo.TransactionalID("crash-commit"),
		kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	want := keysPer("committed", 2, 0, 3)
	produceTxnRecords(t, cl, want)
	ctx, cancel := context.WithCancel(context.Background())
	ended := make(chan error, 1)
	go func() { ended <- cl.EndTransaction(ctx, kgo.TryCommit) }()
	select {
	case err := <-p.exited:
		if !killedBySIGKILL(err) {
			t.Fatalf("broker exited with %v, want SIGKILL from the test hook:\n%s", err, p.stderr.String())
		}
	case <-time.After(clientTimeout):
		t.Fatalf("the test hook did not kill the broker:\n%s", p.stderr.String())
	}
	cancel()
	if err := <-ended; err == nil {
		t.Fatal("EndTxn succeeded although the broker died before its second marker")
	}
	m := crashPartition.FindStringSubmatch(p.stderr.String())
	if m == nil {
		t.Fatalf("no test hook line in the log:\n%s", p.stderr.String())
	}
	marked, _ := strconv.Atoi(m[1])

	p = startProcess(t, args...) // no hook: the coordinator resumes PrepareCommit at start
	endSentinels(t, p.kafka, topic, 2)
	got := consumeKgoUntilEnd(t, p.kafka, topic, 2, true)
	for part, keys := range want {
		if !slices.Equal(got[part], keys) {
			t.Fatalf("partition %d after the restart: read_committed %v, want %v", part, got[part], keys)
		}
	}
	// The partition marked before the crash holds that marker and the one
	// rewritten at the restart; the other only the restart's.
	for part := int32(0); part < 2; part++ {
		controls := 0
		for _, h := range storedBatches(t, p.kafka, topic, part) {
			if h.Control() {
				controls++
			}
		}
		wantControls := 1
		if part == int32(marked) {
			wantControls = 2
		}
		if controls != wantControls {
			t.Fatalf("partition %d: %d markers, want %d (partition %d was marked before the crash)", part, controls, wantControls, marked)
		}
	}
	p.signal(t, syscall.SIGTERM)
}

// TestCrashWithOpenTransaction: the broker is killed with a transaction
// open; after the restart the coordinator aborts it once its timeout (2 s,
// counted from its start before the crash) has passed, and read_committed
// consumers move past it.
func TestCrashWithOpenTransaction(t *testing.T) {
	dir := t.TempDir()
	args := []string{"-listen", "127.0.0.1:0", "-http", "none", "-data", dir, "-transaction-abort-interval", "200ms"}
	p := startProcess(t, args...)
	topic := "crash-open"
	createTopic(t, p.kafka, topic, 1, nil)
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.kafka), kgo.TransactionalID("crash-open"), kgo.TransactionTimeout(2*time.Second),
		kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	produceTxnRecords(t, cl, keysPer("open", 1, 0, 3))
	started := time.Now()
	cl.Close()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := <-p.exited; !killedBySIGKILL(err) {
		t.Fatalf("broker exit: %v", err)
	}

	p = startProcess(t, args...)
	if lso := lastStable(t, p.kafka, topic, 0); lso != 0 && time.Since(started) < 2*time.Second {
		t.Fatalf("LSO %d right after the restart, want 0: the transaction is still open", lso)
	}
	for lastStable(t, p.kafka, topic, 0) == 0 {
		if time.Since(started) > 15*time.Second {
			t.Fatal("the open transaction was not aborted within 15s of its start (timeout 2s)")
		}
		time.Sleep(50 * time.Millisecond)
	}
	endSentinels(t, p.kafka, topic, 1)
	if got := consumeKgoUntilEnd(t, p.kafka, topic, 1, true); len(got[0]) != 0 {
		t.Fatalf("read_committed after the abort: %v", got[0])
	}
	if got := consumeKgoUntilEnd(t, p.kafka, topic, 1, false); len(got[0]) != 3 {
		t.Fatalf("read_uncommitted after the abort: %v, want the 3 aborted records", got[0])
	}
	p.signal(t, syscall.SIGTERM)
}
