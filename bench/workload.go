package main

import (
	"strings"
	"time"
)

// kind is how a workload is measured.
type kind int

const (
	kindSideBySide kind = iota // our broker and kfake alternately, same client settings
	kindOverload               // our broker alone under 2x its measured capacity, RSS sampled
	kindInProcess              // the produce package's go test benchmarks, in process
	kindLater                  // registered but not measured yet
)

// limitKind names the physical limit a workload's throughput is compared
// with.
type limitKind int

const (
	limitNone      limitKind = iota
	limitFsync               // sequential 16 KiB writes with an fsync every 1 MiB
	limitPageCache           // the smaller of sequential page-cache writes and loopback TCP
	limitTCP                 // loopback TCP stream
)

func (l limitKind) String() string {
	switch l {
	case limitFsync:
		return "seq write + fsync/MiB"
	case limitPageCache:
		return "min(page-cache write, loopback TCP)"
	case limitTCP:
		return "loopback TCP"
	}
	return "none"
}

// workload is one row of the benchmark: what is produced, against which
// peer, with which broker flags, and the target it is held to.
type workload struct {
	ID        string   // unique, used in topic and chart names
	Target    string   // P1..P9 of the performance targets
	Title     string   // one line: what is measured
	Goal      string   // the target in words
	GoalRatio float64  // minimum ours/peer throughput ratio; 0 = none
	GoalRate  float64  // minimum records/s of our broker; 0 = none
	Kind      kind     // how it is measured
	Spec      spec     // the producers
	Peer      peerMode // how kfake keeps data
	Broker    []string // extra flags of the example broker
	Limit     limitKind
	Notes     string // conditions worth stating next to the numbers
}

// rareFsync are broker flags that leave acks=1 data mostly to the page
// cache, as kfake's segment files are: a background fsync at most every
// 64 MiB or 100 ms. Never syncing is not an option: the broker's high
// watermark is the end of the fsynced data, so consumers would see nothing.
var rareFsync = []string{"-batch-size", "64MiB", "-linger", "100ms"}

// workloads returns the registry, in report order.
func workloads() []workload {
	kib := spec{ValueSize: 1024, Partitions: 1, Linger: 5 * time.Millisecond, Clients: 1,
		MaxRecords: 256 << 10, MaxDuration: 6 * time.Second, BufferBytes: 64 << 20}
	p1 := kib
	p1.AcksAll = true
	p1lat := p1
	p1lat.Rate = 20000
	p1lat.MaxDuration = 5 * time.Second
	p1x8 := p1
	p1x8.Partitions = 8
	p2 := kib
	p2.MaxRecords = 512 << 10
	p3 := spec{ValueSize: 100, Partitions: 1, Linger: 5 * time.Millisecond, Clients: 1,
		MaxRecords: 2 << 20, MaxDuration: 6 * time.Second, BufferBytes: 64 << 20}
	p4 := spec{ValueSize: 256, Partitions: 1, Linger: 5 * time.Millisecond, Clients: 128,
		MaxRecords: 2 << 20, MaxDuration: 8 * time.Second, BufferBytes: 4 << 20}
	p5 := kib
	p5.Zstd = true
	p9 := kib
	p9.AcksAll = true
	p9.Clients = 32
	p9.MaxRecords = 1 << 40 // bounded by time and by the offered rate
	p9.MaxDuration = 15 * time.Second
	p9.BufferBytes = 16 << 20

	return []workload{
		{ID: "P1-1p", Target: "P1", Title: "acks=all idempotent, 1 KiB, 1 partition",
			Goal: ">= 1.3x kfake with fsync per batch", GoalRatio: 1.3,
			Spec: p1, Peer: peerSync, Limit: limitFsync,
			Notes: "our broker: fsync group commit before every acks=all answer (defaults)"},
		{ID: "P1-8p", Target: "P1", Title: "acks=all idempotent, 1 KiB, 8 partitions",
			Goal: ">= 1.3x kfake with fsync per batch", GoalRatio: 1.3,
			Spec: p1x8, Peer: peerSync, Limit: limitFsync,
			Notes: "our broker: fsync group commit before every acks=all answer (defaults)"},
		{ID: "P1-lat", Target: "P1", Title: "acks=all idempotent, 1 KiB, 1 partition, paced at 20k records/s",
			Goal: "informational: produce latency below saturation",
			Spec: p1lat, Peer: peerSync, Limit: limitFsync,
			Notes: "both brokers get the same offered load (about 20 MB/s), so latency is not client queueing; our broker with its defaults"},
		{ID: "P2", Target: "P2", Title: "acks=1, 1 KiB, 1 partition, page cache",
			Goal: ">= 1.0x kfake writing segment files", GoalRatio: 1.0,
			Spec: p2, Peer: peerSegments, Broker: rareFsync, Limit: limitPageCache,
			Notes: "our broker: " + strings.Join(rareFsync, " ") + " (the high watermark is the fsynced end, so consumers see acks=1 data only after the background fsync)"},
		{ID: "P2-defaults", Target: "P2", Title: "acks=1, 1 KiB, 1 partition, broker defaults",
			Goal: "informational: cost of the default background fsync",
			Spec: p2, Peer: peerSegments, Limit: limitPageCache,
			Notes: "our broker with its defaults: background fsync after 1 MiB or 5 ms unsynced; kfake does not fsync"},
		{ID: "P3", Target: "P3", Title: "acks=1, 100 B records, 1 partition",
			Goal: ">= 0.8x kfake in memory", GoalRatio: 0.8,
			Spec: p3, Peer: peerMemory, Broker: rareFsync, Limit: limitTCP,
			Notes: "our broker: " + strings.Join(rareFsync, " ")},
		{ID: "P4", Target: "P4", Title: "acks=1, 256 B, 1 partition, 128 concurrent producers",
			Goal: ">= 1.5M records/s, every record read back", GoalRate: 1.5e6,
			Spec: p4, Peer: peerMemory, Broker: rareFsync, Limit: limitTCP,
			Notes: "128 kgo clients (one connection and one producing goroutine each); our broker: " + strings.Join(rareFsync, " ")},
		{ID: "P5-zstd", Target: "P5", Title: "acks=1, 1 KiB, zstd batches (client level fastest), 1 partition",
			Goal: "end to end; the 2 GB/s target is the in-process row below",
			Spec: p5, Peer: peerSegments, Broker: rareFsync, Limit: limitPageCache,
			Notes: "throughput counts uncompressed bytes; the client's compression shares the 2 cores; kfake stores batches without decompressing them, our broker decompresses each once to validate"},
		{ID: "P5-inproc", Target: "P5", Title: "HandleProduce in process, 8 x 16 KiB batches per request, page cache",
			Goal: ">= 2 GB/s uncompressed; zstd batches decompressed once",
			Kind: kindInProcess,
			Notes: "go test -bench 'BenchmarkHandleProduce|BenchmarkZstdDecodeBaseline' ./produce, run by this tool in the same run. " +
				"How often a batch is decompressed cannot be read from these timings (the zstd case appends about 4x fewer bytes than the uncompressed one) " +
				"and the broker exports no decompression count, so the once-only half of the target is not measured here"},
		{ID: "P6", Target: "P6", Title: "JSON indexing of 1 KiB log documents", Kind: kindLater,
			Goal: ">= 3x bluge default Batch; produce with indexing >= 0.9x without"},
		{ID: "P7", Target: "P7", Title: "search freshness below indexing capacity", Kind: kindLater,
			Goal: "p99 <= 1 s from ack to searchable"},
		{ID: "P8", Target: "P8", Title: "term query on 1M documents", Kind: kindLater,
			Goal: "p50 <= 2 ms"},
		{ID: "P9", Target: "P9", Title: "acks=all, 1 KiB, 32 producers offering 2x the measured capacity",
			Goal: "peak RSS <= buffer memory + 128 MiB, no record lost", Kind: kindOverload,
			Spec: p9, Broker: []string{"-buffer-memory", "32MiB"},
			Notes: "capacity measured first on the same broker for 3 s (same 32 clients, unpaced); buffer memory 32 MiB; up to 32 x 5 requests of 1 MiB in flight"},
	}
}

// quickSpec shrinks s for a smoke run.
func quickSpec(s spec) spec {
	s.MaxRecords = max(min(s.MaxRecords/64, 64<<10), 2000)
	s.MaxDuration = min(s.MaxDuration, 2*time.Second)
	if s.Clients > 8 {
		s.Clients = 8
	}
	return s
}
