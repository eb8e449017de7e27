package compress

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var codecs = []Codec{None, Gzip, Snappy, LZ4, Zstd}

// logDocs returns n bytes of JSON log documents of about 1 KiB each, the
// same bytes for the same n: realistic, compressible record values.
func logDocs(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	services := []string{"checkout", "payments", "search", "inventory", "auth", "gateway"}
	levels := []string{"INFO", "INFO", "INFO", "WARN", "DEBUG", "ERROR"}
	words := strings.Fields("request handled user cart item order retry timeout cache miss hit " +
		"upstream latency budget exceeded shard replica leader epoch commit offset batch " +
		"token refresh session expired quota throttle connection pool saturated")
	var b bytes.Buffer
	for b.Len() < n {
		start := b.Len()
		fmt.Fprintf(&b, `{"ts":"2024-05-%02dT%02d:%02d:%02d.%03dZ","level":%q,"service":%q,`+
			`"host":"node-%d","trace_id":"%016x%016x","user_id":%d,"latency_ms":%d,`+
			`"path":"/api/v1/%s/%d","status":%d,"msg":"`,
			1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(1000),
			levels[r.IntN(len(levels))], services[r.IntN(len(services))],
			r.IntN(64), r.Uint64(), r.Uint64(), r.IntN(1_000_000), r.IntN(5000),
			services[r.IntN(len(services))], r.IntN(10000), []int{200, 200, 201, 404, 500}[r.IntN(5)])
		for b.Len()-start < 1000 {
			b.WriteString(words[r.IntN(len(words))])
			b.WriteByte(' ')
		}
		b.WriteString("\"}\n")
	}
	return b.Bytes()[:n]
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// inputs are the round-trip inputs: every size the brief asks for, in
// compressible, incompressible and degenerate flavours.
func inputs() map[string][]byte {
	m := map[string][]byte{}
	for _, n := range []int{0, 1, 100, 64 << 10, 1<<20 + 17} {
		m[fmt.Sprintf("logs/%d", n)] = logDocs(n)
		m[fmt.Sprintf("random/%d", n)] = randomBytes(n, uint64(n))
		m[fmt.Sprintf("zeros/%d", n)] = make([]byte, n)
	}
	// Just over one block or chunk of each framing.
	m["logs/65537"] = logDocs(65537)
	m["random/32769"] = randomBytes(32769, 3)
	return m
}

func TestRoundTrip(t *testing.T) {
	prefix := []byte("prefix kept")
	for name, in := range inputs() {
		for _, c := range codecs {
			t.Run(c.String()+"/"+name, func(t *testing.T) {
				enc, err := AppendEncoded(append([]byte(nil), prefix...), c, in, 0)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.HasPrefix(enc, prefix) {
					t.Fatal("AppendEncoded lost dst's contents")
				}
				enc = enc[len(prefix):]
				out, err := AppendDecoded(append([]byte(nil), prefix...), c, enc, len(in))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(out[:len(prefix)], prefix) || !bytes.Equal(out[len(prefix):], in) {
					t.Fatalf("round trip of %d bytes gave %d bytes", len(in), len(out)-len(prefix))
				}
				if len(in) > 0 {
					_, err := AppendDecoded(nil, c, enc, len(in)-1)
					if !errors.Is(err, ErrTooLarge) {
						t.Fatalf("limit %d below the %d-byte output: err = %v, want ErrTooLarge", len(in)-1, len(in), err)
					}
				}
			})
		}
	}
}

func TestLegacyLZ4RoundTrip(t *testing.T) {
	for _, broken := range []bool{false, true} {
		for _, n := range []int{0, 1, 100, 200 << 10} {
			in := logDocs(n)
			enc, err := AppendEncodedLZ4Legacy(nil, in, broken)
			if err != nil {
				t.Fatal(err)
			}
			out, err := AppendDecodedLZ4Legacy(nil, enc, n, broken)
			if err != nil || !bytes.Equal(out, in) {
				t.Fatalf("broken=%v n=%d: err %v, equal %v", broken, n, err, bytes.Equal(out, in))
			}
			// A correct checksum reads in both modes; a broken one only
			// where Kafka skips the check (magic 0).
			_, err = AppendDecodedLZ4Legacy(nil, enc, n, !broken)
			if broken && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("broken checksum accepted as magic 1: %v", err)
			}
			if !broken && err != nil {
				t.Fatalf("correct checksum refused as magic 0: %v", err)
			}
		}
	}
}

func TestLevels(t *testing.T) {
	in := logDocs(70_000)
	levels := map[Codec][]int{
		Gzip: {-1, 1, 2, 3, 4, 5, 6, 7, 8, 9},
		LZ4:  {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17},
		Zstd: {-131072, -5, -1, 1, 2, 3, 4, 5, 6, 9, 10, 19, 22},
	}
	for c, ls := range levels {
		for _, l := range ls {
			enc, err := AppendEncoded(nil, c, in, l)
			if err != nil {
				t.Fatalf("%s level %d: %v", c, l, err)
			}
			out, err := AppendDecoded(nil, c, enc, len(in))
			if err != nil || !bytes.Equal(out, in) {
				t.Fatalf("%s level %d: err %v, equal %v", c, l, err, bytes.Equal(out, in))
			}
			if len(enc) >= len(in)/2 {
				t.Errorf("%s level %d: %d bytes compressed to %d", c, l, len(in), len(enc))
			}
		}
	}
}

func TestValidLevel(t *testing.T) {
	tests := []struct {
		c     Codec
		level int
		ok    bool
	}{
		{None, 0, true}, {None, 1, false},
		{Snappy, 0, true}, {Snappy, 1, false}, {Snappy, -1, false},
		{Gzip, 0, true}, {Gzip, -1, true}, {Gzip, 1, true}, {Gzip, 9, true},
		{Gzip, -2, false}, {Gzip, 10, false},
		{LZ4, 0, true}, {LZ4, 1, true}, {LZ4, 17, true}, {LZ4, -1, false}, {LZ4, 18, false},
		{Zstd, 0, true}, {Zstd, -131072, true}, {Zstd, 22, true},
		{Zstd, -131073, false}, {Zstd, 23, false},
	}
	for _, tt := range tests {
		err := ValidLevel(tt.c, tt.level)
		if (err == nil) != tt.ok {
			t.Errorf("ValidLevel(%s, %d) = %v, want ok=%v", tt.c, tt.level, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrLevel) {
			t.Errorf("ValidLevel(%s, %d) = %v, want ErrLevel", tt.c, tt.level, err)
		}
		_, encErr := AppendEncoded(nil, tt.c, []byte("x"), tt.level)
		if (encErr == nil) != tt.ok {
			t.Errorf("AppendEncoded(%s, level %d) = %v, want ok=%v", tt.c, tt.level, encErr, tt.ok)
		}
	}
}

func TestUnknownCodec(t *testing.T) {
	for _, c := range []Codec{-1, 5, 6, 7} {
		if _, err := AppendDecoded(nil, c, []byte("x"), 10); !errors.Is(err, ErrUnknownCodec) {
			t.Errorf("AppendDecoded(%s): %v, want ErrUnknownCodec", c, err)
		}
		if _, err := AppendEncoded(nil, c, []byte("x"), 0); !errors.Is(err, ErrUnknownCodec) {
			t.Errorf("AppendEncoded(%s): %v, want ErrUnknownCodec", c, err)
		}
		if err := ValidLevel(c, 0); !errors.Is(err, ErrUnknownCodec) {
			t.Errorf("ValidLevel(%s): %v, want ErrUnknownCodec", c, err)
		}
	}
}

func TestCodecNames(t *testing.T) {
	for _, c := range codecs {
		got, err := ParseCodec(strings.ToUpper(c.String()))
		if err != nil || got != c {
			t.Errorf("ParseCodec(%q) = %v, %v", c.String(), got, err)
		}
	}
	if c, err := ParseCodec("uncompressed"); err != nil || c != None {
		t.Errorf("ParseCodec(uncompressed) = %v, %v", c, err)
	}
	if _, err := ParseCodec("brotli"); err == nil {
		t.Error("ParseCodec(brotli) succeeded")
	}
	if s := Codec(6).String(); s != "codec(6)" {
		t.Errorf("Codec(6).String() = %q", s)
	}
}

// TestConcurrent shares the pools between goroutines; run with -race.
func TestConcurrent(t *testing.T) {
	in := logDocs(40 << 10)
	done := make(chan error)
	for g := range 8 {
		go func() {
			var err error
			defer func() { done <- err }()
			for i := range 10 {
				c := codecs[(g+i)%len(codecs)]
				var enc, out []byte
				if enc, err = AppendEncoded(nil, c, in, 0); err != nil {
					return
				}
				if out, err = AppendDecoded(nil, c, enc, len(in)); err != nil {
					return
				}
				if !bytes.Equal(out, in) {
					err = fmt.Errorf("%s: round trip differs", c)
					return
				}
			}
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
