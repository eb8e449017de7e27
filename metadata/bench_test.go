package metadata_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/chronik-go/chronik/metadata"
)

// stores runs fn against a fresh Memory and a fresh Bolt store.
func stores(b *testing.B, fn func(b *testing.B, st metadata.Store)) {
	b.Run("memory", func(b *testing.B) {
		st := metadata.NewMemory(0)
		defer st.Close()
		fn(b, st)
	})
	b.Run("bolt", func(b *testing.B) {
		st, err := metadata.OpenBolt(filepath.Join(b.TempDir(), "metadata.db"), 0)
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		fn(b, st)
	})
}

// The produce path's lookup, among 100 topics.
func BenchmarkTopic(b *testing.B) {
	stores(b, func(b *testing.B, st metadata.Store) {
		for i := 0; i < 100; i++ {
			if _, err := st.CreateTopic(context.Background(), fmt.Sprintf("topic-%03d", i), int32(1+i%8), nil, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				name := names[i%100]
				tp, ok := st.Topic(name)
				if !ok || tp.Name != name || len(tp.Partitions) != 1+(i%100)%8 {
					b.Errorf("Topic(%s) = %v, %d partitions", name, ok, len(tp.Partitions))
					return
				}
				i++
			}
		})
	})
}

var names = func() []string {
	n := make([]string, 100)
	for i := range n {
		n[i] = fmt.Sprintf("topic-%03d", i)
	}
	return n
}()

// One create and one delete per iteration: two committed (for bolt,
// fsync'd) writes.
func BenchmarkCreateDeleteTopic(b *testing.B) {
	stores(b, func(b *testing.B, st metadata.Store) {
		ctx := context.Background()
		for i := 0; b.Loop(); i++ {
			tp, err := st.CreateTopic(ctx, "churn", 4, nil, nil)
			if err != nil || len(tp.Partitions) != 4 {
				b.Fatal(err)
			}
			if err := st.DeleteTopic(ctx, "churn"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkAllocateProducerIDs(b *testing.B) {
	stores(b, func(b *testing.B, st metadata.Store) {
		ctx := context.Background()
		want := int64(0)
		for b.Loop() {
			first, err := st.AllocateProducerIDs(ctx, 1000)
			if err != nil || first != want {
				b.Fatalf("block at %d (%v), want %d", first, err, want)
			}
			want += 1000
		}
	})
}

// A counter incremented by compare-and-swap from one goroutine: every swap
// must succeed.
func BenchmarkCompareAndSwap(b *testing.B) {
	stores(b, func(b *testing.B, st metadata.Store) {
		ctx := context.Background()
		var cur []byte
		n := 0
		for b.Loop() {
			next := []byte(strconv.Itoa(n + 1))
			ok, err := st.CompareAndSwap(ctx, "bench", "counter", cur, next)
			if err != nil || !ok {
				b.Fatalf("swap %d: %v, %v", n, ok, err)
			}
			cur, n = next, n+1
		}
		v, _, err := st.Get(ctx, "bench", "counter")
		if err != nil || string(v) != strconv.Itoa(n) {
			b.Fatalf("counter %q after %d swaps (%v)", v, n, err)
		}
	})
}
