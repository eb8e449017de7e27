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
	kindIndexRate              // P6 (a): our indexer and bluge's default Batch, in process, alternately
	kindIndexOnOff             // P6 (b): our broker with indexing on and off, alternately
	kindFreshness              // P7: paced produce, ack-to-searchable latency through the broker's search API
	kindQuery                  // P8: term queries on a 1M-document index built in process
)

// usesBroker reports whether workloads of kind k run the example broker.
func (k kind) usesBroker() bool {
	return k == kindSideBySide || k == kindOverload || k == kindIndexOnOff || k == kindFreshness
}

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

// noIndexing ends the notes of the workloads that run our broker with
// search indexing off: kfake does not index, and they measure the produce
// path alone.
const noIndexing = "; search indexing off (-enable-indexing=false)"

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
	p6 := kib
	p6.Values = valuesJSON
	p6.MaxRecords = 64 << 10 // the index then catches up with every record: keep it short
	p7 := kib
	p7.Values = valuesJSONUnique
	p7.MaxRecords = 1 << 40 // bounded by time and by the offered rate
	p7.MaxDuration = 10 * time.Second
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
			Notes: "our broker: fsync group commit before every acks=all answer (defaults)" + noIndexing},
		{ID: "P1-8p", Target: "P1", Title: "acks=all idempotent, 1 KiB, 8 partitions",
			Goal: ">= 1.3x kfake with fsync per batch", GoalRatio: 1.3,
			Spec: p1x8, Peer: peerSync, Limit: limitFsync,
			Notes: "our broker: fsync group commit before every acks=all answer (defaults)" + noIndexing},
		{ID: "P1-lat", Target: "P1", Title: "acks=all idempotent, 1 KiB, 1 partition, paced at 20k records/s",
			Goal: "informational: produce latency below saturation",
			Spec: p1lat, Peer: peerSync, Limit: limitFsync,
			Notes: "both brokers get the same offered load (about 20 MB/s), so latency is not client queueing; our broker with its defaults" + noIndexing},
		{ID: "P2", Target: "P2", Title: "acks=1, 1 KiB, 1 partition, page cache",
			Goal: ">= 1.0x kfake writing segment files", GoalRatio: 1.0,
			Spec: p2, Peer: peerSegments, Broker: rareFsync, Limit: limitPageCache,
			Notes: "our broker: " + strings.Join(rareFsync, " ") + " (the high watermark is the fsynced end, so consumers see acks=1 data only after the background fsync)" + noIndexing},
		{ID: "P2-defaults", Target: "P2", Title: "acks=1, 1 KiB, 1 partition, broker defaults",
			Goal: "informational: cost of the default background fsync",
			Spec: p2, Peer: peerSegments, Limit: limitPageCache,
			Notes: "our broker with its defaults: background fsync after 1 MiB or 5 ms unsynced; kfake does not fsync" + noIndexing},
		{ID: "P3", Target: "P3", Title: "acks=1, 100 B records, 1 partition",
			Goal: ">= 0.8x kfake in memory", GoalRatio: 0.8,
			Spec: p3, Peer: peerMemory, Broker: rareFsync, Limit: limitTCP,
			Notes: "our broker: " + strings.Join(rareFsync, " ") + noIndexing},
		{ID: "P4", Target: "P4", Title: "acks=1, 256 B, 1 partition, 128 concurrent producers",
			Goal: ">= 1.5M records/s, every record read back", GoalRate: 1.5e6,
			Spec: p4, Peer: peerMemory, Broker: rareFsync, Limit: limitTCP,
			Notes: "128 kgo clients (one connection and one producing goroutine each); our broker: " + strings.Join(rareFsync, " ") + noIndexing},
		{ID: "P5-zstd", Target: "P5", Title: "acks=1, 1 KiB, zstd batches (client level fastest), 1 partition",
			Goal: "end to end; the 2 GB/s target is the in-process row below",
			Spec: p5, Peer: peerSegments, Broker: rareFsync, Limit: limitPageCache,
			Notes: "throughput counts uncompressed bytes; the client's compression shares the 2 cores; kfake stores batches without decompressing them, our broker decompresses each once to validate" + noIndexing},
		{ID: "P5-inproc", Target: "P5", Title: "HandleProduce in process, 8 x 16 KiB batches per request, page cache",
			Goal: ">= 2 GB/s uncompressed; zstd batches decompressed exactly once",
			Kind: kindInProcess,
			Notes: "go test -bench 'BenchmarkHandleProduce|BenchmarkZstdDecodeBaseline|BenchmarkWriteBaseline' -benchtime " + inProcessBenchtime + " ./produce, run by this tool in the same run, each in GOMAXPROCS goroutines: " +
				"512 MiB per run, so that no run is throttled to the disk's writeback rate by the kernel's dirty-page limits. " +
				"BenchmarkWriteBaseline writes the same batches with one write(2) each and does nothing else: the ceiling of any append path that makes one system call per batch. " +
				"BenchmarkHandleProduce/zstd fails unless every batch was decompressed exactly once (compress.Decoded counts every decompression in the process)"},
		{ID: "P6-index", Target: "P6", Title: "JSON indexing of 1 KiB log documents, in process",
			Goal: ">= 3x bluge default Batch", GoalRatio: 3, Kind: kindIndexRate,
			Notes: "the same documents (1 KiB JSON logs: timestamp, level, service, host, user object, http object with numbers, trace id, tags array, message text) " +
				"fed to index.Bluge (defaults; one partition; Index batches of 2048 as the pipeline sends them; clock stopped when everything is durable, Flush) " +
				"and to bluge v0.2.2 with its defaults (Writer.Batch of 1000; each value decoded by encoding/json and mapped field by field: " +
				"strings text + keyword, numbers numeric, booleans keyword, no term positions; clock stopped when the last Batch returns, before bluge persists). " +
				"Reconciled on both sides: document count and six term queries (keyword, rare keyword, array element, number, one id) against the generator's counts"},
		{ID: "P6-produce", Target: "P6", Title: "acks=1, 1 KiB JSON, 1 partition, indexing on vs off",
			Goal: "produce with indexing >= 0.9x without", GoalRatio: 0.9, Kind: kindIndexOnOff,
			Spec: p6, Limit: limitPageCache,
			Notes: "our broker with its defaults, -enable-indexing=true and =false alternately (no kfake: the peer is our own broker without indexing); " +
				"values are valid 1 KiB JSON log documents (8192 distinct ones, cycled); with indexing on the index must then catch up to every produced record " +
				"(docs.count of GET /_cat/indices) and two term counts through /_count must match the produced records"},
		{ID: "P7", Target: "P7", Title: "search freshness at half the indexing capacity",
			Goal: "p99 <= 1 s from ack to searchable", Kind: kindFreshness, Spec: p7,
			Notes: "our broker with its defaults and indexing on; offered load half the broker's indexing rate measured by P6-produce in this run " +
				"(else half of P6-index's in-process rate, else of a short in-process probe); every record has a unique id; " +
				"sampled records are searched for right after their acknowledgement through POST /{topic}/_search, every 5 ms until found, " +
				"one request for all samples not found yet (a terms query on id.keyword: one term per id), " +
				"and the hit's partition and offset must be the acknowledged ones"},
		{ID: "P8", Target: "P8", Title: "term query on 1M documents",
			Goal: "p50 <= 2 ms", Kind: kindQuery,
			Notes: "an index of 1,000,000 small JSON documents (about 100 B: id, level, service, user, status, two words of text) built in this process with index.Bluge " +
				"(2 partitions indexed in parallel as the broker's pipeline does, batches of 4096), built once per invocation (or kept with -p8-index); " +
				"one query at a time, 10 hits and an exact total, terms drawn at random from four fields (a unique id, ~100-hit users, ~50k-hit services, a number); " +
				"every total is checked against the generator's count and every id query's hit against the document's partition and offset"},
		{ID: "P9", Target: "P9", Title: "acks=all, 1 KiB, 32 producers offering 2x the measured capacity",
			Goal: "peak RSS <= buffer memory + 128 MiB, no record lost", Kind: kindOverload,
			Spec: p9, Broker: []string{"-buffer-memory", "32MiB"},
			Notes: "capacity measured first on the same broker for 3 s (same 32 clients, unpaced); buffer memory 32 MiB; up to 32 x 5 requests of 1 MiB in flight" + noIndexing},
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
