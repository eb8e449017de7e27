package record

import (
	"encoding/binary"
	"math"
	"testing"
)

// TestVarintRoundTrip checks our zigzag varints against encoding/binary's
// (the same zigzag scheme) for canonical encodings.
func TestVarintRoundTrip(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 63, -64, 64, 1 << 20, math.MaxInt32, math.MinInt32, math.MaxInt64, math.MinInt64} {
		want := binary.AppendVarint(nil, v)
		if got := appendVarlong(nil, v); string(got) != string(want) || varlongSize(v) != len(want) {
			t.Errorf("appendVarlong(%d) = %x (size %d), want %x", v, got, varlongSize(v), want)
		}
		got, next, ok := readVarlong(want, 0)
		if !ok || got != v || next != len(want) {
			t.Errorf("readVarlong(%x) = %d, %d, %v", want, got, next, ok)
		}
		if v >= math.MinInt32 && v <= math.MaxInt32 {
			if got := appendVarint(nil, int32(v)); string(got) != string(want) || varintSize(int32(v)) != len(want) {
				t.Errorf("appendVarint(%d) = %x, want %x", v, got, want)
			}
			got, next, ok := readVarint(want, 0)
			if !ok || int64(got) != v || next != len(want) {
				t.Errorf("readVarint(%x) = %d, %d, %v", want, got, next, ok)
			}
		}
	}
}

// TestVarintLimits follows Kafka's ByteUtils: at most 5 (10) bytes, the
// surplus bits of the last byte dropped, a cut varint refused.
func TestVarintLimits(t *testing.T) {
	cases := []struct {
		in   []byte
		ok   bool
		want int32
	}{
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, false, 0},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x7f}, true, 0x78000000},
		{[]byte{0xfe, 0xff, 0xff, 0xff, 0x0f}, true, math.MaxInt32},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x0f}, true, math.MinInt32},
		{[]byte{0x80}, false, 0},
		{nil, false, 0},
	}
	for _, c := range cases {
		got, _, ok := readVarint(c.in, 0)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("readVarint(%x) = %d, %v; want %d, %v", c.in, got, ok, c.want, c.ok)
		}
	}
	ten := []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7e}
	if v, n, ok := readVarlong(ten, 0); !ok || n != 10 || v != 0 {
		t.Errorf("10-byte varlong with surplus bits = %d, %d, %v; want 0, 10, true", v, n, ok)
	}
	ten[9] = 0x80
	if _, _, ok := readVarlong(append(ten, 0), 0); ok {
		t.Error("11-byte varlong accepted")
	}
}
