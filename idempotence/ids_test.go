package idempotence

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/chronik-go/chronik/metadata"
)

func TestIDAllocatorUniqueAcrossAllocatorsAndRestarts(t *testing.T) {
	path := t.TempDir() + "/meta.db"
	store, err := metadata.OpenBolt(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	var mu sync.Mutex
	take := func(a *IDAllocator, n int) {
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < n; i++ {
					id, err := a.Next(context.Background())
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if seen[id] || id < 0 {
						t.Errorf("id %d handed out twice or negative", id)
					}
					seen[id] = true
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	}
	// Two allocators on one store, as two brokers sharing it.
	take(NewIDAllocator(store), 700)
	take(NewIDAllocator(store), 700)
	store.Close()
	store, err = metadata.OpenBolt(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	take(NewIDAllocator(store), 300)
	if len(seen) != 4*(700+700+300) {
		t.Fatalf("%d distinct ids", len(seen))
	}
}

type failingSource struct{}

func (failingSource) AllocateProducerIDs(context.Context, int64) (int64, error) {
	return 0, errors.New("store unavailable")
}

func TestIDAllocatorReportsSourceErrors(t *testing.T) {
	if _, err := NewIDAllocator(failingSource{}).Next(context.Background()); err == nil {
		t.Fatal("no error from a failing source")
	}
}
