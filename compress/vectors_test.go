package compress

// Byte vectors built by hand from the format specifications, in the exact
// framing Kafka's Java client writes, so the decoders are checked against
// the formats themselves and not only against other Go implementations.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/pierrec/lz4/v4"
)

// TestXXH32 checks known vectors, then compares with the content checksum
// pierrec/lz4 writes (its own XXH32) for inputs of many lengths.
func TestXXH32(t *testing.T) {
	known := map[string]uint32{
		"":    0x02CC5D05,
		"a":   0x550D7456,
		"abc": 0x32D153FF,
	}
	for in, want := range known {
		if got := xxh32([]byte(in), 0); got != want {
			t.Errorf("xxh32(%q) = %#08x, want %#08x", in, got, want)
		}
	}
	// Random inputs of every length up to 300, and the descriptors whose
	// checksums the LZ4 vectors below hard-code.
	ins := [][]byte{{0x60, 0x40}, {0x04, 0x22, 0x4D, 0x18, 0x60, 0x40}}
	for n := range 300 {
		ins = append(ins, randomBytes(n, uint64(n)+100))
	}
	var buf bytes.Buffer
	w := lz4.NewWriter(&buf) // content checksum on by default
	w.Apply(lz4.BlockSizeOption(lz4.Block64Kb))
	for _, in := range ins {
		n := len(in)
		buf.Reset()
		w.Reset(&buf)
		w.Write(in)
		w.Close()
		frame := buf.Bytes()
		if want := binary.LittleEndian.Uint32(frame[len(frame)-4:]); xxh32(in, 0) != want {
			t.Fatalf("xxh32 of %d bytes = %#08x, pierrec says %#08x", n, xxh32(in, 0), want)
		}
	}
}

// xerialVector is a stream as snappy-java's SnappyOutputStream writes it,
// built from the format: header, two chunks, then a concatenated stream
// (a second header and chunk), as SnappyInputStream accepts.
func xerialVector() (stream []byte, want string) {
	header := []byte{
		0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, // SnappyCodec.MAGIC_HEADER
		0, 0, 0, 1, // version
		0, 0, 0, 1, // minimum compatible version
	}
	// Raw snappy block for "hello hello hello ": length varint 18, a
	// 6-byte literal (tag (6-1)<<2), a copy of 12 bytes at offset 6
	// (two-byte-offset copy: tag (12-1)<<2 | 2, offset little-endian).
	block1 := []byte{18, 0x14, 'h', 'e', 'l', 'l', 'o', ' ', 0x2E, 6, 0}
	// "kafka": length 5, literal of 5.
	block2 := []byte{5, 0x10, 'k', 'a', 'f', 'k', 'a'}
	chunk := func(b []byte) []byte { return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...) }
	stream = append(stream, header...)
	stream = append(stream, chunk(block1)...)
	stream = append(stream, chunk(block2)...)
	stream = append(stream, header...)
	stream = append(stream, chunk(block1)...)
	return stream, "hello hello hello kafkahello hello hello "
}

func TestJavaXerialSnappyVector(t *testing.T) {
	stream, want := xerialVector()
	out, err := AppendDecoded(nil, Snappy, stream, 100)
	if err != nil || string(out) != want {
		t.Fatalf("got %q, %v; want %q", out, err, want)
	}
	// The same block without framing is a raw snappy stream.
	out, err = AppendDecoded(nil, Snappy, stream[20:31], 100)
	if err != nil || string(out) != "hello hello hello " {
		t.Fatalf("raw block: %q, %v", out, err)
	}
	// Our encoder writes the same header and one chunk per 32 KiB.
	enc, _ := AppendEncoded(nil, Snappy, logDocs(70000), 0)
	if !bytes.Equal(enc[:16], stream[:16]) {
		t.Fatalf("header % x, want % x", enc[:16], stream[:16])
	}
	chunks := 0
	for p := 16; p < len(enc); chunks++ {
		p += 4 + int(binary.BigEndian.Uint32(enc[p:]))
	}
	if chunks != 3 {
		t.Fatalf("70000 bytes made %d chunks, want 3 of at most 32 KiB", chunks)
	}
}

// javaLZ4Frame is the frame Kafka's Lz4BlockOutputStream writes for
// "hello hello hello !!!!!" followed by "kafka", built by hand: magic, FLG
// 0x60 (version 1, independent blocks), BD 0x40 (64 KiB), header checksum,
// one compressed block, one stored block, the end mark.
func javaLZ4Frame(brokenHC bool) (frame []byte, want string) {
	hc := byte(0x82) // (XXH32(60 40) >> 8) & 0xff
	if brokenHC {
		hc = 0x1a // (XXH32(04 22 4d 18 60 40) >> 8) & 0xff, Kafka 0.8's bug
	}
	frame = []byte{0x04, 0x22, 0x4D, 0x18, 0x60, 0x40, hc}
	// Sequence 1: token 0x68 = 6 literals, match length 8+4; literals
	// "hello ", offset 6. Sequence 2: token 0x50 = 5 literals, no match.
	block := []byte{0x68, 'h', 'e', 'l', 'l', 'o', ' ', 6, 0, 0x50, '!', '!', '!', '!', '!'}
	frame = binary.LittleEndian.AppendUint32(frame, uint32(len(block)))
	frame = append(frame, block...)
	frame = binary.LittleEndian.AppendUint32(frame, 5|0x80000000) // stored
	frame = append(frame, "kafka"...)
	frame = binary.LittleEndian.AppendUint32(frame, 0)
	return frame, "hello hello hello !!!!!kafka"
}

func TestJavaLZ4Vector(t *testing.T) {
	if hc := byte(xxh32([]byte{0x60, 0x40}, 0) >> 8); hc != 0x82 {
		t.Fatalf("header checksum %#02x, want 0x82", hc)
	}
	if hc := byte(xxh32([]byte{0x04, 0x22, 0x4D, 0x18, 0x60, 0x40}, 0) >> 8); hc != 0x1a {
		t.Fatalf("broken header checksum %#02x, want 0x1a", hc)
	}
	frame, want := javaLZ4Frame(false)
	for _, decode := range []func() ([]byte, error){
		func() ([]byte, error) { return AppendDecoded(nil, LZ4, frame, 100) },
		func() ([]byte, error) { return AppendDecodedLZ4Legacy(nil, frame, 100, false) },
		func() ([]byte, error) { return AppendDecodedLZ4Legacy(nil, frame, 100, true) },
	} {
		if out, err := decode(); err != nil || string(out) != want {
			t.Fatalf("got %q, %v; want %q", out, err, want)
		}
	}
	broken, _ := javaLZ4Frame(true)
	if out, err := AppendDecodedLZ4Legacy(nil, broken, 100, true); err != nil || string(out) != want {
		t.Fatalf("magic 0 frame: %q, %v", out, err)
	}
	var ce *CorruptError
	if _, err := AppendDecoded(nil, LZ4, broken, 100); !errors.As(err, &ce) || ce.Offset != 6 {
		t.Fatalf("broken checksum in a v2 batch: %v, want a CorruptError at byte 6", err)
	}
	// Our encoder writes the Java header and the v0 variant of it.
	for _, broken := range []bool{false, true} {
		enc, _ := AppendEncodedLZ4Legacy(nil, []byte("x"), broken)
		ref, _ := javaLZ4Frame(broken)
		if !bytes.Equal(enc[:7], ref[:7]) {
			t.Errorf("broken=%v: header % x, want % x", broken, enc[:7], ref[:7])
		}
	}
	enc, _ := AppendEncoded(nil, LZ4, nil, 0)
	if !bytes.Equal(enc, []byte{0x04, 0x22, 0x4D, 0x18, 0x60, 0x40, 0x82, 0, 0, 0, 0}) {
		t.Errorf("empty frame % x", enc)
	}
}

// TestJavaGzipVector decodes a member as java.util.zip.GZIPOutputStream
// frames it (10-byte header, MTIME 0, OS 255 since JDK 16), with one stored
// deflate block, then CRC-32 and ISIZE.
func TestJavaGzipVector(t *testing.T) {
	member := []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}
	member = append(member, 0x01, 5, 0, 0xfa, 0xff) // final stored block, LEN 5, NLEN
	member = append(member, "hello"...)
	member = binary.LittleEndian.AppendUint32(member, crc32.ChecksumIEEE([]byte("hello")))
	member = binary.LittleEndian.AppendUint32(member, 5)
	out, err := AppendDecoded(nil, Gzip, member, 5)
	if err != nil || string(out) != "hello" {
		t.Fatalf("got %q, %v", out, err)
	}
	// GZIPInputStream ignores bytes after a member that are not a member.
	out, err = AppendDecoded(nil, Gzip, append(append([]byte(nil), member...), "trailing junk"...), 5)
	if err != nil || string(out) != "hello" {
		t.Fatalf("with trailing bytes: %q, %v", out, err)
	}
	// A member with a bad CRC is corrupt.
	bad := append([]byte(nil), member...)
	bad[len(bad)-8] ^= 1
	if _, err := AppendDecoded(nil, Gzip, bad, 5); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("bad CRC: %v", err)
	}
}

// TestJavaZstdVector decodes frames of the two shapes zstd-jni writes: a
// single-segment frame with a content size, and a streaming frame with a
// window descriptor and no content size, holding raw and RLE blocks.
func TestJavaZstdVector(t *testing.T) {
	single := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x20, 5} // magic, FHD single segment, FCS 5
	single = append(single, 5<<3|1, 0, 0)             // last raw block of 5
	single = append(single, "hello"...)
	out, err := AppendDecoded(nil, Zstd, single, 5)
	if err != nil || string(out) != "hello" {
		t.Fatalf("single segment: %q, %v", out, err)
	}
	stream := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58} // FHD 0, window 2 MiB (log 21)
	stream = append(stream, 5<<3, 0, 0)                  // raw block (type 0) of 5, not last
	stream = append(stream, "kafka"...)
	stream = append(stream, 3<<3|1<<1|1, 0, 0, '!') // last RLE block: "!!!"
	out, err = AppendDecoded(nil, Zstd, stream, 8)
	if err != nil || string(out) != "kafka!!!" {
		t.Fatalf("streaming frame: %q, %v", out, err)
	}
	if _, err := AppendDecoded(nil, Zstd, stream, 7); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("limit 7: %v, want ErrTooLarge", err)
	}
}
