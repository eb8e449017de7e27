package produce

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestMemoryLimiterBlocksAndReleases(t *testing.T) {
	m := newMemoryLimiter(100)
	ctx := context.Background()
	if err := m.Acquire(ctx, 60); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() { got <- m.Acquire(ctx, 50) }()
	select {
	case err := <-got:
		t.Fatalf("acquire beyond the limit returned early: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	m.Release(60)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if n := m.inUse(); n != 50 {
		t.Fatalf("inUse = %d, want 50", n)
	}
	m.Release(50)
	if n := m.inUse(); n != 0 {
		t.Fatalf("inUse = %d, want 0", n)
	}
}

func TestMemoryLimiterCancelReturnsNothingHeld(t *testing.T) {
	m := newMemoryLimiter(100)
	if err := m.Acquire(context.Background(), 100); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := m.Acquire(ctx, 1); err == nil {
		t.Fatal("acquire succeeded past the limit")
	}
	m.Release(100)
	if n := m.inUse(); n != 0 {
		t.Fatalf("inUse after cancel = %d, want 0", n)
	}
}

func TestMemoryLimiterFIFONoStarvation(t *testing.T) {
	m := newMemoryLimiter(100)
	ctx := context.Background()
	if err := m.Acquire(ctx, 90); err != nil {
		t.Fatal(err)
	}
	big := make(chan struct{})
	go func() {
		if err := m.Acquire(ctx, 80); err == nil {
			close(big)
		}
	}()
	time.Sleep(10 * time.Millisecond)
	// A small request arriving after the big one must queue behind it even
	// though it would fit now.
	small := make(chan struct{})
	go func() {
		if err := m.Acquire(ctx, 5); err == nil {
			close(small)
		}
	}()
	select {
	case <-small:
		t.Fatal("small request overtook a waiting large one")
	case <-time.After(20 * time.Millisecond):
	}
	m.Release(90)
	<-big
	<-small
	if n := m.inUse(); n != 85 {
		t.Fatalf("inUse = %d, want 85", n)
	}
}

func TestMemoryLimiterConcurrent(t *testing.T) {
	m := newMemoryLimiter(1000)
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				n := int64(1 + (i*31+j)%300)
				if err := m.Acquire(context.Background(), n); err != nil {
					t.Error(err)
					return
				}
				if u := m.inUse(); u > 1000 {
					t.Errorf("inUse %d exceeds limit", u)
				}
				m.Release(n)
			}
		}()
	}
	wg.Wait()
	if n := m.inUse(); n != 0 {
		t.Fatalf("inUse = %d, want 0", n)
	}
}
