package index

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"hash/maphash"
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/RoaringBitmap/roaring"
	"github.com/blevesearch/vellum"
	segment "github.com/blugelabs/bluge_segment_api"
	"github.com/blugelabs/ice"
	"github.com/golang/snappy"
)

// Segment building. bluge's default segment plugin (ice, version 1)
// builds a new segment through generic interfaces, per-document maps and
// one allocation per token position; that was three quarters of indexing
// time. segmentBuilder writes the same ice v1 format straight from bdocs'
// flat arrays (the differential test checks the bytes are identical to
// ice.New's), and the result is loaded with ice.Load, so searching,
// merging and persisting are ice's own.
//
// ice v1 layout, in order (integers are uvarints unless noted):
//
//	stored fields  per document: len(meta) len(data) meta snappy(data),
//	               meta = (fieldID start len) per stored value
//	stored index   per document: offset of its stored fields (uint64 BE)
//	per field      for each term (sorted): [freq/norm chunks] [location
//	               chunks] postings record = tfOffset locOffset
//	               len(roaring) roaring; then len(fst) fst (term ->
//	               postings record offset); then doc values chunks
//	doc values idx per field: start end (MaxUint64 when absent)
//	fields         per field: dictOffset len(name) name docs tokens
//	fields index   per field: offset (uint64 BE)
//	footer         numDocs storedIndexOffset fieldsIndexOffset
//	               docValuesOffset (uint64 BE) chunkMode version crc (uint32 BE)
//
// Chunked integers (freq/norm, locations): postings are grouped into
// chunks of numDocs/(cardinality/1024+1) document numbers; the encoding is
// numChunks, each chunk's end offset, then the chunks' bytes. Doc values:
// chunks of 1024 documents, each (count, (docNum, endOffset)*) then the
// snappy-compressed values (terms each followed by 0xFF); then the chunks'
// end offsets, their byte length and the chunk count (uint64 BE).

const (
	oneHit         = 1 << 63 // ice's flag of a 1-hit dictionary value: norm bits << 31 | document
	shift0         = 0x20    // first byte of a full-precision prefix-coded integer
	iceChunkMode   = 1025    // ice's chunkModeV1
	legacyChunk    = 1024    // doc values chunking
	termSeparator  = 0xFF
	iceFooterBytes = 8*4 + 4*3
)

// segmentBuilder is reusable scratch for building segments.
type segmentBuilder struct {
	out      []byte // the segment being written, handed to ice.Load
	crc      uint32
	fieldIDs map[string]int
	names    []string // by field ID
	docs     []uint64 // per field: documents having it
	freqs    []uint64 // per field: tokens
	dv       []bool   // per field: has doc values
	numeric  []bool   // per field: holds prefix-coded integers

	// iceCompatible writes exactly what ice.New writes (tests compare the
	// two builders byte for byte). By default two things differ: numeric
	// doc values keep only the full-precision term (see fullDocValues),
	// and a term in a single document with frequency 1 and no positions
	// (ids, timestamps, offsets) is stored in its dictionary entry alone,
	// ice's "1-hit" encoding, which ice's merges also use, instead of a
	// postings record of some 40 bytes.
	iceCompatible bool

	// Numeric doc values keep only the full-precision (shift 0) term of
	// each value, the one sorting reads: 8 times smaller.
	byField [][]int32

	// Terms of all fields: (field, term) -> term index.
	terms []sterm
	arena []byte
	table []int32
	seed  maphash.Seed

	posts  []spost // in document order
	sorted []spost // grouped by term, each group in document order
	locs   []uint32

	tmp     []byte
	meta    []byte
	chunk   []byte
	lens    []uint64
	docVals [][]byte
	ids     []uint32
	snap    []byte
	roar    []byte
	tfC     chunkedInts
	locC    chunkedInts
	builder *vellum.Builder
	fstBuf  bytes.Buffer
}

type sterm struct {
	field  int32
	off, n int32
	first  int32 // postings of the term: sorted[first : first+count]
	count  int32
}

type spost struct {
	term    int32
	doc     uint32
	freq    uint32
	norm    float32
	locOff  uint32
	locN    uint32
	hasLocs bool
}

var segmentBuilders = sync.Pool{New: func() any {
	return &segmentBuilder{fieldIDs: make(map[string]int), seed: maphash.MakeSeed()}
}}

// builderHints remembers the sizes the last segment needed, so that a
// fresh builder (the pool drops them at garbage collection) allocates its
// large arrays once instead of growing them by doubling.
var builderHints struct {
	posts, terms, arena, locs, outPerDoc atomic.Int64
}

func (b *segmentBuilder) presize() {
	if cap(b.posts) == 0 {
		b.posts = make([]spost, 0, builderHints.posts.Load())
		b.terms = make([]sterm, 0, builderHints.terms.Load())
		b.arena = make([]byte, 0, builderHints.arena.Load())
		b.locs = make([]uint32, 0, builderHints.locs.Load())
	}
}

func (b *segmentBuilder) remember() {
	builderHints.posts.Store(int64(len(b.posts)))
	builderHints.terms.Store(int64(len(b.terms)))
	builderHints.arena.Store(int64(len(b.arena)))
	builderHints.locs.Store(int64(len(b.locs)))
}

// newSegment is the New function of our ice segment plugin.
func newSegment(results []segment.Document, normCalc func(string, int) float32) (segment.Segment, uint64, error) {
	for _, r := range results {
		switch r.(type) {
		case *bdoc, *checkpointDoc:
		default:
			return ice.New(results, normCalc) // not ours: ice's generic builder
		}
	}
	b := segmentBuilders.Get().(*segmentBuilder)
	defer segmentBuilders.Put(b)
	data, err := b.build(results, normCalc)
	if err != nil {
		return nil, 0, err
	}
	seg, err := ice.Load(segment.NewDataBytes(data))
	if err != nil {
		return nil, 0, err
	}
	for _, r := range results {
		if cp, ok := r.(*checkpointDoc); ok {
			cp.segmentBytes = int64(len(data)) // for Bluge.Index's MaxUnpersistedBytes
		}
	}
	return seg, uint64(len(data)), nil
}

// docFields is what the builder needs from a document, without interface
// calls per term.
func docFields(d segment.Document) []bfield {
	switch d := d.(type) {
	case *bdoc:
		return d.fields
	case *checkpointDoc:
		return d.fields[:]
	}
	return nil
}

// fieldTerms returns the terms of field i of d.
func fieldTerms(d segment.Document, i int, f *bfield) (terms []bterm, order []int32) {
	switch d := d.(type) {
	case *bdoc:
		return d.terms, d.order[f.first:f.end]
	case *checkpointDoc:
		if i == 0 {
			return []bterm{d.term}, []int32{0}
		}
	}
	return nil, nil
}

func (b *segmentBuilder) reset() {
	b.crc = 0
	clear(b.fieldIDs)
	b.names = b.names[:0]
	b.docs = b.docs[:0]
	b.freqs = b.freqs[:0]
	b.dv = b.dv[:0]
	b.numeric = b.numeric[:0]
	for i := range b.byField {
		b.byField[i] = b.byField[i][:0]
	}
	b.terms = b.terms[:0]
	b.arena = b.arena[:0]
	clear(b.table)
	b.posts = b.posts[:0]
	b.locs = b.locs[:0]
}

func (b *segmentBuilder) write(p []byte) {
	b.out = append(b.out, p...)
	b.crc = crc32.Update(b.crc, crc32.IEEETable, p)
}

func (b *segmentBuilder) uvarint(v uint64) {
	b.tmp = binary.AppendUvarint(b.tmp[:0], v)
	b.write(b.tmp)
}

func (b *segmentBuilder) u64(v uint64) {
	b.tmp = binary.BigEndian.AppendUint64(b.tmp[:0], v)
	b.write(b.tmp)
}

func (b *segmentBuilder) build(docs []segment.Document, normCalc func(string, int) float32) ([]byte, error) {
	b.reset()
	b.presize()
	defer b.remember()
	numDocs := uint64(len(docs))
	// The segment is written straight into the slice ice.Load keeps,
	// sized from the bytes per document of the last segment.
	b.out = make([]byte, 0, builderHints.outPerDoc.Load()*int64(numDocs)+iceFooterBytes)

	// Field IDs: _id first, then the others sorted (ice's order).
	b.fieldIDs["_id"] = 0
	b.names = append(b.names, "_id")
	for _, d := range docs {
		fs := docFields(d)
		for i := range fs {
			if _, ok := b.fieldIDs[fs[i].name]; !ok {
				b.fieldIDs[fs[i].name] = len(b.names)
				b.names = append(b.names, fs[i].name)
			}
		}
	}
	slices.Sort(b.names[1:])
	for i, n := range b.names {
		b.fieldIDs[n] = i
	}
	nf := len(b.names)
	b.docs = append(b.docs, make([]uint64, nf)...)
	b.freqs = append(b.freqs, make([]uint64, nf)...)
	b.dv = append(b.dv, make([]bool, nf)...)
	b.numeric = append(b.numeric, make([]bool, nf)...)
	for len(b.byField) < nf {
		b.byField = append(b.byField, nil)
	}

	// Postings, in document order.
	for docNum, d := range docs {
		fs := docFields(d)
		for i := range fs {
			f := &fs[i]
			fid := b.fieldIDs[f.name]
			b.docs[fid]++
			b.freqs[fid] += uint64(f.length)
			if f.opts&optDocValues != 0 {
				b.dv[fid] = true
			}
			if f.opts&optNumeric != 0 {
				b.numeric[fid] = true
			}
			terms, order := fieldTerms(d, i, f)
			if len(order) == 0 {
				continue
			}
			norm := normCalc(f.name, f.length)
			for _, ti := range order {
				t := &terms[ti]
				sid := b.termID(int32(fid), t.Term())
				p := spost{term: sid, doc: uint32(docNum), freq: uint32(t.freq), norm: norm, locOff: uint32(len(b.locs))}
				if locs := t.positions(); len(locs) > 0 {
					p.hasLocs = true
					p.locN = uint32(len(locs))
					for _, l := range locs {
						b.locs = append(b.locs, uint32(l.pos))
					}
				}
				b.posts = append(b.posts, p)
				b.terms[sid].count++
			}
		}
	}
	// Group postings by term (a counting sort keeps document order), so
	// each term's postings are read contiguously.
	n := int32(0)
	for i := range b.terms {
		b.terms[i].first = n
		n += b.terms[i].count
	}
	if cap(b.sorted) < len(b.posts) {
		b.sorted = make([]spost, len(b.posts))
	}
	b.sorted = b.sorted[:len(b.posts)]
	fill := b.ids[:0]
	for i := range b.terms {
		fill = append(fill, uint32(b.terms[i].first))
	}
	for _, p := range b.posts {
		b.sorted[fill[p.term]] = p
		fill[p.term]++
	}
	b.ids = fill[:0]

	// Stored fields and their index.
	offsets := make([]uint64, numDocs)
	for docNum, d := range docs {
		b.meta = b.meta[:0]
		b.chunk = b.chunk[:0]
		fs := docFields(d)
		// Stored values in field ID order (ours hold at most one).
		for i := range fs {
			if fs[i].opts&optStore == 0 {
				continue
			}
			b.meta = binary.AppendUvarint(b.meta, uint64(b.fieldIDs[fs[i].name]))
			b.meta = binary.AppendUvarint(b.meta, uint64(len(b.chunk)))
			b.meta = binary.AppendUvarint(b.meta, uint64(len(fs[i].value)))
			b.chunk = append(b.chunk, fs[i].value...)
		}
		b.snap = snappy.Encode(b.snap[:cap(b.snap)], b.chunk)
		comp := b.snap
		offsets[docNum] = uint64(len(b.out))
		b.uvarint(uint64(len(b.meta)))
		b.uvarint(uint64(len(comp)))
		b.write(b.meta)
		b.write(comp)
	}
	storedIndexOffset := uint64(len(b.out))
	for _, o := range offsets {
		b.u64(o)
	}

	// Terms grouped by field, sorted.
	for i := range b.terms {
		t := &b.terms[i]
		b.byField[t.field] = append(b.byField[t.field], int32(i))
	}
	dictOffsets := make([]uint64, nf)
	dvStart := make([]uint64, nf)
	dvEnd := make([]uint64, nf)
	if cap(b.docVals) < int(numDocs) {
		b.docVals = make([][]byte, numDocs)
	}
	b.docVals = b.docVals[:numDocs]
	for fid := 0; fid < nf; fid++ {
		ids := b.byField[fid]
		slices.SortFunc(ids, func(x, y int32) int { return bytes.Compare(b.termBytes(x), b.termBytes(y)) })
		for i := range b.docVals {
			b.docVals[i] = b.docVals[i][:0]
		}
		if err := b.startFST(); err != nil {
			return nil, err
		}
		for _, sid := range ids {
			off, err := b.writePostings(sid, fid, numDocs)
			if err != nil {
				return nil, err
			}
			term := b.termBytes(sid)
			if err := b.builder.Insert(term, off); err != nil {
				return nil, err
			}
			if b.dv[fid] && (b.iceCompatible || !b.numeric[fid] || (len(term) > 0 && term[0] == shift0)) {
				t := &b.terms[sid]
				for _, p := range b.sorted[t.first : t.first+t.count] {
					b.docVals[p.doc] = append(append(b.docVals[p.doc], term...), termSeparator)
				}
			}
		}
		if err := b.builder.Close(); err != nil {
			return nil, err
		}
		dictOffsets[fid] = uint64(len(b.out))
		b.uvarint(uint64(b.fstBuf.Len()))
		b.write(b.fstBuf.Bytes())
		if b.dv[fid] {
			dvStart[fid] = uint64(len(b.out))
			b.writeDocValues(numDocs)
			dvEnd[fid] = uint64(len(b.out))
		} else {
			dvStart[fid], dvEnd[fid] = math.MaxUint64, math.MaxUint64
		}
	}
	docValuesOffset := uint64(len(b.out))
	for fid := 0; fid < nf; fid++ {
		b.uvarint(dvStart[fid])
		b.uvarint(dvEnd[fid])
	}

	// Fields and their index.
	fieldOffsets := make([]uint64, nf)
	for fid, name := range b.names {
		fieldOffsets[fid] = uint64(len(b.out))
		b.uvarint(dictOffsets[fid])
		b.uvarint(uint64(len(name)))
		b.write([]byte(name))
		b.uvarint(b.docs[fid])
		b.uvarint(b.freqs[fid])
	}
	fieldsIndexOffset := uint64(len(b.out))
	for _, o := range fieldOffsets {
		b.u64(o)
	}

	// Footer. Its CRC field holds the CRC of the data only: that is the
	// value ice keeps for an in-memory segment, and persisting extends it
	// over the footer.
	dataCRC := b.crc
	out := b.out
	b.out = nil // the segment keeps it; the pooled builder does not
	builderHints.outPerDoc.Store(int64(len(out)) / max(int64(numDocs), 1))
	if need := len(out) + iceFooterBytes; cap(out) > need+need/8 {
		// Grown past the estimate: keep no slack in memory.
		out = append(make([]byte, 0, need), out...)
	}
	out = binary.BigEndian.AppendUint64(out, numDocs)
	out = binary.BigEndian.AppendUint64(out, storedIndexOffset)
	out = binary.BigEndian.AppendUint64(out, fieldsIndexOffset)
	out = binary.BigEndian.AppendUint64(out, docValuesOffset)
	out = binary.BigEndian.AppendUint32(out, iceChunkMode)
	out = binary.BigEndian.AppendUint32(out, ice.Version)
	out = binary.BigEndian.AppendUint32(out, dataCRC)
	return out, nil
}

func (b *segmentBuilder) termBytes(sid int32) []byte {
	t := &b.terms[sid]
	return b.arena[t.off : t.off+t.n]
}

// termID finds or adds the (field, term) pair.
func (b *segmentBuilder) termID(field int32, term []byte) int32 {
	if len(b.table) < 2*(len(b.terms)+1) {
		b.rehash()
	}
	mask := uint64(len(b.table) - 1)
	h := (maphash.Bytes(b.seed, term) ^ uint64(field)*0x9e3779b97f4a7c15) & mask
	for {
		slot := b.table[h]
		if slot == 0 {
			break
		}
		t := &b.terms[slot-1]
		if t.field == field && string(b.arena[t.off:t.off+t.n]) == string(term) {
			return slot - 1
		}
		h = (h + 1) & mask
	}
	id := int32(len(b.terms))
	b.terms = append(b.terms, sterm{field: field, off: int32(len(b.arena)), n: int32(len(term))})
	b.arena = append(b.arena, term...)
	b.table[h] = id + 1
	return id
}

func (b *segmentBuilder) rehash() {
	n := 1 << 10
	for n < 4*(len(b.terms)+1) {
		n *= 2
	}
	if cap(b.table) >= n {
		b.table = b.table[:n]
		clear(b.table)
	} else {
		b.table = make([]int32, n)
	}
	mask := uint64(n - 1)
	for i := range b.terms {
		t := &b.terms[i]
		h := (maphash.Bytes(b.seed, b.arena[t.off:t.off+t.n]) ^ uint64(t.field)*0x9e3779b97f4a7c15) & mask
		for b.table[h] != 0 {
			h = (h + 1) & mask
		}
		b.table[h] = int32(i) + 1
	}
}

func (b *segmentBuilder) startFST() error {
	b.fstBuf.Reset()
	if b.builder == nil {
		var err error
		b.builder, err = vellum.New(&b.fstBuf, nil)
		return err
	}
	return b.builder.Reset(&b.fstBuf)
}

// chunkedInts encodes per-document integer groups in chunks of chunkSize
// document numbers, as ice's chunked int coder does.
type chunkedInts struct {
	data []byte
	lens []uint64
	cur  int
	n    int // bytes of the current chunk
}

func (c *chunkedInts) reset(chunks int) {
	c.data = c.data[:0]
	if cap(c.lens) < chunks {
		c.lens = make([]uint64, chunks)
	}
	c.lens = c.lens[:chunks]
	clear(c.lens)
	c.cur, c.n = 0, 0
}

func (c *chunkedInts) add(chunk int, vals ...uint64) {
	if chunk != c.cur {
		c.lens[c.cur] = uint64(c.n)
		c.cur, c.n = chunk, 0
	}
	for _, v := range vals {
		before := len(c.data)
		c.data = binary.AppendUvarint(c.data, v)
		c.n += len(c.data) - before
	}
}

func (c *chunkedInts) close() { c.lens[c.cur] = uint64(c.n) }

// writeChunked writes numChunks, the chunks' end offsets and the data; it
// returns the start offset, or 0 when there is no data.
func (b *segmentBuilder) writeChunked(c *chunkedInts) uint64 {
	if len(c.data) == 0 {
		return 0
	}
	start := uint64(len(b.out))
	b.uvarint(uint64(len(c.lens)))
	var end uint64
	for _, l := range c.lens {
		end += l
		b.uvarint(end)
	}
	b.write(c.data)
	return start
}

// writePostings writes one term's freq/norm chunks, location chunks and
// postings record; it returns the record's offset.
func (b *segmentBuilder) writePostings(sid int32, fid int, numDocs uint64) (uint64, error) {
	t := &b.terms[sid]
	card := uint64(t.count)
	if card == 1 && !b.iceCompatible {
		p := &b.sorted[t.first]
		if nb := uint64(math.Float32bits(p.norm)); !p.hasLocs && p.freq == 1 && p.doc < 1<<31 && nb != 0 && nb < 1<<31 {
			return oneHit | nb<<31 | uint64(p.doc), nil
		}
	}
	chunkSize := numDocs / (card/1024 + 1)
	chunks := int((numDocs-1)/chunkSize + 1)
	tf, lc := &b.tfC, &b.locC
	tf.reset(chunks)
	lc.reset(chunks)
	b.ids = b.ids[:0]
	for i := range b.sorted[t.first : t.first+t.count] {
		p := &b.sorted[int(t.first)+i]
		chunk := int(uint64(p.doc) / chunkSize)
		fh := uint64(p.freq) << 1
		if p.hasLocs {
			fh |= 1
		}
		tf.add(chunk, fh, uint64(math.Float32bits(p.norm)))
		if p.hasLocs {
			n := 0
			for _, pos := range b.locs[p.locOff : p.locOff+p.locN] {
				n += uvarintLen(uint64(fid)) + uvarintLen(uint64(pos)) + 2 // start and end are 0
			}
			lc.add(chunk, uint64(n))
			for _, pos := range b.locs[p.locOff : p.locOff+p.locN] {
				lc.add(chunk, uint64(fid), uint64(pos), 0, 0)
			}
		}
		b.ids = append(b.ids, p.doc)
	}
	tf.close()
	lc.close()
	tfOff := b.writeChunked(tf)
	locOff := b.writeChunked(lc)
	rb, err := appendRoaring(b.roar[:0], b.ids)
	if err != nil {
		return 0, err
	}
	b.roar = rb
	off := uint64(len(b.out))
	b.uvarint(tfOff)
	b.uvarint(locOff)
	b.uvarint(uint64(len(rb)))
	b.write(rb)
	return off, nil
}

// appendRoaring appends the roaring bitmap serialization of ids
// (ascending). The common case, one array container (at most 4096 ids,
// all below 65536), is written directly in roaring's portable format:
// cookie 12346 and the container count (uint32 LE), the container's key
// and cardinality-1 (uint16 LE), its offset (uint32 LE), then the ids
// (uint16 LE). Anything else goes through the roaring library.
func appendRoaring(dst []byte, ids []uint32) ([]byte, error) {
	if n := len(ids); n > 0 && n <= 4096 && ids[n-1] < 1<<16 {
		dst = binary.LittleEndian.AppendUint32(dst, 12346)
		dst = binary.LittleEndian.AppendUint32(dst, 1)
		dst = binary.LittleEndian.AppendUint16(dst, 0)
		dst = binary.LittleEndian.AppendUint16(dst, uint16(n-1))
		dst = binary.LittleEndian.AppendUint32(dst, 16)
		for _, id := range ids {
			dst = binary.LittleEndian.AppendUint16(dst, uint16(id))
		}
		return dst, nil
	}
	bm := roaring.New()
	bm.AddMany(ids)
	rb, err := bm.ToBytes()
	return append(dst, rb...), err
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// writeDocValues writes the field's doc values (b.docVals) in chunks of
// 1024 documents, as ice's chunked content coder does.
func (b *segmentBuilder) writeDocValues(numDocs uint64) {
	chunks := int((numDocs-1)/legacyChunk + 1)
	if cap(b.lens) < chunks {
		b.lens = make([]uint64, chunks)
	}
	lens := b.lens[:chunks]
	clear(lens)
	var out []byte
	cur := 0
	b.meta = b.meta[:0] // (docNum, endOffset) pairs of the current chunk
	b.chunk = b.chunk[:0]
	count := 0
	flush := func() {
		hdr := binary.AppendUvarint(nil, uint64(count))
		hdr = append(hdr, b.meta...)
		b.snap = snappy.Encode(b.snap[:cap(b.snap)], b.chunk)
		comp := b.snap
		out = append(append(out, hdr...), comp...)
		lens[cur] = uint64(len(hdr) + len(comp))
	}
	for d := uint64(0); d < numDocs; d++ {
		v := b.docVals[d]
		if len(v) == 0 {
			continue
		}
		chunk := int(d / legacyChunk)
		if chunk != cur {
			flush()
			b.meta, b.chunk, count = b.meta[:0], b.chunk[:0], 0
			cur = chunk
		}
		b.chunk = append(b.chunk, v...)
		b.meta = binary.AppendUvarint(b.meta, d)
		b.meta = binary.AppendUvarint(b.meta, uint64(len(b.chunk)))
		count++
	}
	flush()
	b.write(out)
	start := len(b.out)
	var end uint64
	for _, l := range lens {
		end += l
		b.uvarint(end)
	}
	b.u64(uint64(len(b.out) - start))
	b.u64(uint64(chunks))
}
