package segment

import (
	"fmt"
	"hash/crc32"
	"math"

	"github.com/bits-and-blooms/bloom/v3"
)

const (
	bloomFirstCapacity = 1024    // keys the first filter of a segment holds
	bloomGrowth        = 4       // each next filter holds this many times more
	bloomMaxCapacity   = 1 << 26 // no filter is sized for more keys
	bloomMaxFilters    = 48      // decoding refuses more
	bloomMaxK          = 64      // decoding refuses more hash functions
	bloomFlagAll       = 1       // flags bit 0: every key may be present
	bloomHashShare     = 0.6     // k as a share of the optimum, log2(1/p)
	bloomMinRate       = 1e-30   // no filter is sized for a lower rate

	// bloomVersion is the .bloom format version. It changes whenever the
	// bit positions of a key (the hash scheme) or the sizing schedule the
	// reader checks change: a filter read with other positions gives false
	// negatives. Version 1 (FNV-1a with SplitMix64 double hashing) is not
	// read: recovery rebuilds such files from the data, as it does stale
	// ones (docs/format.md §8.5).
	bloomVersion = 2
)

// Bloom is a segment's key bloom filter (the .bloom file): a scalable bloom
// filter, a sequence of bits-and-blooms filters each 4x larger with half
// the false-positive rate of the previous one, the first at 3/8 of FPRate,
// so that the whole stays below FPRate however many keys the segment holds:
// the rates sum to less than 3/4 of FPRate, and the rest absorbs the spread
// of the rate a filter actually reaches around the one it is sized for
// (docs/format.md §8.5 has the sizes and the file). Keys go into the newest
// filter only; MayContain consults all of them. It is not safe for
// concurrent use; a decoded Bloom is only read, so it may be shared by
// readers.
type Bloom struct {
	BaseOffset int64   // the segment's base offset
	LogSize    int64   // .log bytes whose keys were added
	NextOffset int64   // one past the last offset within LogSize
	FPRate     float64 // the configured false-positive rate

	all     bool // every key may be present: some batch's keys were unknown
	filters []bloomFilter
	maxK    uint // the largest k among filters
}

// bloomFilter is one filter of the sequence.
type bloomFilter struct {
	capacity uint32 // keys it is sized for, from its position
	count    uint32 // keys added to it
	f        *bloom.BloomFilter
}

// NewBloom returns an empty filter with the given false-positive rate.
func NewBloom(fpRate float64) *Bloom { return &Bloom{FPRate: fpRate} }

// bloomParams returns the size of the i-th filter (from 0) of a Bloom with
// false-positive rate fpRate: it holds 1024 * 4^i keys (at most 2^26) at
// rate p = 3 fpRate / 2^(i+3) (no lower than 1e-30), with k = ceil(0.6 *
// log2(1/p)) hash functions and the m bits that reach rate p with that k,
// m = ceil(-k c / ln(1 - p^(1/k))). The optimum, bloom.EstimateParameters,
// would use log2(1/p) hash functions: each is a probe into a filter too
// large for the CPU caches on the append path, and 60% of them cost about
// 7% more bits for the same rate.
func bloomParams(i int, fpRate float64) (capacity uint32, m uint64, k uint) {
	c := uint64(bloomFirstCapacity)
	for range i {
		c = min(c*bloomGrowth, bloomMaxCapacity)
	}
	p := max(0.75*fpRate*math.Pow(0.5, float64(i+1)), bloomMinRate)
	k = uint(math.Ceil(bloomHashShare * math.Log2(1/p)))
	m = uint64(math.Ceil(-float64(k) * float64(c) / math.Log1p(-math.Pow(p, 1/float64(k)))))
	return uint32(c), m, k
}

// words returns the number of 64-bit words holding m bits.
func words(m uint64) uint64 { return (m + 63) / 64 }

// grow appends the next filter of the schedule.
func (b *Bloom) grow() {
	c, m, k := bloomParams(len(b.filters), b.FPRate)
	b.filters = append(b.filters, bloomFilter{capacity: c, f: bloom.FromWithM(make([]uint64, words(m)), uint(m), k)})
	b.maxK = max(b.maxK, k)
}

// Add records key. It tests and sets the key's bits in the newest filter
// only (one hash of the key), so its cost does not grow with the keys the
// segment already holds. A key the newest filter already reports is not
// counted again, so repeated keys do not grow the filter; a key repeated
// after the newest filter filled up is added once more to the next one, so
// each key is counted at most once per filter.
func (b *Bloom) Add(key []byte) {
	if b.all {
		return
	}
	if n := len(b.filters); n == 0 || b.filters[n-1].count >= b.filters[n-1].capacity {
		b.grow()
	}
	last := &b.filters[len(b.filters)-1]
	if !last.f.TestOrAdd(key) {
		last.count++
	}
}

// SetAll makes the filter report every key as possibly present: used when a
// batch's keys could not be read.
func (b *Bloom) SetAll() { b.all, b.filters, b.maxK = true, nil, 0 }

// MayContain reports whether key may have been added; false is certain. It
// hashes the key once and tests the positions in every filter, newest
// first.
func (b *Bloom) MayContain(key []byte) bool {
	switch {
	case b.all:
		return true
	case len(b.filters) == 0:
		return false
	case len(b.filters) == 1:
		return b.filters[0].f.Test(key)
	}
	// Position i of a key does not depend on k, so the first k of the
	// largest k's positions are each filter's.
	locs := bloom.Locations(key, b.maxK)
	for i := len(b.filters) - 1; i >= 0; i-- {
		f := b.filters[i].f
		if f.TestLocations(locs[:f.K()]) {
			return true
		}
	}
	return false
}

// Keys returns the number of keys added and counted (a key the newest
// filter already reported is not counted; see Add).
func (b *Bloom) Keys() int {
	n := 0
	for _, f := range b.filters {
		n += int(f.count)
	}
	return n
}

// SizeBytes returns the memory the filter bits take.
func (b *Bloom) SizeBytes() int {
	n := 0
	for _, f := range b.filters {
		n += 8 * len(f.f.BitSet().Words())
	}
	return n
}

// Encode returns the .bloom file bytes (docs/format.md §8.5).
func (b *Bloom) Encode() []byte {
	var flags byte
	if b.all {
		flags |= bloomFlagAll
	}
	out := make([]byte, 0, fileHeaderSize+12+16*len(b.filters)+b.SizeBytes()+4)
	out = appendHeader(out, magicBloom, fileHeader{flags: flags, baseOffset: b.BaseOffset, logSize: b.LogSize, nextOffset: b.NextOffset})
	out[4] = bloomVersion
	out = be.AppendUint64(out, math.Float64bits(b.FPRate))
	out = be.AppendUint32(out, uint32(len(b.filters)))
	for _, f := range b.filters {
		out = be.AppendUint64(out, uint64(f.f.Cap()))
		out = be.AppendUint32(out, uint32(f.f.K()))
		out = be.AppendUint32(out, f.count)
		for _, w := range f.f.BitSet().Words() {
			out = be.AppendUint64(out, w)
		}
	}
	return appendCRC(out)
}

// checkBloomFile verifies the common header (docs/format.md §8.2) of a
// .bloom file, which carries its own version, and its CRC, and returns the
// header and the body between header and CRC.
func checkBloomFile(data []byte) (fileHeader, []byte, error) {
	const what = "bloom filter"
	var h fileHeader
	if len(data) < fileHeaderSize+4 {
		return h, nil, &FormatError{what, fmt.Sprintf("%d bytes is too short", len(data))}
	}
	if [4]byte(data[:4]) != magicBloom {
		return h, nil, &FormatError{what, "bad magic"}
	}
	if v := data[4]; v != bloomVersion {
		return h, nil, &BloomVersionError{Version: v}
	}
	body := data[:len(data)-4]
	if crc32.Checksum(body, castagnoli) != be.Uint32(data[len(data)-4:]) {
		return h, nil, &FormatError{what, "CRC mismatch"}
	}
	if data[5]&^bloomFlagAll != 0 || data[6] != 0 || data[7] != 0 {
		return h, nil, &FormatError{what, fmt.Sprintf("unknown flags %#x or reserved bytes set", data[5:8])}
	}
	h.flags = data[5]
	h.baseOffset = int64(be.Uint64(data[8:]))
	h.logSize = int64(be.Uint64(data[16:]))
	h.nextOffset = int64(be.Uint64(data[24:]))
	if h.baseOffset < 0 || h.logSize < 0 || h.nextOffset < h.baseOffset {
		return h, nil, &FormatError{what, "inconsistent header"}
	}
	return h, body[fileHeaderSize:], nil
}

// DecodeBloom parses a .bloom file, checking magic, version, CRC, and that
// every filter has the size its position and the rate call for.
func DecodeBloom(data []byte) (*Bloom, error) {
	const what = "bloom filter"
	h, body, err := checkBloomFile(data)
	if err != nil {
		return nil, err
	}
	if len(body) < 12 {
		return nil, &FormatError{what, "missing fields"}
	}
	b := &Bloom{BaseOffset: h.baseOffset, LogSize: h.logSize, NextOffset: h.nextOffset}
	b.all = h.flags&bloomFlagAll != 0
	b.FPRate = math.Float64frombits(be.Uint64(body))
	if !(b.FPRate > 0 && b.FPRate <= 0.5) {
		return nil, &FormatError{what, fmt.Sprintf("false-positive rate %v", b.FPRate)}
	}
	n := be.Uint32(body[8:])
	body = body[12:]
	if n > bloomMaxFilters {
		return nil, &FormatError{what, fmt.Sprintf("%d filters", n)}
	}
	if b.all && n != 0 {
		return nil, &FormatError{what, "filters present with the all-keys flag"}
	}
	for i := range int(n) {
		if len(body) < 16 {
			return nil, &FormatError{what, fmt.Sprintf("filter %d truncated", i)}
		}
		m, k, count := be.Uint64(body), be.Uint32(body[8:]), be.Uint32(body[12:])
		body = body[16:]
		// m and k must match the schedule (m within a word, k within one,
		// so that files written where floating point rounds differently
		// still load): this keeps the rate, and bounds what a later Add
		// allocates by the input's size.
		wc, wm, wk := bloomParams(i, b.FPRate)
		if m+64 < wm || m > wm+64 || k < 1 || k > bloomMaxK || uint(k)+1 < wk || uint(k) > wk+1 || count > wc {
			return nil, &FormatError{what, fmt.Sprintf("filter %d has bad parameters", i)}
		}
		nw := words(m)
		if uint64(len(body))/8 < nw {
			return nil, &FormatError{what, fmt.Sprintf("filter %d truncated", i)}
		}
		ws := make([]uint64, nw)
		for j := range ws {
			ws[j] = be.Uint64(body[8*j:])
		}
		body = body[8*nw:]
		// Bits at m and above are never set: canonical files have them 0.
		if m%64 != 0 && ws[nw-1]>>(m%64) != 0 {
			return nil, &FormatError{what, fmt.Sprintf("filter %d has bits set beyond m", i)}
		}
		b.filters = append(b.filters, bloomFilter{capacity: wc, count: count, f: bloom.FromWithM(ws, uint(m), uint(k))})
		b.maxK = max(b.maxK, uint(k))
	}
	if len(body) != 0 {
		return nil, &FormatError{what, fmt.Sprintf("%d trailing bytes", len(body))}
	}
	return b, nil
}
