package produce

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/internal/vfs"
	"github.com/chronik-go/chronik/record"
	"github.com/chronik-go/chronik/wire"
)

func TestStorageErrorIsAnsweredAndRetryLandsOnce(t *testing.T) {
	efs := vfs.NewErrorFS(vfs.OS)
	e := newEnv(t, nil, WithFileSystem(efs))
	e.topic("t", 1, nil)
	ok := one(t, e.produce(9, -1, pr("t", 0, idemBatch(t, 9, 0, 0, 2))))
	wantCode(t, ok, errcode.None)

	// The next fsync of the log fails: the acks=all request must not
	// succeed, and the log refuses later appends (sticky error).
	efs.Inject(vfs.Fault{Op: vfs.OpSync, Count: 1})
	failed := one(t, e.produce(9, -1, pr("t", 0, idemBatch(t, 9, 0, 2, 3))))
	if failed.ErrorCode != errcode.KafkaStorageError {
		t.Fatalf("failed fsync answered %+v, want KAFKA_STORAGE_ERROR", failed)
	}
	again := one(t, e.produce(9, 1, pr("t", 0, idemBatch(t, 9, 0, 2, 3))))
	wantCode(t, again, errcode.KafkaStorageError)

	// After a restart the retry lands exactly once.
	e.reopen(nil)
	retry := one(t, e.produce(9, -1, pr("t", 0, idemBatch(t, 9, 0, 2, 3))))
	wantCode(t, retry, errcode.None)
	if retry.BaseOffset != 2 {
		t.Fatalf("retry at offset %d, want 2", retry.BaseOffset)
	}
	if n := e.logEnd("t", 0); n != 5 {
		t.Fatalf("log end %d, want 5", n)
	}
	var records int32
	for _, b := range e.readAll("t", 0) {
		records += record.ReadHeader(b).NumRecords
	}
	if records != 5 {
		t.Fatalf("%d records stored, want 5 (each once)", records)
	}
}

// TestProduceTenTimesBufferMemory produces ten times BufferMemory from many
// goroutines at acks=1 and at acks=all: every record is read back and the
// reserved memory never exceeds the limit and returns to zero.
func TestProduceTenTimesBufferMemory(t *testing.T) {
	for _, acks := range []int16{1, -1} {
		t.Run(map[int16]string{1: "acks=1", -1: "acks=all"}[acks], func(t *testing.T) {
			const limit = 1 << 20
			e := newEnv(t, func(c *Config) { c.BufferMemory = limit })
			e.topic("t", 4, nil)
			spec := newSpec(64)
			for i := range spec.records {
				spec.records[i].value = make([]byte, 1000)
			}
			batchSize := len(spec.build(t))
			total := 10 * limit / batchSize
			var produced atomic.Int64
			var wg sync.WaitGroup
			work := make(chan int)
			for w := 0; w < 16; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range work {
						req := &wire.ProduceRequest{Version: 9, Acks: acks, TimeoutMs: 30000, Topics: []wire.ProduceTopic{{
							Name: "t", Partitions: []wire.ProducePartition{{Partition: int32(i % 4), Records: spec.build(t)}}}}}
						resp, err := e.h.HandleProduce(context.Background(), RequestInfo{}, req)
						if err != nil {
							t.Error(err)
							return
						}
						if c := resp.Topics[0].Partitions[0].ErrorCode; c != errcode.None {
							t.Errorf("batch %d: %v", i, c)
							return
						}
						produced.Add(64)
					}
				}()
			}
			for i := 0; i < total; i++ {
				work <- i
			}
			close(work)
			wg.Wait()
			var stored int64
			for p := int32(0); p < 4; p++ {
				for _, b := range e.readAll("t", p) {
					if !record.CRCValid(b) {
						t.Fatal("stored batch fails its CRC")
					}
					stored += int64(record.ReadHeader(b).NumRecords)
				}
			}
			if stored != produced.Load() || stored != int64(total*64) {
				t.Fatalf("stored %d records, acknowledged %d, sent %d", stored, produced.Load(), total*64)
			}
			if peak := e.h.BufferMemoryPeak(); peak > limit || peak == 0 {
				t.Fatalf("peak buffer memory %d, limit %d", peak, limit)
			}
			if n := e.h.BufferMemoryInUse(); n != 0 {
				t.Fatalf("buffer memory in use after the run: %d", n)
			}
		})
	}
}

func TestBufferMemoryWaitTimesOutRetriably(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.BufferMemory = 1 << 20 })
	e.topic("t", 1, nil)
	// Hold all the memory, as requests in flight would.
	if err := e.h.mem.Acquire(context.Background(), 1<<20); err != nil {
		t.Fatal(err)
	}
	req := &wire.ProduceRequest{Version: 9, Acks: 1, TimeoutMs: 30, Topics: []wire.ProduceTopic{{
		Name: "t", Partitions: []wire.ProducePartition{{Partition: 0, Records: newSpec(1).build(t)}}}}}
	start := time.Now()
	resp, err := e.h.HandleProduce(context.Background(), RequestInfo{}, req)
	if err != nil {
		t.Fatal(err)
	}
	got := one(t, resp)
	wantCode(t, got, errcode.RequestTimedOut)
	if !got.ErrorCode.Retriable() || time.Since(start) > 5*time.Second {
		t.Fatalf("code %v retriable %v after %v", got.ErrorCode, got.ErrorCode.Retriable(), time.Since(start))
	}
	e.h.mem.Release(1 << 20)
	if n := e.logEnd("t", 0); n != 0 {
		t.Fatalf("%d records appended", n)
	}
	// A request larger than all of BufferMemory can never fit.
	big := newSpec(1)
	big.records[0].value = make([]byte, 2<<20)
	wantCode(t, one(t, e.produce(9, 1, pr("t", 0, big.build(t)))), errcode.MessageTooLarge)
	if n := e.h.BufferMemoryInUse(); n != 0 {
		t.Fatalf("in use %d", n)
	}
}

// TestDiskFaultsIntoARunningHandler injects each kind of disk fault into a
// running handler: the request that meets it gets KAFKA_STORAGE_ERROR, no
// acks=all request is acknowledged over unsynced data, the log refuses
// later appends (sticky), and a reopen recovers every acknowledged record.
func TestDiskFaultsIntoARunningHandler(t *testing.T) {
	faults := []struct {
		name  string
		fault vfs.Fault
	}{
		{"failed write", vfs.Fault{Op: vfs.OpWrite, Match: isLogFile, Count: 1}},
		{"full disk, torn write", vfs.Fault{Op: vfs.OpWrite, Match: isLogFile, Count: 1, Keep: 70, Err: syscall.ENOSPC}},
		{"failed fsync", vfs.Fault{Op: vfs.OpSync, Match: isLogFile, Count: 1}},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			efs := vfs.NewErrorFS(vfs.OS)
			e := newEnv(t, nil, WithFileSystem(efs))
			e.topic("t", 1, nil)
			acked := 0
			for i := 0; i < 3; i++ {
				wantCode(t, one(t, e.produce(9, -1, pr("t", 0, newSpec(2).build(t)))), errcode.None)
				acked += 2
			}
			efs.Inject(f.fault)
			got := one(t, e.produce(9, -1, pr("t", 0, newSpec(2).build(t))))
			if got.ErrorCode != errcode.KafkaStorageError {
				t.Fatalf("request meeting the fault: %+v, want KAFKA_STORAGE_ERROR", got)
			}
			// Sticky: later requests are refused too, at every acks.
			for _, acks := range []int16{1, -1} {
				wantCode(t, one(t, e.produce(9, acks, pr("t", 0, newSpec(1).build(t)))), errcode.KafkaStorageError)
			}
			efs.Reset()
			e.reopen(nil)
			var records int32
			for _, b := range e.readAll("t", 0) {
				if !record.CRCValid(b) {
					t.Fatal("a partial batch is served after recovery")
				}
				records += record.ReadHeader(b).NumRecords
			}
			if int(records) < acked {
				t.Fatalf("%d records after recovery, %d were acknowledged", records, acked)
			}
			// Appends work again and continue at the log end.
			next := one(t, e.produce(9, -1, pr("t", 0, newSpec(1).build(t))))
			wantCode(t, next, errcode.None)
			if next.BaseOffset != int64(records) {
				t.Fatalf("next batch at %d, want %d", next.BaseOffset, records)
			}
		})
	}
}

func isLogFile(name string) bool { return strings.HasSuffix(name, ".log") }
