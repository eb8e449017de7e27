package compress

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the seed corpus under testdata/fuzz")

// fuzzKinds are the decoders under fuzz: the five codecs, then lz4 in a
// magic 0 wrapper (header checksum skipped).
const fuzzKinds = 6

func fuzzDecode(kind uint8, dst, src []byte, limit int) ([]byte, error) {
	if kind%fuzzKinds == 5 {
		return AppendDecodedLZ4Legacy(dst, src, limit, true)
	}
	return AppendDecoded(dst, Codec(kind%fuzzKinds), src, limit)
}

func fuzzEncode(kind uint8, src []byte) ([]byte, error) {
	if kind%fuzzKinds == 5 {
		return AppendEncodedLZ4Legacy(nil, src, true)
	}
	return AppendEncoded(nil, Codec(kind%fuzzKinds), src, 0)
}

// FuzzDecode feeds arbitrary input to every decoder. Invariants: no panic;
// errors are ErrTooLarge or a *CorruptError inside the input; the output
// never exceeds the limit; dst's contents are kept; and whatever decodes
// re-encodes and decodes back to the same bytes.
func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s.kind, s.limit, s.src)
	}
	f.Fuzz(func(t *testing.T, kind uint8, limit uint32, src []byte) {
		lim := int(limit % (1<<20 + 1))
		prefix := []byte{0xAA, 0xBB}
		out, err := fuzzDecode(kind, append([]byte(nil), prefix...), src, lim)
		checkDecodeErr(t, err, src)
		if !bytes.Equal(out[:len(prefix)], prefix) {
			t.Fatal("dst's contents were overwritten")
		}
		out = out[len(prefix):]
		if len(out) > lim {
			t.Fatalf("%d bytes of output over the %d-byte limit", len(out), lim)
		}
		if err != nil {
			return
		}
		enc, err := fuzzEncode(kind, out)
		if err != nil {
			t.Fatal(err)
		}
		back, err := fuzzDecode(kind, nil, enc, len(out))
		if err != nil || !bytes.Equal(back, out) {
			t.Fatalf("re-encoded output does not round-trip: %v", err)
		}
	})
}

type fuzzSeed struct {
	name  string
	kind  uint8
	limit uint32
	src   []byte
}

// fuzzSeeds are valid streams of each kind (from our encoders and the
// hand-built Java vectors), their truncations, and small bombs.
func fuzzSeeds() []fuzzSeed {
	var seeds []fuzzSeed
	for kind := range uint8(fuzzKinds) {
		for _, n := range []int{0, 1, 300, 5000} {
			enc, _ := fuzzEncode(kind, logDocs(n))
			seeds = append(seeds,
				fuzzSeed{fmt.Sprintf("k%d-logs%d", kind, n), kind, uint32(n), enc},
				fuzzSeed{fmt.Sprintf("k%d-logs%d-cut", kind, n), kind, 1 << 20, enc[:len(enc)*2/3]})
		}
	}
	xerial, _ := xerialVector()
	java, _ := javaLZ4Frame(false)
	broken, _ := javaLZ4Frame(true)
	seeds = append(seeds,
		fuzzSeed{"snappy-java-xerial", uint8(Snappy), 1 << 10, xerial},
		fuzzSeed{"snappy-raw", uint8(Snappy), 1 << 10, xerial[20:31]},
		fuzzSeed{"lz4-java", uint8(LZ4), 1 << 10, java},
		fuzzSeed{"lz4-java-v0", 5, 1 << 10, broken},
		fuzzSeed{"zstd-rle-bomb", uint8(Zstd), 1 << 16, zstdBomb(false)[:6+4*64]},
	)
	return seeds
}

// TestFuzzSeedCorpus keeps testdata/fuzz/FuzzDecode in step with
// fuzzSeeds; run with -update to rewrite it.
func TestFuzzSeedCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	for _, s := range fuzzSeeds() {
		file := filepath.Join(dir, s.name)
		want := fmt.Sprintf("go test fuzz v1\nbyte(%s)\nuint32(%d)\n[]byte(%s)\n",
			strconv.QuoteRune(rune(s.kind)), s.limit, strconv.Quote(string(s.src)))
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(file)
		if err != nil || string(got) != want {
			t.Errorf("seed %s is missing or stale (err %v); run go test -run TestFuzzSeedCorpus -update", s.name, err)
		}
	}
}
