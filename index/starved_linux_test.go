package index_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chronik-go/chronik/index"
)

// TestBlugeOpenStarvedOfDescriptorsIsNotCorrupt: a healthy partition index
// that cannot be opened because the process is out of file descriptors
// (bluge reports it as snapshots that do not load) must not be called
// corrupt, or the pipeline would delete it; once descriptors are free it
// opens with its checkpoint.
func TestBlugeOpenStarvedOfDescriptorsIsNotCorrupt(t *testing.T) {
	root := t.TempDir()
	opts := index.BlugeOptions{PersistDelay: time.Millisecond}
	x, err := index.OpenBluge(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 { // six flushed batches: segment files to open
		b := &index.Batch{Topic: "logs", Partition: 0, Docs: []index.Document{{Offset: int64(i), Value: []byte(`{"n":1}`)}}, Next: int64(i + 1)}
		if err := x.Index(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		if err := x.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}

	x, err = index.OpenBluge(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	var saved syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &saved); err != nil {
		t.Fatal(err)
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count open descriptors: %v", err)
	}
	low := saved
	low.Cur = uint64(len(fds) + 64)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Skipf("cannot lower RLIMIT_NOFILE: %v", err)
	}
	// Leave 1, 2, 3, ... descriptors free until the partition index
	// opens: every failure before must be reported as starvation, not
	// damage, and at least one must happen while bluge loads segments
	// (which it reports as "none [of the snapshots] could be loaded").
	var loading bool
	opened := false
	for free := 1; free <= 48 && !opened; free++ {
		var filler []*os.File
		for {
			f, err := os.Open(os.DevNull)
			if err != nil {
				break
			}
			filler = append(filler, f)
		}
		for range min(free, len(filler)) {
			filler[len(filler)-1].Close()
			filler = filler[:len(filler)-1]
		}
		_, err := x.Checkpoint("logs", 0)
		for _, f := range filler {
			f.Close()
		}
		switch {
		case err == nil:
			opened = true
		case errors.Is(err, index.ErrCorrupt):
			syscall.Setrlimit(syscall.RLIMIT_NOFILE, &saved)
			t.Fatalf("opening with %d descriptors free: %v wraps ErrCorrupt", free, err)
		case strings.Contains(err.Error(), "could be loaded"):
			loading = true
		}
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &saved); err != nil {
		t.Fatal(err)
	}
	if !opened || !loading {
		t.Fatalf("opened %v, failed while loading segments %v: the test needs both", opened, loading)
	}
	next, err := x.Checkpoint("logs", 0)
	if err != nil || next != 6 {
		t.Fatalf("Checkpoint once descriptors are free: %d, %v; want 6", next, err)
	}
}
