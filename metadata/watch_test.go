package metadata

import (
	"sync/atomic"
	"testing"
	"time"
)

// Close waits for a callback in progress, and publish never waits for one.
func TestHubCloseWaitsForCallback(t *testing.T) {
	h := newHub()
	entered, release := make(chan struct{}), make(chan struct{})
	var done atomic.Bool
	h.watch(func(Topic) {
		close(entered)
		<-release
		done.Store(true)
	})
	h.publish(Topic{Name: "a"})
	<-entered
	for i := 0; i < 1000; i++ {
		h.publish(Topic{Name: "queued"}) // must not block on the busy callback
	}
	closed := make(chan struct{})
	go func() {
		h.close()
		close(closed)
	}()
	select {
	case <-closed:
		t.Fatal("close returned while a callback was running")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-closed
	if !done.Load() {
		t.Fatal("close returned before the callback finished")
	}
	if cancel := h.watch(func(Topic) { t.Error("callback after close") }); cancel == nil {
		t.Fatal("watch after close returned nil")
	}
	h.publish(Topic{Name: "after"})
}

// Every watcher sees notices in publish order.
func TestHubOrder(t *testing.T) {
	h := newHub()
	const n = 500
	got := make(chan int32, n)
	h.watch(func(tp Topic) { got <- tp.Partitions[0].LeaderEpoch })
	for i := int32(0); i < n; i++ {
		h.publish(Topic{Partitions: []PartitionInfo{{LeaderEpoch: i}}})
	}
	for i := int32(0); i < n; i++ {
		select {
		case e := <-got:
			if e != i {
				t.Fatalf("notice %d arrived as %d", i, e)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("notice %d never arrived", i)
		}
	}
	h.close()
}
