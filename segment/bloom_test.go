package segment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/bits"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/chronik-go/chronik/internal/vfs"
)

// benchKey writes the i-th distinct 16-byte test key into k.
func benchKey(k []byte, i uint64) []byte {
	k = be.AppendUint64(k[:0], i)
	return be.AppendUint64(k, i*0x9e3779b97f4a7c15)
}

// TestBloomFalsePositiveRate fills filters at the default rate with n
// distinct 16-byte keys and checks that none is missed and that 200k
// absent keys hit at most the configured rate.
func TestBloomFalsePositiveRate(t *testing.T) {
	const absent = 200_000
	for _, c := range []struct {
		rate float64
		n    int
	}{{0.01, 10_000}, {0.01, 1_000_000}, {0.1, 100_000}, {0.001, 50_000}} {
		t.Run(fmt.Sprintf("rate=%v/keys=%d", c.rate, c.n), func(t *testing.T) {
			b := NewBloom(c.rate)
			k := make([]byte, 0, 16)
			for i := range uint64(c.n) {
				b.Add(benchKey(k, i))
			}
			for i := range uint64(c.n) {
				if !b.MayContain(benchKey(k, i)) {
					t.Fatalf("false negative for key %d", i)
				}
			}
			hits := 0
			for i := range uint64(absent) {
				if b.MayContain(benchKey(k, 1<<40+i)) {
					hits++
				}
			}
			got := float64(hits) / absent
			t.Logf("%d keys: %d filters, %d bytes (%.1f bits/key), false-positive rate %.5f",
				c.n, len(b.filters), b.SizeBytes(), float64(8*b.SizeBytes())/float64(c.n), got)
			if got > c.rate {
				t.Fatalf("false-positive rate %.5f above %v", got, c.rate)
			}
			if b.Keys() > c.n || b.Keys() < c.n*99/100 {
				t.Fatalf("Keys = %d for %d distinct keys", b.Keys(), c.n)
			}
		})
	}
}

// TestBloomRepeatedKeys: a key already in the newest filter is not counted
// again, and a key set cycled across filter boundaries is counted at most
// once per filter.
func TestBloomRepeatedKeys(t *testing.T) {
	b := NewBloom(0.01)
	k := make([]byte, 0, 16)
	for i := range uint64(500) {
		b.Add(benchKey(k, i))
	}
	keys, size := b.Keys(), b.SizeBytes()
	for range 20 {
		for i := range uint64(500) {
			b.Add(benchKey(k, i))
		}
	}
	if b.Keys() != keys || b.SizeBytes() != size || len(b.filters) != 1 {
		t.Fatalf("repeats grew the filter: %d keys, %d bytes, %d filters; was %d keys, %d bytes",
			b.Keys(), b.SizeBytes(), len(b.filters), keys, size)
	}

	// 3000 keys cycled: filter 0 (1024 keys) fills during the first pass,
	// filter 1 (4096) takes the other 1976 and then the 1024 from filter 0
	// once, and never fills, so every later pass adds nothing.
	b = NewBloom(0.01)
	for range 10 {
		for i := range uint64(3000) {
			b.Add(benchKey(k, i))
		}
	}
	if len(b.filters) != 2 || b.filters[0].count != 1024 || b.Keys() > 1024+3000 || b.Keys() < 3000 {
		t.Fatalf("cycled keys: %d filters, %d keys", len(b.filters), b.Keys())
	}
	for i := range uint64(3000) {
		if !b.MayContain(benchKey(k, i)) {
			t.Fatalf("false negative for key %d", i)
		}
	}
}

// TestBloomSchedule: each filter has the capacity, rate and size its
// position calls for, as bits-and-blooms sizes them.
func TestBloomSchedule(t *testing.T) {
	b := NewBloom(0.01)
	k := make([]byte, 0, 16)
	// A key the newest filter reports (a false positive) is not counted:
	// add until the third filter opens.
	i := uint64(0)
	for ; len(b.filters) < 3; i++ {
		b.Add(benchKey(k, i))
	}
	if i < 1024+4096+1 || i > 1024+4096+100 {
		t.Fatalf("third filter opened after %d keys", i)
	}
	for i, f := range b.filters {
		c := 1024 << (2 * i)
		m, kk := estimate(c, 3*0.01/math.Pow(2, float64(i+3)))
		if f.capacity != uint32(c) || uint64(f.f.Cap()) != m || f.f.K() != kk || len(f.f.BitSet().Words()) != int((m+63)/64) {
			t.Fatalf("filter %d: capacity %d, m %d, k %d; want %d, %d, %d", i, f.capacity, f.f.Cap(), f.f.K(), c, m, kk)
		}
	}
	if got := b.filters[2].count; got != 1 {
		t.Fatalf("newest filter holds %d keys", got)
	}
}

// estimate is the sizing rule of docs/format.md §8.5, written out: k is
// 60% of the optimum log2(1/p), and m the bits at which n keys and k hash
// functions give rate p, (1 - e^(-k n / m))^k = p.
func estimate(n int, p float64) (m uint64, k uint) {
	k = uint(math.Ceil(0.6 * -math.Log2(p)))
	return uint64(math.Ceil(-float64(k) * float64(n) / math.Log(1-math.Pow(p, 1/float64(k))))), k
}

func TestBloomAllocations(t *testing.T) {
	b := NewBloom(0.01)
	k := make([]byte, 0, 16)
	for i := range uint64(100) {
		b.Add(benchKey(k, i))
	}
	i := uint64(1000)
	if n := testing.AllocsPerRun(500, func() { b.Add(benchKey(k, i)); i++ }); n != 0 {
		t.Fatalf("Add allocates %v times", n)
	}
	if n := testing.AllocsPerRun(500, func() { b.MayContain(benchKey(k, i)); i++ }); n != 0 {
		t.Fatalf("MayContain of one filter allocates %v times", n)
	}
}

func TestBloomRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 1500, 30_000} {
		b := NewBloom(0.05)
		k := make([]byte, 0, 16)
		for i := range uint64(n) {
			b.Add(benchKey(k, i))
		}
		b.BaseOffset, b.LogSize, b.NextOffset = 7, 9, 11
		enc := b.Encode()
		if enc[4] != bloomVersion {
			t.Fatalf("written with version %d", enc[4])
		}
		d, err := DecodeBloom(enc)
		if err != nil {
			t.Fatalf("%d keys: %v", n, err)
		}
		if !reflect.DeepEqual(d, b) || !bytes.Equal(d.Encode(), enc) {
			t.Fatalf("%d keys: round trip differs", n)
		}
		for i := range uint64(n) + 1000 {
			if d.MayContain(benchKey(k, i)) != b.MayContain(benchKey(k, i)) {
				t.Fatalf("%d keys: decoded filter answers differently for key %d", n, i)
			}
		}
		// A decoded filter takes more keys (the active segment after a
		// clean close).
		for i := range uint64(2000) {
			d.Add(benchKey(k, 1<<32+i))
		}
		for i := range uint64(n) {
			if !d.MayContain(benchKey(k, i)) {
				t.Fatalf("%d keys: key %d lost after more adds", n, i)
			}
		}
	}
	// The smallest rate sizes filters for 1e-30: k = 60, 158 bits a key.
	tiny := NewBloom(math.SmallestNonzeroFloat64)
	tiny.Add([]byte("x"))
	if d, err := DecodeBloom(tiny.Encode()); err != nil || !d.MayContain([]byte("x")) || d.filters[0].f.K() != 60 || d.SizeBytes() > 64<<10 {
		t.Fatalf("filter at the smallest rate: %v", err)
	}
	all := NewBloom(0.01)
	all.Add([]byte("x"))
	all.SetAll()
	all.Add([]byte("y"))
	d, err := DecodeBloom(all.Encode())
	if err != nil || !d.MayContain([]byte("anything")) || d.Keys() != 0 {
		t.Fatalf("all-keys filter: %v", err)
	}
}

// withCRC returns b with its trailing CRC recomputed.
func withCRC(b []byte) []byte {
	b = bytes.Clone(b)
	be.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], castagnoli))
	return b
}

func TestDecodeBloomRefuses(t *testing.T) {
	b := NewBloom(0.01)
	k := make([]byte, 0, 16)
	for i := range uint64(1500) {
		b.Add(benchKey(k, i))
	}
	enc := b.Encode()
	const filter0 = fileHeaderSize + 12 // m, k, count of filter 0
	m0 := be.Uint64(enc[filter0:])
	filter1 := filter0 + 16 + 8*int((m0+63)/64)
	edit := func(f func(b []byte) []byte) []byte { return withCRC(f(bytes.Clone(enc))) }
	golden, err := os.ReadFile(bloomV1Golden)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"empty":         nil,
		"short":         enc[:fileHeaderSize+3],
		"truncated":     withCRC(enc[:len(enc)-100]),
		"no fields":     withCRC(append(bytes.Clone(enc[:fileHeaderSize]), 0, 0, 0, 0)),
		"trailing":      withCRC(append(bytes.Clone(enc), 0, 0, 0, 0)),
		"version 1":     golden,
		"version 3":     edit(func(b []byte) []byte { b[4] = 3; return b }),
		"magic":         edit(func(b []byte) []byte { b[0] = 'X'; return b }),
		"flags":         edit(func(b []byte) []byte { b[5] = 2; return b }),
		"reserved":      edit(func(b []byte) []byte { b[7] = 1; return b }),
		"all and bits":  edit(func(b []byte) []byte { b[5] = bloomFlagAll; return b }),
		"rate 0":        edit(func(b []byte) []byte { be.PutUint64(b[fileHeaderSize:], 0); return b }),
		"rate NaN":      edit(func(b []byte) []byte { be.PutUint64(b[fileHeaderSize:], math.Float64bits(math.NaN())); return b }),
		"rate 0.6":      edit(func(b []byte) []byte { be.PutUint64(b[fileHeaderSize:], math.Float64bits(0.6)); return b }),
		"49 filters":    edit(func(b []byte) []byte { be.PutUint32(b[fileHeaderSize+8:], 49); return b }),
		"3 filters":     edit(func(b []byte) []byte { be.PutUint32(b[fileHeaderSize+8:], 3); return b }),
		"1 filter":      edit(func(b []byte) []byte { be.PutUint32(b[fileHeaderSize+8:], 1); return b }),
		"huge m":        edit(func(b []byte) []byte { be.PutUint64(b[filter0:], 1<<40); return b }),
		"m max":         edit(func(b []byte) []byte { be.PutUint64(b[filter0:], math.MaxUint64); return b }),
		"m off":         edit(func(b []byte) []byte { be.PutUint64(b[filter0:], m0-65); return b }),
		"k 0":           edit(func(b []byte) []byte { be.PutUint32(b[filter0+8:], 0); return b }),
		"k 65":          edit(func(b []byte) []byte { be.PutUint32(b[filter0+8:], 65); return b }),
		"k off":         edit(func(b []byte) []byte { be.PutUint32(b[filter0+8:], be.Uint32(b[filter0+8:])+2); return b }),
		"count":         edit(func(b []byte) []byte { be.PutUint32(b[filter0+12:], 1025); return b }),
		"filter 1 m":    edit(func(b []byte) []byte { be.PutUint64(b[filter1:], m0); return b }),
		"bits beyond m": edit(func(b []byte) []byte { b[filter1-8] |= 0x80; return b }),
	}
	if m0%64 == 0 {
		t.Fatalf("m of filter 0 is %d: the padding case needs a partial last word", m0)
	}
	for name, data := range cases {
		_, err := DecodeBloom(data)
		var fe *FormatError
		var ve *BloomVersionError
		if strings.HasPrefix(name, "version") {
			if !errors.As(err, &ve) {
				t.Errorf("%s: %v, want a *BloomVersionError", name, err)
			}
		} else if !errors.As(err, &fe) || fe.File != "bloom filter" {
			t.Errorf("%s: %v", name, err)
		}
	}
	for i := 0; i < len(enc); i += 61 {
		c := bytes.Clone(enc)
		c[i] ^= 1
		if _, err := DecodeBloom(c); err == nil {
			t.Fatalf("flipped byte %d accepted", i)
		}
	}
	if _, err := DecodeBloom(golden); err == nil || !strings.Contains(err.Error(), "version 1") {
		t.Fatalf("version 1 file: %v", err)
	}
}

// bloomV1Golden is the .bloom file of segment 0 of bloomFixture as the
// version 1 format (FNV-1a and SplitMix64 double hashing) wrote it: a
// frozen file of the previous format, which no code writes any more.
const bloomV1Golden = "testdata/bloom-v1.bloom"

// bloomFixture writes a closed log of a sealed segment (offsets 0-149) and
// the active one (150-299), each batch 50 records keyed b<batch>-<record>,
// and returns its options. The bytes are deterministic.
func bloomFixture(t *testing.T) Options {
	opts := testOptions(vfs.NewCrashFS(nil), newClock(t0))
	opts.SegmentBytes = 4096
	l := mustOpen(t, "/p", opts)
	for i := range 6 {
		mustAppend(t, l, keyedBatch(t, t0+int64(100*i), fmt.Sprintf("b%d", i), 50))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return opts
}

// TestBloomOldVersionRebuilt: a .bloom file of version 1 (hashed another
// way) is not an error on open: the segment's index files are rebuilt from
// its data, and the rebuilt filter is written in the current version.
func TestBloomOldVersionRebuilt(t *testing.T) {
	opts := bloomFixture(t)
	fs := opts.FS
	path := "/p/" + SegmentName(0, BloomSuffix)
	current, err := vfs.ReadFile(fs, path)
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile(bloomV1Golden)
	if err != nil {
		t.Fatal(err)
	}
	// The old file describes exactly this segment: only its version (and
	// so its body) makes it unusable.
	if golden[4] != 1 || current[4] != bloomVersion || !bytes.Equal(golden[5:fileHeaderSize], current[5:fileHeaderSize]) {
		t.Fatalf("golden header % x, current % x", golden[:fileHeaderSize], current[:fileHeaderSize])
	}
	if err := vfs.WriteFile(fs, path, golden, 0o644); err != nil {
		t.Fatal(err)
	}
	ev := &events{}
	opts.OnEvent = ev.add
	l, err := Open("/p", opts)
	if err != nil {
		t.Fatalf("Open with a version 1 bloom file: %v", err)
	}
	var reasons []string
	for _, e := range ev.list() {
		if r, ok := e.(IndexRebuilt); ok {
			reasons = append(reasons, fmt.Sprintf("%d: %s", r.BaseOffset, r.Reason))
		}
	}
	if len(reasons) != 1 || !strings.HasPrefix(reasons[0], "0: ") || !strings.Contains(reasons[0], "version 1") {
		t.Fatalf("IndexRebuilt events %q", reasons)
	}
	for batch := range 6 {
		for r := range 50 {
			key := fmt.Sprintf("b%d-%d", batch, r)
			recs, st, err := l.LookupKey([]byte(key), 0)
			if err != nil || len(recs) != 1 || recs[0].Offset != int64(50*batch+r) {
				t.Fatalf("LookupKey(%s) = %v, %+v, %v", key, recs, st, err)
			}
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rebuilt, err := vfs.ReadFile(fs, path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rebuilt, current) {
		t.Fatal("the rebuilt .bloom differs from the one first written")
	}
	// Nothing is rebuilt on the next open: no .log byte is read.
	efs := vfs.NewErrorFS(fs)
	efs.Inject(vfs.Fault{Op: vfs.OpRead, Match: isLogFile})
	opts.FS, opts.OnEvent = efs, nil
	l = mustOpen(t, "/p", opts)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// murmur3x64 is MurmurHash3_x64_128 with seed 0, written from the
// algorithm's description: an oracle for the positions docs/format.md §8.5
// documents, independent of the filter implementation.
func murmur3x64(data []byte) (uint64, uint64) {
	const c1, c2 = 0x87c37b91114253d5, 0x4cf5ad432745937f
	mix1 := func(k uint64) uint64 { return bits.RotateLeft64(k*c1, 31) * c2 }
	mix2 := func(k uint64) uint64 { return bits.RotateLeft64(k*c2, 33) * c1 }
	fmix := func(k uint64) uint64 {
		k = (k ^ k>>33) * 0xff51afd7ed558ccd
		k = (k ^ k>>33) * 0xc4ceb9fe1a85ec53
		return k ^ k>>33
	}
	var h1, h2 uint64
	n := len(data)
	for ; len(data) >= 16; data = data[16:] {
		h1 ^= mix1(binary.LittleEndian.Uint64(data))
		h1 = (bits.RotateLeft64(h1, 27)+h2)*5 + 0x52dce729
		h2 ^= mix2(binary.LittleEndian.Uint64(data[8:]))
		h2 = (bits.RotateLeft64(h2, 31)+h1)*5 + 0x38495ab5
	}
	var tail [16]byte
	copy(tail[:], data)
	if len(data) > 8 {
		h2 ^= mix2(binary.LittleEndian.Uint64(tail[8:]))
	}
	if len(data) > 0 {
		h1 ^= mix1(binary.LittleEndian.Uint64(tail[:]))
	}
	h1, h2 = h1^uint64(n), h2^uint64(n)
	h1 += h2
	h2 += h1
	h1, h2 = fmix(h1), fmix(h2)
	h1 += h2
	return h1, h2 + h1
}

// TestBloomHashScheme checks that the bits a key sets are the positions
// docs/format.md §8.5 documents: an upgrade of bits-and-blooms that hashes
// otherwise fails here, and the .bloom version must then change.
func TestBloomHashScheme(t *testing.T) {
	// Published MurmurHash3_x64_128 vectors (seed 0).
	for _, v := range []struct {
		s      string
		h0, h1 uint64
	}{
		{"", 0, 0},
		{"hello", 0xcbd8a7b341bd9b02, 0x5b1e906a48ae1d19},
		{"hello, world", 0x342fac623a5ebc8e, 0x4cdcbc079642414d},
		{"19 Jan 2038 at 3:14:07 AM", 0xb89e5988b737affc, 0x664fc2950231b2cb},
		{"The quick brown fox jumps over the lazy dog.", 0xcd99481f9ee902c9, 0x695da1a38987b6e7},
	} {
		if h0, h1 := murmur3x64([]byte(v.s)); h0 != v.h0 || h1 != v.h1 {
			t.Fatalf("murmur3(%q) = %#x %#x, want %#x %#x", v.s, h0, h1, v.h0, v.h1)
		}
	}
	for n := range 40 { // every tail length, with and without whole blocks
		key := make([]byte, n)
		for i := range key {
			key[i] = byte(31*n + 7*i)
		}
		var h [4]uint64
		h[0], h[1] = murmur3x64(key)
		h[2], h[3] = murmur3x64(append(bytes.Clone(key), 1))
		b := NewBloom(0.01)
		b.Add(key)
		f := b.filters[0].f
		m, k := uint64(f.Cap()), uint64(f.K())
		want := map[uint64]bool{}
		for i := range k {
			want[(h[i%2]+i*h[2+((i+i%2)%4)/2])%m] = true
		}
		got := map[uint64]bool{}
		for w, word := range f.BitSet().Words() {
			for ; word != 0; word &= word - 1 {
				got[uint64(64*w+bits.TrailingZeros64(word))] = true
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("key of %d bytes sets bits %v, documented positions %v", n, got, want)
		}
	}
}

// TestDecodeBloomOfAnotherVersion: a version-1 file (keys hashed with
// FNV-1a) is refused with a *BloomVersionError, which callers read as
// "the filter cannot answer".
func TestDecodeBloomOfAnotherVersion(t *testing.T) {
	old, err := os.ReadFile(bloomV1Golden)
	if err != nil {
		t.Fatal(err)
	}
	_, err = DecodeBloom(old)
	var ve *BloomVersionError
	if !errors.As(err, &ve) || ve.Version != 1 {
		t.Fatalf("DecodeBloom(version 1) = %v, want a *BloomVersionError for version 1", err)
	}
}
