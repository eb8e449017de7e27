package tier

import (
	"bytes"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chronik-go/chronik/record"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// goldenFooter is a footer with every field distinct, for the golden file.
func goldenFooter() footer {
	f := layout(4096, 5000, 1_700_000_123_456, [numSections]int64{1 << 20, 812, 452, 1230})
	for i := range f.sections {
		f.sections[i].crc = 0xA1B2C3D0 + uint32(i)
	}
	return f
}

// TestFooterGolden pins the byte layout of the footer (docs/format.md).
// Run with -update to rewrite testdata/footer.golden after a deliberate
// format change.
func TestFooterGolden(t *testing.T) {
	f := goldenFooter()
	got := hex.Dump(f.encode())
	path := filepath.Join("testdata", "footer.golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatalf("footer bytes changed:\n%s\nwant:\n%s", got, want)
	}
}

func TestFooterRoundTripAndEveryFlip(t *testing.T) {
	f := goldenFooter()
	b := f.encode()
	if len(b) != footerSize {
		t.Fatalf("footer is %d bytes; want %d", len(b), footerSize)
	}
	got, why := decodeFooter(b, f.objectSize, f.base)
	if why != "" || got != f {
		t.Fatalf("decode(encode(f)) = %+v, %q; want %+v", got, why, f)
	}
	for i := range b {
		for bit := range 8 {
			bad := bytes.Clone(b)
			bad[i] ^= 1 << bit
			if _, why := decodeFooter(bad, f.objectSize, f.base); why == "" {
				t.Fatalf("flipping bit %d of footer byte %d went unnoticed", bit, i)
			}
		}
	}
	if _, why := decodeFooter(b, f.objectSize+1, f.base); why == "" {
		t.Fatalf("a footer of another object size was accepted")
	}
	if _, why := decodeFooter(b, f.objectSize, f.base+1); why == "" {
		t.Fatalf("a footer under another key was accepted")
	}
	if _, why := decodeFooter(b[1:], f.objectSize, f.base); why == "" {
		t.Fatalf("a short footer was accepted")
	}
}

func TestHeader(t *testing.T) {
	h := encodeHeader(4096)
	want := []byte{'C', 'K', 'T', 'S', 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0}
	if !bytes.Equal(h, want) {
		t.Fatalf("header = % x; want % x", h, want)
	}
}

func TestKeys(t *testing.T) {
	if k := segmentKey("orders/3/", 4096); k != "orders/3/00000000000000004096.seg" {
		t.Fatalf("segmentKey = %q", k)
	}
	for key, want := range map[string]int64{
		"p/00000000000000004096.seg": 4096,
		"p/09223372036854775807.seg": 1<<63 - 1,
	} {
		if got, ok := parseKey("p/", key); !ok || got != want {
			t.Errorf("parseKey(%q) = %d, %v; want %d", key, got, ok, want)
		}
	}
	for _, key := range []string{
		"p/0000000000000004096.seg", "p/000000000000000004096.seg", "p/00000000000000004096.log",
		"q/00000000000000004096.seg", "p/x/00000000000000004096.seg", "p/-0000000000000004096.seg",
		"p/+0000000000000004096.seg", "p/99999999999999999999.seg",
	} {
		if _, ok := parseKey("p/", key); ok {
			t.Errorf("parseKey(%q) accepted a key that is not a segment of p/", key)
		}
	}
}

// FuzzDecodeFooter: decoding never panics, and whatever decodes encodes
// back to the same bytes.
func FuzzDecodeFooter(f *testing.F) {
	g := goldenFooter()
	f.Add(g.encode(), g.objectSize, g.base)
	f.Add(make([]byte, footerSize), int64(footerSize+headerSize), int64(0))
	f.Fuzz(func(t *testing.T, b []byte, objectSize, base int64) {
		ft, why := decodeFooter(b, objectSize, base)
		if why != "" {
			return
		}
		if !bytes.Equal(ft.encode(), b) {
			t.Fatalf("decoded footer re-encodes differently")
		}
	})
}

// testBatches returns n valid v2 batches with offsets from base.
func testBatches(t testing.TB, base int64, n int) []byte {
	var out []byte
	b := record.NewBuilder()
	for i := range n {
		b.Reset()
		b.BaseOffset = base
		for j := range 1 + i%3 {
			b.Append(testEpoch+int64(i), []byte(strings.Repeat("k", j+1)), []byte(strings.Repeat("v", 10*i)))
		}
		var err error
		if out, err = b.Finish(out); err != nil {
			t.Fatal(err)
		}
		base += int64(1 + i%3)
	}
	return out
}

// FuzzBatchChecker: the checker's verdict does not depend on how the bytes
// are split, and it accepts only data whose every batch has a valid CRC.
func FuzzBatchChecker(f *testing.F) {
	valid := testBatches(f, 100, 4)
	f.Add(valid, uint8(7), uint16(0), uint8(0))
	f.Add(valid, uint8(61), uint16(17), uint8(4))
	f.Add(valid, uint8(1), uint16(300), uint8(1))
	f.Add([]byte{}, uint8(3), uint16(0), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8, flipAt uint16, flip uint8) {
		if len(data) > 0 && flip != 0 {
			data = bytes.Clone(data)
			data[int(flipAt)%len(data)] ^= flip
		}
		next := int64(100)
		if len(data) >= record.HeaderSize {
			// Let the last batch's end decide next, so valid data passes.
			for p := 0; p+record.HeaderSize <= len(data); {
				h := record.ReadHeader(data[p:])
				if h.BatchLength < minBatchLength || h.Size() > len(data)-p {
					break
				}
				next = h.LastOffset() + 1
				p += h.Size()
			}
		}
		verdict := func(step int) error {
			c := newBatchChecker("fuzz.log", 100, next, int64(len(data)))
			for p := 0; p < len(data); p += step {
				if err := c.write(data[p:min(p+step, len(data))]); err != nil {
					return err
				}
			}
			return c.finish()
		}
		whole := verdict(max(len(data), 1))
		split := verdict(int(chunk%64) + 1)
		if (whole == nil) != (split == nil) {
			t.Fatalf("whole write: %v; chunks of %d: %v", whole, chunk%64+1, split)
		}
		if whole == nil {
			if err := checkBatches("fuzz", data); err != nil {
				t.Fatalf("checker accepted data with a bad batch: %v", err)
			}
		}
	})
}
