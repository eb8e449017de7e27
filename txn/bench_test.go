package txn

import (
	"fmt"
	"testing"

	"github.com/chronik-go/chronik/errcode"
)

// BenchmarkVerify measures the produce-side check, which runs before the
// first transactional batch of a producer on each partition: 1000
// transactional ids with 64 partitions each, checked from all procs.
func BenchmarkVerify(b *testing.B) {
	e := newEnv(b, "memory", func(o *Options) { o.PartitionExists = nil })
	type txn struct {
		id    string
		pid   int64
		epoch int16
	}
	var txns []txn
	parts := make([]int32, 64)
	for i := range parts {
		parts[i] = int32(i)
	}
	for i := range 1000 {
		id := fmt.Sprintf("tx-%d", i)
		pid, epoch := e.init(id)
		e.add(id, pid, epoch, parts...)
		txns = append(txns, txn{id, pid, epoch})
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			t := txns[i%len(txns)]
			if code := e.c.Verify(t.id, t.pid, t.epoch, "t", int32(i%64)); code != errcode.None {
				b.Errorf("Verify = %v", code)
				return
			}
			i++
		}
	})
}

// BenchmarkTransaction runs whole transactions (AddPartitionsToTxn with 4
// partitions, EndTxn commit with its 4 markers) on one transactional id,
// and checks every marker was written and the last one completed.
func BenchmarkTransaction(b *testing.B) {
	for _, kind := range storeKinds {
		b.Run(kind, func(b *testing.B) {
			e := newEnv(b, kind, nil)
			pid, epoch := e.init("tx")
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				e.add("tx", pid, epoch, 0, 1, 2, 3)
				e.end("tx", pid, epoch, true, errcode.None)
			}
			b.StopTimer()
			if n := len(e.markers.written()); n != 4*b.N {
				b.Fatalf("%d markers for %d transactions", n, b.N)
			}
			if r := e.stored("tx"); r.state != CompleteCommit {
				b.Fatalf("stored %+v", r)
			}
		})
	}
}
