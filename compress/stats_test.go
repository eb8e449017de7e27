package compress

import (
	"errors"
	"testing"
)

// TestDecodedCounts: every AppendDecoded call of a real codec counts once
// with the bytes it produced, failures included; None counts nothing.
func TestDecodedCounts(t *testing.T) {
	src := logDocs(64 << 10)
	for _, c := range codecs {
		enc, err := AppendEncoded(nil, c, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		before := Decoded(c)
		out, err := AppendDecoded([]byte("prefix"), c, enc, len(src))
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if string(out[6:]) != string(src) {
			t.Fatalf("%s: round trip differs", c)
		}
		if _, err := AppendDecoded(nil, c, enc, len(src)/2); c != None && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("%s with half the limit: %v, want ErrTooLarge", c, err)
		}
		got := Decoded(c)
		if c == None {
			if got != (DecodeStats{}) {
				t.Fatalf("None counted %+v", got)
			}
			continue
		}
		if calls := got.Calls - before.Calls; calls != 2 {
			t.Errorf("%s: %d calls counted, want 2", c, calls)
		}
		// The first call produced len(src) bytes; the refused one at most
		// its limit.
		if n := got.Bytes - before.Bytes; n < uint64(len(src)) || n > uint64(len(src)+len(src)/2) {
			t.Errorf("%s: %d bytes counted, want %d plus at most %d", c, n, len(src), len(src)/2)
		}
	}
	if Decoded(Codec(7)) != (DecodeStats{}) {
		t.Error("an unknown codec has counts")
	}
	before := Decoded(LZ4)
	enc, err := AppendEncodedLZ4Legacy(nil, src, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := AppendDecodedLZ4Legacy(nil, enc, len(src), false); err != nil {
		t.Fatal(err)
	}
	if got := Decoded(LZ4); got.Calls-before.Calls != 1 || got.Bytes-before.Bytes != uint64(len(src)) {
		t.Errorf("legacy lz4: %+v after %+v, want one call of %d bytes", got, before, len(src))
	}
}
