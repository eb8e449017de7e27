package record

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/chronik-go/chronik/compress"
)

// benchBatch builds a batch of about 16 KiB of records with values of
// valueSize bytes and returns it with the total value bytes it holds.
func benchBatch(tb testing.TB, c compress.Codec, valueSize int) ([]byte, int) {
	b := NewBuilder()
	b.Codec = c
	b.ProducerID, b.ProducerEpoch, b.BaseSequence = 1, 0, 0
	value := bytes.Repeat([]byte("0123456789abcdef"), valueSize/16+1)[:valueSize]
	total := 0
	for total+valueSize <= 16<<10-valueSize/2 || b.Len() == 0 {
		b.Append(1_700_000_000_000+int64(b.Len()), []byte("key-00"), value, RecordHeader{Key: []byte("h"), Value: []byte("v")})
		total += valueSize
	}
	out, err := b.Finish(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return out, total
}

var benchSizes = []int{1024, 100}

// BenchmarkCRCOnly is the floor: framing the batch and its CRC-32C, no
// record walk.
func BenchmarkCRCOnly(b *testing.B) {
	for _, vs := range benchSizes {
		batch, _ := benchBatch(b, compress.None, vs)
		want := crc32.Checksum(batch[21:], castagnoli)
		b.Run(fmt.Sprintf("value=%dB", vs), func(b *testing.B) {
			b.SetBytes(int64(len(batch)))
			b.ReportAllocs()
			for b.Loop() {
				one, _, err := NextBatch(batch)
				if err != nil || len(one) != len(batch) {
					b.Fatal("framing failed")
				}
				if ComputeCRC(one) != want {
					b.Fatal("CRC mismatch")
				}
			}
		})
	}
}

// BenchmarkCheckAndWalk is what the produce path does to an uncompressed
// batch: every header check, the CRC, and a walk over every record and
// header; it checks the walk saw every value byte.
func BenchmarkCheckAndWalk(b *testing.B) {
	for _, vs := range benchSizes {
		batch, total := benchBatch(b, compress.None, vs)
		b.Run(fmt.Sprintf("value=%dB", vs), func(b *testing.B) {
			b.SetBytes(int64(len(batch)))
			b.ReportAllocs()
			var seen int
			fn := func(_ int, r *Record) error {
				seen += len(r.Value)
				return r.ForEachHeader(func(_, _ []byte) error { return nil })
			}
			for b.Loop() {
				h, err := CheckBatch(batch)
				if err != nil {
					b.Fatal(err)
				}
				seen = 0
				if _, err := WalkBatch(batch, &h, nil, 0, fn); err != nil {
					b.Fatal(err)
				}
				if seen != total {
					b.Fatalf("walked %d value bytes, want %d", seen, total)
				}
			}
		})
	}
}

// BenchmarkValidateBatch runs the full Validator (timestamps and keys
// checked per record) over the same batches.
func BenchmarkValidateBatch(b *testing.B) {
	for _, vs := range benchSizes {
		batch, _ := benchBatch(b, compress.None, vs)
		n := int(ReadHeader(batch).NumRecords)
		v := openValidator()
		v.Compacted = true
		b.Run(fmt.Sprintf("value=%dB", vs), func(b *testing.B) {
			b.SetBytes(int64(len(batch)))
			b.ReportAllocs()
			for b.Loop() {
				res, _, err := v.ValidateBatch(batch, nil)
				if err != nil || res.Records != n || len(res.Errors) != 0 {
					b.Fatalf("validated %d records, %v, %v", res.Records, res.Errors, err)
				}
			}
		})
	}
}

// BenchmarkWalkCompressed decompresses once into a reused scratch buffer
// and walks; throughput is of decompressed bytes.
func BenchmarkWalkCompressed(b *testing.B) {
	for _, c := range []compress.Codec{compress.LZ4, compress.Snappy, compress.Zstd, compress.Gzip} {
		batch, total := benchBatch(b, c, 1024)
		b.Run(c.String(), func(b *testing.B) {
			h, err := CheckBatch(batch)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(total))
			b.ReportAllocs()
			var scratch []byte
			seen := 0
			fn := func(_ int, r *Record) error { seen += len(r.Value); return nil }
			for b.Loop() {
				seen = 0
				if scratch, err = WalkBatch(batch, &h, scratch, 1<<20, fn); err != nil {
					b.Fatal(err)
				}
				if seen != total {
					b.Fatalf("walked %d value bytes, want %d", seen, total)
				}
			}
		})
	}
}

// BenchmarkBuild builds an uncompressed 16 KiB batch of 1 KiB values,
// reusing the builder and the output buffer, and checks its CRC.
func BenchmarkBuild(b *testing.B) {
	value := bytes.Repeat([]byte("v"), 1024)
	bld := NewBuilder()
	var out []byte
	b.SetBytes(16 * 1024)
	b.ReportAllocs()
	for b.Loop() {
		bld.Reset()
		for range 16 {
			bld.Append(1, []byte("key"), value)
		}
		var err error
		if out, err = bld.Finish(out[:0]); err != nil || !CRCValid(out) {
			b.Fatal("bad batch", err)
		}
	}
}
