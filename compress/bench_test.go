package compress

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Benchmarks on 1 KiB JSON log documents concatenated into 16 KiB and 1 MiB
// inputs, at each codec's default level. MB/s is of uncompressed bytes in
// both directions. The franz-go sub-benchmarks run its default compressor
// and decompressor on the same input, for a side-by-side ratio. Every
// benchmark checks that its last output round-trips.

var benchSizes = []int{16 << 10, 1 << 20}

var franzCodecs = map[Codec]struct {
	codec kgo.CompressionCodec
	typ   kgo.CompressionCodecType
}{
	Gzip:   {kgo.GzipCompression(), kgo.CodecGzip},
	Snappy: {kgo.SnappyCompression(), kgo.CodecSnappy},
	LZ4:    {kgo.Lz4Compression(), kgo.CodecLz4},
	Zstd:   {kgo.ZstdCompression(), kgo.CodecZstd},
}

func sizeName(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dKiB", n>>10)
}

func BenchmarkEncode(b *testing.B) {
	for _, c := range []Codec{Gzip, Snappy, LZ4, Zstd} {
		for _, n := range benchSizes {
			in := logDocs(n)
			b.Run(fmt.Sprintf("%s/%s", c, sizeName(n)), func(b *testing.B) {
				b.SetBytes(int64(n))
				b.ReportAllocs()
				var enc []byte
				for b.Loop() {
					enc, _ = AppendEncoded(enc[:0], c, in, 0)
				}
				b.StopTimer()
				if out, err := AppendDecoded(nil, c, enc, n); err != nil || !bytes.Equal(out, in) {
					b.Fatalf("output does not round-trip: %v", err)
				}
				b.ReportMetric(float64(n)/float64(len(enc)), "x-ratio")
			})
			b.Run(fmt.Sprintf("franz-go/%s/%s", c, sizeName(n)), func(b *testing.B) {
				fc := franzCodecs[c]
				comp, _ := kgo.DefaultCompressor(fc.codec)
				var buf bytes.Buffer
				var enc []byte
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					buf.Reset()
					enc, _ = comp.Compress(&buf, in)
				}
				b.StopTimer()
				if out, err := AppendDecoded(nil, c, enc, n); err != nil || !bytes.Equal(out, in) {
					b.Fatalf("output does not round-trip: %v", err)
				}
				b.ReportMetric(float64(n)/float64(len(enc)), "x-ratio")
			})
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, c := range []Codec{Gzip, Snappy, LZ4, Zstd} {
		for _, n := range benchSizes {
			in := logDocs(n)
			enc, _ := AppendEncoded(nil, c, in, 0)
			b.Run(fmt.Sprintf("%s/%s", c, sizeName(n)), func(b *testing.B) {
				b.SetBytes(int64(n))
				b.ReportAllocs()
				var out []byte
				var err error
				for b.Loop() {
					if out, err = AppendDecoded(out[:0], c, enc, n); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				if !bytes.Equal(out, in) {
					b.Fatal("decoded bytes differ from the input")
				}
			})
			b.Run(fmt.Sprintf("franz-go/%s/%s", c, sizeName(n)), func(b *testing.B) {
				dec := kgo.DefaultDecompressor()
				b.SetBytes(int64(n))
				b.ReportAllocs()
				var out []byte
				var err error
				for b.Loop() {
					if out, err = dec.Decompress(enc, franzCodecs[c].typ); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				if !bytes.Equal(out, in) {
					b.Fatal("decoded bytes differ from the input")
				}
			})
		}
	}
}
