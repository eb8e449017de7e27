package compress

// Interoperability with the codecs real clients use, in both directions:
// segmentio/kafka-go's compress packages, franz-go's kgo compressor and
// decompressor (exported as DefaultCompressor and DefaultDecompressor),
// pierrec/lz4's frame writer and reader with every option Kafka clients
// may set, klauspost's streaming zstd encoder (frames without a content
// size, as zstd-jni writes), the standard library's gzip, and the lz4, zstd
// and gzip command-line tools when installed.

import (
	"bytes"
	stdgzip "compress/gzip"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"testing"

	kzstd "github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	kgcompress "github.com/segmentio/kafka-go/compress"
	kggzip "github.com/segmentio/kafka-go/compress/gzip"
	kglz4 "github.com/segmentio/kafka-go/compress/lz4"
	kgsnappy "github.com/segmentio/kafka-go/compress/snappy"
	kgzstd "github.com/segmentio/kafka-go/compress/zstd"
	"github.com/twmb/franz-go/pkg/kgo"
)

// interopInputs are smaller than inputs() to keep the matrix fast; the
// largest still spans several LZ4 blocks, xerial chunks and zstd blocks.
func interopInputs() map[string][]byte {
	return map[string][]byte{
		"logs/1":       logDocs(1),
		"logs/100":     logDocs(100),
		"logs/65537":   logDocs(65537),
		"logs/300K":    logDocs(300_017),
		"random/40000": randomBytes(40000, 9),
		"zeros/70000":  make([]byte, 70000),
	}
}

func kafkaGoEncode(t *testing.T, c kgcompress.Codec, in []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := c.NewWriter(&buf)
	if _, err := w.Write(in); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func kafkaGoDecode(t *testing.T, c kgcompress.Codec, enc []byte) []byte {
	t.Helper()
	r := c.NewReader(bytes.NewReader(enc))
	defer r.Close()
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestInteropKafkaGo(t *testing.T) {
	variants := []struct {
		name  string
		codec Codec
		level int
		kg    kgcompress.Codec
	}{
		{"gzip/default", Gzip, 0, &kggzip.Codec{}},
		{"gzip/1", Gzip, 1, &kggzip.Codec{Level: 1}},
		{"gzip/9", Gzip, 9, &kggzip.Codec{Level: 9}},
		{"snappy/framed", Snappy, 0, &kgsnappy.Codec{Framing: kgsnappy.Framed}},
		{"snappy/unframed", Snappy, 0, &kgsnappy.Codec{Framing: kgsnappy.Unframed}},
		{"snappy/framed-best", Snappy, 0, &kgsnappy.Codec{Framing: kgsnappy.Framed, Compression: kgsnappy.BestCompression}},
		{"snappy/unframed-faster", Snappy, 0, &kgsnappy.Codec{Framing: kgsnappy.Unframed, Compression: kgsnappy.FasterCompression}},
		{"lz4", LZ4, 0, &kglz4.Codec{}},
		{"lz4/hc", LZ4, 12, &kglz4.Codec{}},
		{"zstd/default", Zstd, 0, &kgzstd.Codec{}},
		{"zstd/1", Zstd, 1, &kgzstd.Codec{Level: 1}},
		{"zstd/19", Zstd, 19, &kgzstd.Codec{Level: 19}},
	}
	for _, v := range variants {
		for name, in := range interopInputs() {
			if len(in) > 100_000 && v.level != 0 {
				continue // the large input runs at default levels only
			}
			t.Run(v.name+"/"+name, func(t *testing.T) {
				theirs := kafkaGoEncode(t, v.kg, in)
				out, err := AppendDecoded(nil, v.codec, theirs, len(in))
				if err != nil || !bytes.Equal(out, in) {
					t.Fatalf("decoding kafka-go's output: err %v, equal %v", err, bytes.Equal(out, in))
				}
				ours, err := AppendEncoded(nil, v.codec, in, v.level)
				if err != nil {
					t.Fatal(err)
				}
				if got := kafkaGoDecode(t, v.kg, ours); !bytes.Equal(got, in) {
					t.Fatalf("kafka-go decoded our output to %d bytes, want %d", len(got), len(in))
				}
			})
		}
	}
}

func TestInteropFranzGo(t *testing.T) {
	variants := []struct {
		name  string
		codec Codec
		level int
		fg    kgo.CompressionCodec
		typ   kgo.CompressionCodecType
	}{
		{"gzip", Gzip, 0, kgo.GzipCompression(), kgo.CodecGzip},
		{"gzip/9", Gzip, 9, kgo.GzipCompression().WithLevel(9), kgo.CodecGzip},
		{"snappy", Snappy, 0, kgo.SnappyCompression(), kgo.CodecSnappy},
		{"lz4", LZ4, 0, kgo.Lz4Compression(), kgo.CodecLz4},
		{"lz4/hc", LZ4, 9, kgo.Lz4Compression().WithLevel(int(lz4.Level5)), kgo.CodecLz4},
		{"zstd", Zstd, 0, kgo.ZstdCompression(), kgo.CodecZstd},
		{"zstd/best", Zstd, 22, kgo.ZstdCompression().WithLevel(int(kzstd.SpeedBestCompression)), kgo.CodecZstd},
	}
	dec := kgo.DefaultDecompressor()
	for _, v := range variants {
		comp, err := kgo.DefaultCompressor(v.fg)
		if err != nil {
			t.Fatal(err)
		}
		for name, in := range interopInputs() {
			if len(in) > 100_000 && v.level != 0 {
				continue // the large input runs at default levels only
			}
			t.Run(v.name+"/"+name, func(t *testing.T) {
				var buf bytes.Buffer
				theirs, typ := comp.Compress(&buf, in)
				if typ != v.typ {
					t.Fatalf("franz-go compressed with codec %d, want %d", typ, v.typ)
				}
				out, err := AppendDecoded(nil, v.codec, theirs, len(in))
				if err != nil || !bytes.Equal(out, in) {
					t.Fatalf("decoding franz-go's output: err %v, equal %v", err, bytes.Equal(out, in))
				}
				ours, err := AppendEncoded(nil, v.codec, in, v.level)
				if err != nil {
					t.Fatal(err)
				}
				got, err := dec.Decompress(ours, v.typ)
				if err != nil || !bytes.Equal(got, in) {
					t.Fatalf("franz-go decoding our output: err %v, equal %v", err, bytes.Equal(got, in))
				}
			})
		}
	}
}

// TestInteropLZ4Frames reads frames written with each option a client's
// lz4 library may set, and has pierrec's frame reader read ours.
func TestInteropLZ4Frames(t *testing.T) {
	options := map[string][]lz4.Option{
		"defaults":         nil,
		"64K":              {lz4.BlockSizeOption(lz4.Block64Kb), lz4.ChecksumOption(false)},
		"256K+blocksum":    {lz4.BlockSizeOption(lz4.Block256Kb), lz4.BlockChecksumOption(true)},
		"1M+size":          {lz4.BlockSizeOption(lz4.Block1Mb), lz4.SizeOption(0)},
		"4M+all":           {lz4.BlockSizeOption(lz4.Block4Mb), lz4.BlockChecksumOption(true), lz4.ChecksumOption(true)},
		"level5":           {lz4.CompressionLevelOption(lz4.Level5)},
		"ccompat+blocksum": {lz4.CompressionLevelOption(lz4.CCompatFast), lz4.BlockChecksumOption(true)},
	}
	for oname, opts := range options {
		for name, in := range interopInputs() {
			t.Run(oname+"/"+name, func(t *testing.T) {
				var buf bytes.Buffer
				w := lz4.NewWriter(&buf)
				if oname == "1M+size" {
					opts = []lz4.Option{lz4.BlockSizeOption(lz4.Block1Mb), lz4.SizeOption(uint64(len(in)))}
				}
				if err := w.Apply(opts...); err != nil {
					t.Fatal(err)
				}
				if _, err := w.Write(in); err != nil {
					t.Fatal(err)
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				out, err := AppendDecoded(nil, LZ4, buf.Bytes(), len(in))
				if err != nil || !bytes.Equal(out, in) {
					t.Fatalf("err %v, equal %v", err, bytes.Equal(out, in))
				}
			})
		}
	}
	for name, in := range interopInputs() {
		for _, level := range []int{0, 3, 17} {
			ours, err := AppendEncoded(nil, LZ4, in, level)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(lz4.NewReader(bytes.NewReader(ours)))
			if err != nil || !bytes.Equal(got, in) {
				t.Fatalf("%s level %d: pierrec reading ours: err %v, equal %v", name, level, err, bytes.Equal(got, in))
			}
		}
	}
}

// TestInteropZstdStreams reads streaming-encoder frames: no content size,
// several blocks, a checksum, the shape zstd-jni's ZstdOutputStream writes.
func TestInteropZstdStreams(t *testing.T) {
	for _, level := range []kzstd.EncoderLevel{kzstd.SpeedFastest, kzstd.SpeedDefault, kzstd.SpeedBetterCompression, kzstd.SpeedBestCompression} {
		for name, in := range interopInputs() {
			var buf bytes.Buffer
			w, err := kzstd.NewWriter(&buf, kzstd.WithEncoderLevel(level), kzstd.WithEncoderConcurrency(1))
			if err != nil {
				t.Fatal(err)
			}
			for chunk := range slices.Chunk(in, 16<<10) { // Kafka's 16 KiB BufferedOutputStream
				if _, err := w.Write(chunk); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			out, err := AppendDecoded(nil, Zstd, buf.Bytes(), len(in))
			if err != nil || !bytes.Equal(out, in) {
				t.Fatalf("%s/%s: err %v, equal %v", level, name, err, bytes.Equal(out, in))
			}
		}
	}
	// Several frames with a skippable frame between them decode as one.
	a, b := logDocs(5000), randomBytes(3000, 4)
	multi, _ := AppendEncoded(nil, Zstd, a, 0)
	multi = append(multi, 0x5A, 0x2A, 0x4D, 0x18, 3, 0, 0, 0, 'x', 'y', 'z')
	multi, _ = AppendEncoded(multi, Zstd, b, 0)
	out, err := AppendDecoded(nil, Zstd, multi, len(a)+len(b))
	if err != nil || !bytes.Equal(out, append(append([]byte(nil), a...), b...)) {
		t.Fatalf("multi-frame: err %v", err)
	}
}

func TestInteropStdlibGzip(t *testing.T) {
	for name, in := range interopInputs() {
		var buf bytes.Buffer
		w := stdgzip.NewWriter(&buf)
		w.Write(in)
		w.Close()
		out, err := AppendDecoded(nil, Gzip, buf.Bytes(), len(in))
		if err != nil || !bytes.Equal(out, in) {
			t.Fatalf("%s: decoding the standard library's gzip: err %v", name, err)
		}
		ours, _ := AppendEncoded(nil, Gzip, in, 0)
		r, err := stdgzip.NewReader(bytes.NewReader(ours))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, in) {
			t.Fatalf("%s: standard library reading ours: err %v", name, err)
		}
	}
	// Multi-member streams (what concatenating producers write) decode whole.
	a, _ := AppendEncoded(nil, Gzip, []byte("first member, "), 0)
	ab, _ := AppendEncoded(a, Gzip, []byte("second member"), 1)
	out, err := AppendDecoded(nil, Gzip, ab, 100)
	if err != nil || string(out) != "first member, second member" {
		t.Fatalf("multi-member: %q, %v", out, err)
	}
}

// runTool pipes in through a command-line tool, skipping when it is absent.
func runTool(t *testing.T, in []byte, name string, args ...string) []byte {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed", name)
	}
	cmd := exec.Command(path, args...)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return out
}

// TestLZ4MatchesReferenceTool checks our default-level frames byte for byte
// against the reference lz4 tool configured as Kafka's Java producer writes
// frames: level 1 (LZ4_compress_fast), 64 KiB independent blocks, no
// checksums.
func TestLZ4MatchesReferenceTool(t *testing.T) {
	for name, in := range interopInputs() {
		ref := runTool(t, in, "lz4", "-1", "-B4", "-BI", "--no-frame-crc", "-c", "-q")
		ours, _ := AppendEncoded(nil, LZ4, in, 0)
		if !bytes.Equal(ours, ref) {
			t.Errorf("%s: our frame (%d bytes) differs from the reference tool's (%d bytes)", name, len(ours), len(ref))
		}
		if got := runTool(t, ours, "lz4", "-d", "-c", "-q"); !bytes.Equal(got, in) {
			t.Errorf("%s: lz4 -d of our frame differs", name)
		}
		out, err := AppendDecoded(nil, LZ4, ref, len(in))
		if err != nil || !bytes.Equal(out, in) {
			t.Errorf("%s: decoding the tool's frame: %v", name, err)
		}
	}
}

func TestInteropTools(t *testing.T) {
	for name, in := range interopInputs() {
		for _, tc := range []struct {
			codec    Codec
			tool     string
			compress []string
		}{
			{Zstd, "zstd", []string{"-3", "-c", "-q"}},
			{Zstd, "zstd", []string{"-19", "--no-check", "-c", "-q"}},
			{Gzip, "gzip", []string{"-6", "-c", "-n"}},
		} {
			if tc.compress[0] == "-19" && len(in) > 128<<10 {
				continue // slow, and the smaller inputs cover it
			}
			t.Run(fmt.Sprintf("%s/%v/%s", tc.tool, tc.compress[0], name), func(t *testing.T) {
				theirs := runTool(t, in, tc.tool, tc.compress...)
				out, err := AppendDecoded(nil, tc.codec, theirs, len(in))
				if err != nil || !bytes.Equal(out, in) {
					t.Fatalf("decoding %s's output: %v", tc.tool, err)
				}
				ours, _ := AppendEncoded(nil, tc.codec, in, 0)
				if got := runTool(t, ours, tc.tool, "-d", "-c"); !bytes.Equal(got, in) {
					t.Fatalf("%s -d of our output differs", tc.tool)
				}
			})
		}
	}
}
