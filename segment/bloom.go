package segment

import (
	"fmt"
	"math"
)

const (
	bloomFirstCapacity = 1024    // keys the first filter of a segment holds
	bloomGrowth        = 4       // each next filter holds this many times more
	bloomMaxCapacity   = 1 << 26 // no filter is sized for more keys
	bloomMaxFilters    = 48      // decoding refuses more
	bloomFlagAll       = 1       // flags bit 0: every key may be present
)

// Bloom is a segment's key bloom filter (the .bloom file): a scalable bloom
// filter, a sequence of plain filters each 4x larger with half the
// false-positive rate of the previous one, so that the whole stays below
// FPRate however many keys the segment holds. It is not safe for concurrent
// use; a decoded Bloom is only read, so it may be shared by readers.
type Bloom struct {
	BaseOffset int64   // the segment's base offset
	LogSize    int64   // .log bytes whose keys were added
	NextOffset int64   // one past the last offset within LogSize
	FPRate     float64 // the configured false-positive rate

	all     bool // every key may be present: some batch's keys were unknown
	filters []bloomFilter
}

type bloomFilter struct {
	capacity, count, k uint32
	words              []uint64
}

// NewBloom returns an empty filter with the given false-positive rate.
func NewBloom(fpRate float64) *Bloom { return &Bloom{FPRate: fpRate} }

// bloomParams returns the size of the i-th filter (from 0) of a Bloom with
// false-positive rate fpRate: it holds 1024 * 4^i keys (at most 2^26) at
// rate fpRate / 2^(i+1), in words 64-bit words with k hash functions.
func bloomParams(i int, fpRate float64) (capacity, k, words uint32) {
	c := uint64(bloomFirstCapacity)
	for range i {
		c = min(c*bloomGrowth, bloomMaxCapacity)
	}
	p := fpRate * math.Pow(0.5, float64(i+1))
	m := math.Ceil(-float64(c) * math.Log(p) / (math.Ln2 * math.Ln2))
	words = uint32(math.Ceil(m / 64))
	k = uint32(math.Round(float64(words) * 64 / float64(c) * math.Ln2))
	return uint32(c), min(max(k, 1), 64), words
}

// keyHashes returns h1 and h2 of the documented double-hashing scheme:
// FNV-1a-64 of the key, each half finished with SplitMix64.
func keyHashes(key []byte) (uint64, uint64) {
	h := uint64(14695981039346656037)
	for _, c := range key {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return mix64(h), mix64(h^0x9e3779b97f4a7c15) | 1
}

func mix64(z uint64) uint64 {
	z ^= z >> 30
	z *= 0xbf58476d1ce4e5b9
	z ^= z >> 27
	z *= 0x94d049bb133111eb
	z ^= z >> 31
	return z
}

func (f *bloomFilter) has(h1, h2 uint64) bool {
	m := uint64(len(f.words)) * 64
	for i := uint64(0); i < uint64(f.k); i++ {
		bit := (h1 + i*h2) % m
		if f.words[bit/64]&(1<<(bit%64)) == 0 {
			return false
		}
	}
	return true
}

func (f *bloomFilter) set(h1, h2 uint64) {
	m := uint64(len(f.words)) * 64
	for i := uint64(0); i < uint64(f.k); i++ {
		bit := (h1 + i*h2) % m
		f.words[bit/64] |= 1 << (bit % 64)
	}
	f.count++
}

// Add records key. Keys already reported present are not added again, so
// repeated keys do not grow the filter.
func (b *Bloom) Add(key []byte) {
	if b.all {
		return
	}
	h1, h2 := keyHashes(key)
	if b.test(h1, h2) {
		return
	}
	n := len(b.filters)
	if n == 0 || b.filters[n-1].count >= b.filters[n-1].capacity {
		capacity, k, words := bloomParams(n, b.FPRate)
		b.filters = append(b.filters, bloomFilter{capacity: capacity, k: k, words: make([]uint64, words)})
		n++
	}
	b.filters[n-1].set(h1, h2)
}

// SetAll makes the filter report every key as possibly present: used when a
// batch's keys could not be read.
func (b *Bloom) SetAll() { b.all, b.filters = true, nil }

// MayContain reports whether key may have been added; false is certain.
func (b *Bloom) MayContain(key []byte) bool {
	if b.all {
		return true
	}
	return b.test(keyHashes(key))
}

func (b *Bloom) test(h1, h2 uint64) bool {
	for i := range b.filters {
		if b.filters[i].has(h1, h2) {
			return true
		}
	}
	return false
}

// Keys returns the number of distinct keys added (keys that collided with
// earlier ones in the filter are not counted).
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
		n += 8 * len(f.words)
	}
	return n
}

// Encode returns the .bloom file bytes.
func (b *Bloom) Encode() []byte {
	var flags byte
	if b.all {
		flags |= bloomFlagAll
	}
	out := make([]byte, 0, fileHeaderSize+12+16*len(b.filters)+b.SizeBytes()+4)
	out = appendHeader(out, magicBloom, fileHeader{flags: flags, baseOffset: b.BaseOffset, logSize: b.LogSize, nextOffset: b.NextOffset})
	out = be.AppendUint64(out, math.Float64bits(b.FPRate))
	out = be.AppendUint32(out, uint32(len(b.filters)))
	for _, f := range b.filters {
		out = be.AppendUint32(out, f.capacity)
		out = be.AppendUint32(out, f.count)
		out = be.AppendUint32(out, f.k)
		out = be.AppendUint32(out, uint32(len(f.words)))
		for _, w := range f.words {
			out = be.AppendUint64(out, w)
		}
	}
	return appendCRC(out)
}

// DecodeBloom parses a .bloom file, checking magic, version, CRC, and that
// every filter has the size its position and the rate call for.
func DecodeBloom(data []byte) (*Bloom, error) {
	const what = "bloom filter"
	h, body, err := checkFile(data, magicBloom, bloomFlagAll, what)
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
	for i := range n {
		if len(body) < 16 {
			return nil, &FormatError{what, fmt.Sprintf("filter %d truncated", i)}
		}
		f := bloomFilter{capacity: be.Uint32(body), count: be.Uint32(body[4:]), k: be.Uint32(body[8:])}
		words := be.Uint32(body[12:])
		body = body[16:]
		// The size must match the schedule (within a word, so that files
		// written where floating point rounds differently still load):
		// this bounds what a later Add allocates by the input's size.
		wc, _, ww := bloomParams(int(i), b.FPRate)
		if f.capacity != wc || f.k < 1 || f.k > 64 || words+1 < ww || words > ww+1 || f.count > f.capacity {
			return nil, &FormatError{what, fmt.Sprintf("filter %d has bad parameters", i)}
		}
		if uint64(len(body)) < 8*uint64(words) {
			return nil, &FormatError{what, fmt.Sprintf("filter %d truncated", i)}
		}
		f.words = make([]uint64, words)
		for j := range f.words {
			f.words[j] = be.Uint64(body[8*j:])
		}
		body = body[8*words:]
		b.filters = append(b.filters, f)
	}
	if len(body) != 0 {
		return nil, &FormatError{what, fmt.Sprintf("%d trailing bytes", len(body))}
	}
	if b.all && len(b.filters) != 0 {
		return nil, &FormatError{what, "filters present with the all-keys flag"}
	}
	return b, nil
}
