package produce

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/internal/vfs"
	"github.com/chronik-go/chronik/wire"
)

// gatedFS holds every OpenFile of a path containing match until gate is
// closed, and counts them.
type gatedFS struct {
	vfs.FS
	match    string
	gate     chan struct{}
	entered  chan struct{} // closed at the first held OpenFile
	once     sync.Once
	openGate sync.Once
}

// open lets the held OpenFile calls go on.
func (g *gatedFS) open() { g.openGate.Do(func() { close(g.gate) }) }

func (g *gatedFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	if strings.Contains(name, g.match) {
		g.once.Do(func() { close(g.entered) })
		<-g.gate
	}
	return g.FS.OpenFile(name, flag, perm)
}

func newGatedFS(match string) *gatedFS {
	return &gatedFS{FS: vfs.OS, match: match, gate: make(chan struct{}), entered: make(chan struct{})}
}

// produceAsync sends batch to topic-0 from a goroutine.
func produceAsync(h *Handler, topic string, batch []byte) <-chan wire.ProducePartitionResponse {
	out := make(chan wire.ProducePartitionResponse, 1)
	go func() {
		req := &wire.ProduceRequest{Version: 9, Acks: 1, TimeoutMs: 30000,
			Topics: []wire.ProduceTopic{{Name: topic, Partitions: []wire.ProducePartition{{Partition: 0, Records: batch}}}}}
		resp, err := h.HandleProduce(context.Background(), RequestInfo{ClientID: "test"}, req)
		if err != nil {
			out <- wire.ProducePartitionResponse{ErrorCode: errcode.KafkaStorageError, BaseOffset: -1}
			return
		}
		out <- resp.Topics[0].Partitions[0]
	}()
	return out
}

func await(t *testing.T, what string, ch <-chan wire.ProducePartitionResponse) wire.ProducePartitionResponse {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no answer in 10 s", what)
		return wire.ProducePartitionResponse{}
	}
}

// TestPartitionOpenDoesNotBlockOthers: while one partition's log is being
// opened (recovery can take long), requests for other partitions are
// answered, and a second request for the opening partition waits for that
// open instead of opening the log again.
func TestPartitionOpenDoesNotBlockOthers(t *testing.T) {
	fs := newGatedFS("slow-0")
	e := newEnv(t, nil, WithFileSystem(fs))
	t.Cleanup(fs.open) // runs before the handler's Close: a failed test does not hang there
	e.topic("slow", 1, nil)
	e.topic("fast", 1, nil)

	first := produceAsync(e.h, "slow", newSpec(3).build(t))
	<-fs.entered
	second := produceAsync(e.h, "slow", newSpec(4).build(t))
	if r := await(t, "fast partition while another opens", produceAsync(e.h, "fast", newSpec(5).build(t))); r.ErrorCode != errcode.None || r.BaseOffset != 0 {
		t.Fatalf("fast partition: %v at %d", r.ErrorCode, r.BaseOffset)
	}
	fs.open()
	a, b := await(t, "first slow request", first), await(t, "second slow request", second)
	if a.ErrorCode != errcode.None || b.ErrorCode != errcode.None {
		t.Fatalf("slow partition: %v, %v", a.ErrorCode, b.ErrorCode)
	}
	// Both appended to the one log, in some order: offsets 0-2 and 3-6 or
	// 0-3 and 4-6.
	if !(a.BaseOffset == 0 && b.BaseOffset == 3) && !(b.BaseOffset == 0 && a.BaseOffset == 4) {
		t.Fatalf("slow partition base offsets %d and %d", a.BaseOffset, b.BaseOffset)
	}
	if got := e.logEnd("slow", 0); got != 7 {
		t.Fatalf("slow partition holds %d records, want 7", got)
	}
}

// TestCloseWaitsForPartitionOpen: Close during a partition's open waits
// for it and closes that log too (goleak checks nothing is left); the
// request gets an error, not an append.
func TestCloseWaitsForPartitionOpen(t *testing.T) {
	fs := newGatedFS("slow-0")
	e := newEnv(t, nil, WithFileSystem(fs))
	t.Cleanup(fs.open) // runs before the handler's Close: a failed test does not hang there
	e.topic("slow", 1, nil)
	res := produceAsync(e.h, "slow", newSpec(3).build(t))
	<-fs.entered
	closed := make(chan error, 1)
	go func() { closed <- e.h.Close() }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a log was being opened", err)
	case <-time.After(100 * time.Millisecond):
	}
	fs.open()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return after the open finished")
	}
	if r := await(t, "request during Close", res); r.ErrorCode == errcode.None || r.BaseOffset != -1 {
		t.Fatalf("request during Close: %v at %d, want an error", r.ErrorCode, r.BaseOffset)
	}
	req := &wire.ProduceRequest{Version: 9, Acks: 1, TimeoutMs: 1000,
		Topics: []wire.ProduceTopic{{Name: "slow", Partitions: []wire.ProducePartition{{Partition: 0, Records: newSpec(1).build(t)}}}}}
	if _, err := e.h.HandleProduce(context.Background(), RequestInfo{}, req); !errors.Is(err, ErrClosed) {
		t.Fatalf("HandleProduce after Close: %v, want ErrClosed", err)
	}
}
