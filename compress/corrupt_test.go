package compress

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/pierrec/lz4/v4"
)

// checkDecodeErr fails unless err is nil or a *CorruptError (or
// ErrTooLarge) pointing inside src.
func checkDecodeErr(t *testing.T, err error, src []byte) {
	t.Helper()
	if err == nil || errors.Is(err, ErrTooLarge) {
		return
	}
	var ce *CorruptError
	if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("error %v (%T) is not a CorruptError", err, err)
	}
	if ce.Offset < 0 || ce.Offset > len(src) {
		t.Fatalf("error offset %d outside the %d-byte input: %v", ce.Offset, len(src), err)
	}
}

// TestTruncatedAndFlipped decodes every prefix and every single-bit flip of
// small valid streams: no panics, only typed errors.
func TestTruncatedAndFlipped(t *testing.T) {
	in := logDocs(1500)
	type variant struct {
		name   string
		decode func([]byte) ([]byte, error)
		enc    []byte
	}
	var vs []variant
	for _, c := range []Codec{Gzip, Snappy, LZ4, Zstd} {
		enc, _ := AppendEncoded(nil, c, in, 0)
		vs = append(vs, variant{c.String(), func(b []byte) ([]byte, error) { return AppendDecoded(nil, c, b, 1<<20) }, enc})
	}
	legacy, _ := AppendEncodedLZ4Legacy(nil, in, true)
	vs = append(vs, variant{"lz4-v0", func(b []byte) ([]byte, error) { return AppendDecodedLZ4Legacy(nil, b, 1<<20, true) }, legacy})
	for _, v := range vs {
		t.Run(v.name, func(t *testing.T) {
			for n := range len(v.enc) {
				_, err := v.decode(v.enc[:n])
				checkDecodeErr(t, err, v.enc[:n])
			}
			b := append([]byte(nil), v.enc...)
			for i := range b {
				for bit := range 8 {
					b[i] ^= 1 << bit
					out, err := v.decode(b)
					checkDecodeErr(t, err, b)
					if err == nil && len(out) > 1<<20 {
						t.Fatalf("output of %d bytes over the limit", len(out))
					}
					b[i] ^= 1 << bit
				}
			}
		})
	}
}

func lz4Frame(t *testing.T, in []byte, opts ...lz4.Option) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := lz4.NewWriter(&buf)
	if err := w.Apply(opts...); err != nil {
		t.Fatal(err)
	}
	w.Write(in)
	w.Close()
	return buf.Bytes()
}

// withHeader rewrites an LZ4 frame's FLG and BD and fixes its checksum.
func withHeader(frame []byte, flg, bd byte) []byte {
	f := append([]byte(nil), frame...)
	f[4], f[5] = flg, bd
	f[6] = byte(xxh32(f[4:6], 0) >> 8)
	return f
}

func TestCorruptLZ4(t *testing.T) {
	in := logDocs(3000)
	java, _ := AppendEncoded(nil, LZ4, in, 0)
	blockSum := lz4Frame(t, in, lz4.BlockChecksumOption(true), lz4.ChecksumOption(false), lz4.BlockSizeOption(lz4.Block64Kb))
	badSum := append([]byte(nil), blockSum...)
	badSum[len(badSum)-5] ^= 0xff // last byte of the block checksum
	contentSum := lz4Frame(t, in, lz4.BlockSizeOption(lz4.Block64Kb))
	tests := []struct {
		name   string
		src    []byte
		reason string
		offset int
	}{
		{"short", java[:6], "shorter than a frame header", 0},
		{"magic", append([]byte{5}, java[1:]...), "not an LZ4 frame", 0},
		{"version", withHeader(java, 0xA0, 0x40), "version 2", 4},
		{"reserved FLG", withHeader(java, 0x61, 0x40), "reserved FLG", 4},
		{"dependent blocks", withHeader(java, 0x40, 0x40), "dependent blocks", 4},
		{"reserved BD", withHeader(java, 0x60, 0x41), "reserved BD", 5},
		{"block size id", withHeader(java, 0x60, 0x30), "block size id 3", 5},
		{"header checksum", append(append([]byte(nil), java[:6]...), append([]byte{java[6] ^ 1}, java[7:]...)...), "descriptor checksum", 6},
		{"no end mark", java[:len(java)-4], "before its end mark", len(java) - 4},
		{"block overrun", java[:len(java)-6], "overruns", 7},
		{"block checksum", badSum, "block checksum", 7},
		{"content checksum missing", contentSum[:len(contentSum)-2], "content checksum missing", len(contentSum) - 4},
	}
	for _, tt := range tests {
		_, err := AppendDecoded(nil, LZ4, tt.src, 1<<20)
		var ce *CorruptError
		if !errors.As(err, &ce) || !strings.Contains(ce.Reason, tt.reason) || ce.Offset != tt.offset {
			t.Errorf("%s: %v, want a CorruptError at %d saying %q", tt.name, err, tt.offset, tt.reason)
		}
	}
	big := withHeader(java, 0x60, 0x40)
	binary.LittleEndian.PutUint32(big[7:], 64<<10+1)
	if _, err := AppendDecoded(nil, LZ4, big, 1<<20); err == nil || !strings.Contains(err.Error(), "exceeds the frame's 65536-byte maximum") {
		t.Errorf("oversized block: %v", err)
	}
	// Valid checksummed frames decode, and bytes after the end mark are
	// ignored as Lz4BlockInputStream ignores them.
	for _, f := range [][]byte{blockSum, contentSum, append(append([]byte(nil), java...), "junk"...)} {
		if out, err := AppendDecoded(nil, LZ4, f, 1<<20); err != nil || !bytes.Equal(out, in) {
			t.Errorf("valid frame: %v", err)
		}
	}
}

func TestCorruptSnappy(t *testing.T) {
	stream, want := xerialVector()
	head := stream[:16]
	chunkLen := func(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name   string
		src    []byte
		reason string
	}{
		{"empty", nil, "empty input"},
		{"negative chunk", cat(head, chunkLen(0xfffffff0)), "negative xerial chunk"},
		{"chunk overrun", cat(head, chunkLen(100), []byte{1, 2, 3}), "overruns"},
		{"empty chunk", cat(head, chunkLen(0)), "invalid snappy block header"},
		{"bad block", cat(head, chunkLen(3), []byte{10, 0xff, 0xff}), "snappy block"},
		{"short concatenated header", cat(stream, head[:10]), "truncated header of a concatenated"},
		{"old concatenated version", cat(head, head[:8], []byte{0, 0, 0, 0, 0, 0, 0, 1}), "incompatible version 0"},
	}
	for _, tt := range tests {
		_, err := AppendDecoded(nil, Snappy, tt.src, 1<<20)
		var ce *CorruptError
		if !errors.As(err, &ce) || !strings.Contains(ce.Reason, tt.reason) {
			t.Errorf("%s: %v, want a CorruptError saying %q", tt.name, err, tt.reason)
		}
	}
	// SnappyInputStream's leniencies: one to three trailing bytes, and a
	// concatenated header with a bad magic, end the stream.
	for _, tail := range [][]byte{{1}, {1, 2, 3}, cat(head[:4], []byte("XXXX"), head[8:])} {
		out, err := AppendDecoded(nil, Snappy, cat(stream, tail), 1<<20)
		if err != nil || string(out) != want {
			t.Errorf("tail % x: %q, %v", tail, out, err)
		}
	}
}

func TestCorruptZstd(t *testing.T) {
	in := logDocs(3000)
	good, _ := AppendEncoded(nil, Zstd, in, 0)
	mod := func(i int, b byte) []byte {
		f := append([]byte(nil), good...)
		f[i] = b
		return f
	}
	stream := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 18 << 3, 1<<3 | 1, 0, 0, 'x'} // window 256 MiB
	tests := []struct {
		name   string
		src    []byte
		reason string
	}{
		{"empty", nil, "empty input"},
		{"magic", mod(0, 0x29), "not a zstd frame"},
		{"reserved bit", mod(4, good[4]|0x08), "reserved frame header bit"},
		{"dictionary", append([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x21, 7, 5}, 1, 0, 0), "needs dictionary 7"},
		{"reserved block type", []byte{0x28, 0xb5, 0x2f, 0xfd, 0x20, 0, 3<<1 | 1, 0, 0}, "reserved block type"},
		{"truncated block", good[:len(good)-1], "overruns"},
		{"trailing bytes", append(append([]byte(nil), good...), 1, 2), "trailing bytes"},
		{"skippable overrun", []byte{0x50, 0x2a, 0x4d, 0x18, 9, 0, 0, 0, 1}, "skippable frame"},
		{"huge window", stream, "exceeds the 128 MiB limit"},
		{"bad content", mod(len(good)-1, good[len(good)-1]^0xff), "invalid frame"},
	}
	for _, tt := range tests {
		_, err := AppendDecoded(nil, Zstd, tt.src, 1<<20)
		var ce *CorruptError
		if !errors.As(err, &ce) || !strings.Contains(ce.Reason, tt.reason) {
			t.Errorf("%s: %v, want a CorruptError saying %q", tt.name, err, tt.reason)
		}
	}
}

func TestCorruptGzip(t *testing.T) {
	good, _ := AppendEncoded(nil, Gzip, logDocs(3000), 0)
	for name, src := range map[string][]byte{
		"empty":     nil,
		"header":    append([]byte{0x1f, 0x8c}, good[2:]...),
		"truncated": good[:len(good)-3],
		"crc":       append(append([]byte(nil), good[:len(good)-8]...), 1, 2, 3, 4, 5, 6, 7, 8),
	} {
		_, err := AppendDecoded(nil, Gzip, src, 1<<20)
		var ce *CorruptError
		if !errors.As(err, &ce) {
			t.Errorf("%s: %v, want a CorruptError", name, err)
		}
	}
	// The second member's offset is reported.
	two := append(append([]byte(nil), good...), good[:len(good)-1]...)
	_, err := AppendDecoded(nil, Gzip, two, 1<<20)
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Offset != len(good) {
		t.Errorf("truncated second member: %v, want offset %d", err, len(good))
	}
	msg := (&CorruptError{Codec: Gzip, Offset: 12, Reason: "bad", Err: errors.New("cause")}).Error()
	if msg != "compress: corrupt gzip input at byte 12: bad: cause" {
		t.Errorf("Error() = %q", msg)
	}
}
