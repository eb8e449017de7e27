package produce

import (
	"fmt"
	"testing"

	"github.com/chronik-go/chronik/compress"
	"github.com/chronik-go/chronik/errcode"
)

// TestCompressedBatchDecodedOnce: the produce path decompresses a
// compressed batch exactly once (P5), whether the batch is kept as it came
// (compression.type producer or the batch's own codec), recompressed with
// another codec or stored uncompressed, at acks=1 and acks=all, and for an
// idempotent producer. The stored batch has the topic's codec. Counted by
// compress.Decoded, which sees every decompression in the process.
func TestCompressedBatchDecodedOnce(t *testing.T) {
	e := newEnv(t, nil)
	codecs := []compress.Codec{compress.Gzip, compress.Snappy, compress.LZ4, compress.Zstd}
	for _, c := range codecs {
		other := compress.LZ4
		if c == compress.LZ4 {
			other = compress.Gzip
		}
		for _, target := range []string{"producer", c.String(), other.String(), "uncompressed"} {
			for _, acks := range []int16{1, -1} {
				for _, idempotent := range []bool{false, true} {
					name := fmt.Sprintf("%s-to-%s-acks%d-idem%v", c, target, acks, idempotent)
					t.Run(name, func(t *testing.T) {
						e.t = t
						topic := "once-" + name
						e.topic(topic, 1, map[string]string{"compression.type": target})
						spec := newSpec(40)
						spec.codec = c
						if idempotent {
							spec.producerID, spec.epoch, spec.baseSequence = 7, 0, 0
						}
						batch := spec.build(t)
						before := compress.Decoded(c).Calls
						got := one(t, e.produce(9, acks, pr(topic, 0, batch)))
						wantCode(t, got, errcode.None)
						if calls := compress.Decoded(c).Calls - before; calls != 1 {
							t.Fatalf("%d decompressions of the %s batch, want exactly 1", calls, c)
						}
						stored := e.readAll(topic, 0)
						if len(stored) != 1 {
							t.Fatalf("%d batches stored, want 1", len(stored))
						}
						want := c
						switch target {
						case other.String():
							want = other
						case "uncompressed":
							want = compress.None
						}
						if h := headerOf(stored[0]); h.Codec() != want || h.NumRecords != 40 {
							t.Fatalf("stored batch: codec %s with %d records, want %s with 40", h.Codec(), h.NumRecords, want)
						}
					})
				}
			}
		}
	}
}
