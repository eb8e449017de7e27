package compress

import "sync/atomic"

// DecodeStats is the decompression work done in this process since it
// started, for one codec: what a host's metrics can export, and what tests
// and benchmarks read to check that the produce path decompresses each
// batch exactly once.
type DecodeStats struct {
	Calls uint64 // AppendDecoded and AppendDecodedLZ4Legacy calls, failed ones included
	Bytes uint64 // bytes they produced
}

// decodeCounters holds one DecodeStats per codec id, updated atomically.
var decodeCounters [Zstd + 1]struct {
	calls, bytes atomic.Uint64
}

// Decoded returns the decompression work done so far with codec c (zero
// for None and for unknown codecs).
func Decoded(c Codec) DecodeStats {
	if c == None || !c.Valid() {
		return DecodeStats{}
	}
	d := &decodeCounters[c]
	return DecodeStats{Calls: d.calls.Load(), Bytes: d.bytes.Load()}
}

func countDecoded(c Codec, n int) {
	d := &decodeCounters[c]
	d.calls.Add(1)
	d.bytes.Add(uint64(max(n, 0)))
}
