package compress

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

const (
	bombSize  = 1 << 30 // what the bombs below decompress to
	bombLimit = 1 << 20 // the limit they are decoded with
)

// gzipBomb is 256 gzip members of 4 MiB of zeros each: 1 GiB from ~1 MiB.
func gzipBomb() []byte {
	member, _ := AppendEncoded(nil, Gzip, make([]byte, 4<<20), 9)
	return bytes.Repeat(member, bombSize/(4<<20))
}

// lz4Bomb is a frame of 4 MiB blocks, each 4 MiB of zeros: 1 GiB from ~4 MiB.
func lz4Bomb() []byte {
	flg, bd := byte(lz4JavaFLG), byte(7<<4)
	frame := []byte{0x04, 0x22, 0x4D, 0x18, flg, bd, byte(xxh32([]byte{flg, bd}, 0) >> 8)}
	zeros := make([]byte, 4<<20)
	block := make([]byte, lz4.CompressBlockBound(len(zeros)))
	var c lz4.Compressor
	n, _ := c.CompressBlock(zeros, block)
	for range bombSize / len(zeros) {
		frame = binary.LittleEndian.AppendUint32(frame, uint32(n))
		frame = append(frame, block[:n]...)
	}
	return binary.LittleEndian.AppendUint32(frame, 0)
}

// zstdBomb is one frame of 128 KiB RLE blocks: 1 GiB from 32 KiB. With
// sized, the frame declares its 1 GiB content size.
func zstdBomb(sized bool) []byte {
	frame := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 7 << 3} // window 128 KiB
	if sized {
		frame[4] = 0xC0 // 8-byte Frame_Content_Size
		frame = binary.LittleEndian.AppendUint64(frame, bombSize)
	}
	blocks := bombSize / zstdMaxBlock
	for i := range blocks {
		h := uint32(zstdMaxBlock<<3 | 1<<1)
		if i == blocks-1 {
			h |= 1
		}
		frame = append(frame, byte(h), byte(h>>8), byte(h>>16), 0)
	}
	return frame
}

// snappyBomb is a xerial stream of 32 KiB chunks of zeros. Snappy cannot
// expand more than ~21x, so its bombs are mild: 64 MiB from 3 MiB.
func snappyBomb() []byte {
	one, _ := AppendEncoded(nil, Snappy, make([]byte, xerialChunkSize), 0)
	chunk := one[xerialHeaderLen:]
	return append(one[:xerialHeaderLen:xerialHeaderLen], bytes.Repeat(chunk, (64<<20)/xerialChunkSize)...)
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestBombs decodes each bomb with a 1 MiB limit: it must be refused with
// ErrTooLarge after allocating a few MiB at most, never the bomb's size.
func TestBombs(t *testing.T) {
	bombs := []struct {
		name   string
		codec  Codec
		src    []byte
		budget uint64
	}{
		{"gzip", Gzip, gzipBomb(), 3 * bombLimit},
		{"snappy", Snappy, snappyBomb(), 3 * bombLimit},
		{"lz4", LZ4, lz4Bomb(), 3*bombLimit + 4<<20}, // plus one 4 MiB scratch block
		{"zstd", Zstd, zstdBomb(false), 3 * bombLimit},
		{"zstd-sized", Zstd, zstdBomb(true), 64 << 10},
	}
	for _, b := range bombs {
		t.Run(b.name, func(t *testing.T) {
			// Warm the pools so the measured run counts only the output.
			if _, err := AppendDecoded(nil, b.codec, b.src, bombLimit); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("err = %v, want ErrTooLarge", err)
			}
			var err error
			start := time.Now()
			n := allocated(func() { _, err = AppendDecoded(nil, b.codec, b.src, bombLimit) })
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("err = %v, want ErrTooLarge", err)
			}
			t.Logf("%d-byte bomb refused in %v after allocating %d KiB", len(b.src), time.Since(start), n>>10)
			if n > b.budget {
				t.Fatalf("allocated %d bytes decoding with a %d-byte limit, budget %d", n, bombLimit, b.budget)
			}
		})
	}
}

// TestDeclaredSizeChecked refuses frames and blocks that declare more than
// the limit before decoding them.
func TestDeclaredSizeChecked(t *testing.T) {
	// A raw snappy block whose header declares 4 MiB: one literal then
	// copies of 64 bytes, refused on its header alone.
	const n = 4 << 20
	block := binary.AppendUvarint(nil, n)
	block = append(block, 0x00, 0) // literal of one zero byte
	for range (n - 1) / 64 {
		block = append(block, 63<<2|2, 1, 0) // copy 64 at offset 1
	}
	block = append(block, 62<<2|2, 1, 0) // copy 63: the rest
	if out, err := AppendDecoded(nil, Snappy, block, n); err != nil || len(out) != n {
		t.Fatalf("hand-made block does not decode: %v", err)
	}
	var err error
	if a := allocated(func() { _, err = AppendDecoded(nil, Snappy, block, n-1) }); a > 4<<10 {
		t.Errorf("allocated %d bytes before refusing a declared size", a)
	}
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	// A snappy header that claims far more than its block can hold is corrupt.
	liar := append(binary.AppendUvarint(nil, 1<<30), 0x00, 0)
	if _, err := AppendDecoded(nil, Snappy, liar, 2<<30); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("lying snappy header: %v, want ErrCorrupt", err)
	}
	// A zstd frame declaring 1 GiB is refused before anything is decoded,
	// even with the limit just under it.
	if _, err := AppendDecoded(nil, Zstd, zstdBomb(true), bombSize-1); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("sized zstd bomb: %v, want ErrTooLarge", err)
	}
}

// TestExactLimit decodes outputs of exactly the limit and one byte over.
func TestExactLimit(t *testing.T) {
	for _, c := range codecs {
		for _, n := range []int{0, 1, 4095, 4096, 4097, 100000} {
			in := logDocs(n)
			enc, _ := AppendEncoded(nil, c, in, 0)
			out, err := AppendDecoded(make([]byte, 0, n), c, enc, n)
			if err != nil || !bytes.Equal(out, in) {
				t.Fatalf("%s n=%d limit n: %v", c, n, err)
			}
			// A roomy dst must not let the output pass the limit.
			if n > 0 {
				if _, err := AppendDecoded(make([]byte, 0, 2*n), c, enc, n-1); !errors.Is(err, ErrTooLarge) {
					t.Fatalf("%s n=%d limit n-1: %v", c, n, err)
				}
			}
		}
	}
	if _, err := AppendDecoded(nil, None, []byte("ab"), -1); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("negative limit: %v", err)
	}
}

// TestUnsizedZstdOverLimit: a zstd frame without a declared content size
// (as zstd-jni's streams write) whose output passes the limit is
// ErrTooLarge wherever the limit falls, block-aligned or not; a corrupt
// block below the limit stays ErrCorrupt.
func TestUnsizedZstdOverLimit(t *testing.T) {
	in := logDocs(1 << 20)
	var buf bytes.Buffer
	w, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(in); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	enc := buf.Bytes()
	if f, err := scanZstdFrame(enc, 0); err != nil || f.sized {
		t.Fatalf("the stream's frame: sized %v, %v; want an unsized frame", f.sized, err)
	}
	for _, limit := range []int{1, 100 << 10, 128 << 10, 129 << 10, 200 << 10, 300000, 1<<20 - 1} {
		if _, err := AppendDecoded(nil, Zstd, enc, limit); !errors.Is(err, ErrTooLarge) {
			t.Errorf("limit %d: %v, want ErrTooLarge", limit, err)
		}
	}
	if out, err := AppendDecoded(nil, Zstd, enc, 1<<20); err != nil || !bytes.Equal(out, in) {
		t.Fatalf("limit = output size: %v", err)
	}
	// Flip a byte inside the first compressed block: corrupt, not too large.
	bad := bytes.Clone(enc)
	bad[40] ^= 0xff
	if _, err := AppendDecoded(nil, Zstd, bad, 1<<20); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("corrupted first block: %v, want ErrCorrupt", err)
	}
}
