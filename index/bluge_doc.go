package index

import (
	"hash/maphash"
	"sync"

	"github.com/blugelabs/bluge/numeric"
	segment "github.com/blugelabs/bluge_segment_api"
)

// numericStep is the precision step of indexed integers: each value is
// indexed at shifts 0, 8, ..., 56 (8 terms), and range queries enumerate
// whole prefixes (see numericRangeQuery). Bluge's own numeric fields use
// step 4 (16 terms per value); 8 halves the terms at a small cost in range
// queries.
const numericStep = 8

// Field option bits of a bfield.
const (
	optIndex     = 1 << iota // terms go into the inverted index
	optStore                 // the value is stored
	optDocValues             // terms are kept per document (sorting)
	optNumeric               // prefix-coded integers: doc values keep only the full-precision term
)

// bdoc is one record prepared for bluge's segment builder: it implements
// segment.Document with flat slices instead of bluge's per-token maps and
// pointers. Analyze maps the source Document (on an analysis worker); the
// terms of each field are unique, with frequencies and, for text, token
// positions. A bdoc is reused through bdocPool once its batch is built.
//
// Every bdoc of an Index batch is alive until the batch's segment is
// built, so a bdoc keeps only what the builder reads: fields, terms (24
// bytes each, their bytes in buf and their positions in locs) and the
// order of terms by field. The hash table and occurrence lists that
// analysis needs are borrowed from analysisScratch for its duration.
type bdoc struct {
	src    *Document
	filter []string

	fields []bfield
	byName map[string]int32
	terms  []bterm
	order  []int32 // term indexes grouped by field
	buf    []byte  // term bytes
	locs   []bloc  // positions, grouped by term

	// Analysis only (from analysisScratch, nil otherwise).
	occT  []int32 // per token occurrence: its term
	occP  []int32 // per token occurrence: its position
	table []int32 // open-addressing hash of (field, term) -> term index + 1
	// lastTerm is the index of the term addTerm last found or added.
	lastTerm int32
	seed     maphash.Seed
	pre      []byte // scratch for numeric terms
}

type bfield struct {
	name       string
	opts       uint8
	length     int   // tokens, for the norm
	nextPos    int32 // position after the last text value
	first, end int32 // range of order
	value      []byte
	d          *bdoc
}

// bterm is one unique term of a field of d: its bytes are
// d.buf[off:off+n] and its positions d.locs[locFirst:locEnd].
type bterm struct {
	field            int32
	off, n           int32
	freq             int32
	locFirst, locEnd int32
	d                *bdoc
}

type bloc struct{ pos int32 }

// analysisScratch is what analysing one document needs and a finished bdoc
// does not: the term hash table and the token occurrences.
type analysisScratch struct {
	table, occT, occP []int32
}

var analysisScratchPool = sync.Pool{New: func() any {
	return &analysisScratch{table: make([]int32, 1024), occT: make([]int32, 0, 256), occP: make([]int32, 0, 256)}
}}

var bdocPool = sync.Pool{New: func() any {
	return &bdoc{byName: make(map[string]int32), seed: maphash.MakeSeed()}
}}

var mapperPool = sync.Pool{New: func() any { return new(mapper) }}

func newBdoc(src *Document, filter []string) *bdoc {
	d := bdocPool.Get().(*bdoc)
	d.src, d.filter = src, filter
	if cap(d.terms) == 0 {
		// Room for a typical log record at once, rather than growing.
		d.fields = make([]bfield, 0, 48)
		d.terms = make([]bterm, 0, 256)
		d.order = make([]int32, 0, 256)
		d.locs = make([]bloc, 0, 256)
	}
	// Terms are mostly the record's own words: room for its bytes at
	// once, rather than doubling past them.
	if n := len(src.Key) + len(src.Value) + 256; cap(d.buf) < n {
		d.buf = make([]byte, 0, n)
	}
	return d
}

func (d *bdoc) release() {
	d.reset()
	d.src, d.filter = nil, nil
	bdocPool.Put(d)
}

func (d *bdoc) reset() {
	for i := range d.fields {
		d.fields[i] = bfield{}
	}
	d.fields = d.fields[:0]
	clear(d.byName)
	clear(d.terms)
	d.terms = d.terms[:0]
	d.order = d.order[:0]
	d.buf = d.buf[:0]
	d.locs = d.locs[:0]
}

// Analyze implements segment.Document: it maps the source record.
func (d *bdoc) Analyze() {
	sc := analysisScratchPool.Get().(*analysisScratch)
	d.table, d.occT, d.occP = sc.table, sc.occT[:0], sc.occP[:0]
	m := mapperPool.Get().(*mapper)
	m.mapDocument(d.src, d.filter, d)
	mapperPool.Put(m)
	d.finish()
	clear(d.table)
	sc.table, sc.occT, sc.occP = d.table, d.occT, d.occP
	d.table, d.occT, d.occP = nil, nil, nil
	analysisScratchPool.Put(sc)
}

// EachField implements segment.Document.
func (d *bdoc) EachField(vf segment.VisitField) {
	for i := range d.fields {
		vf(&d.fields[i])
	}
}

func (d *bdoc) field(name string, opts uint8) int32 {
	if i, ok := d.byName[name]; ok {
		return i
	}
	i := int32(len(d.fields))
	d.fields = append(d.fields, bfield{name: name, opts: opts, d: d})
	d.byName[name] = i
	return i
}

// addTerm counts one occurrence of term in field f at pos (0: no
// position) and returns the term's index.
func (d *bdoc) addTerm(f int32, term []byte, pos int32) {
	if len(d.table) < 2*(len(d.terms)+1) {
		d.grow()
	}
	mask := uint64(len(d.table) - 1)
	h := (maphash.Bytes(d.seed, term) ^ uint64(f)*0x9e3779b97f4a7c15) & mask
	for {
		slot := d.table[h]
		if slot == 0 {
			break
		}
		t := &d.terms[slot-1]
		if t.field == f && string(d.buf[t.off:t.off+t.n]) == string(term) {
			d.lastTerm = slot - 1
			t.freq++
			if pos > 0 {
				d.occT = append(d.occT, slot-1)
				d.occP = append(d.occP, pos)
			}
			return
		}
		h = (h + 1) & mask
	}
	idx := int32(len(d.terms))
	d.lastTerm = idx
	d.terms = append(d.terms, bterm{field: f, off: int32(len(d.buf)), n: int32(len(term)), freq: 1, d: d})
	d.buf = append(d.buf, term...)
	d.table[h] = idx + 1
	if pos > 0 {
		d.occT = append(d.occT, idx)
		d.occP = append(d.occP, pos)
	}
}

func (d *bdoc) grow() {
	n := 64
	for n < 4*(len(d.terms)+1) {
		n *= 2
	}
	if cap(d.table) >= n {
		d.table = d.table[:n]
		clear(d.table)
	} else {
		d.table = make([]int32, n)
	}
	mask := uint64(n - 1)
	for i := range d.terms {
		t := &d.terms[i]
		h := (maphash.Bytes(d.seed, d.buf[t.off:t.off+t.n]) ^ uint64(t.field)*0x9e3779b97f4a7c15) & mask
		for d.table[h] != 0 {
			h = (h + 1) & mask
		}
		d.table[h] = int32(i) + 1
	}
}

// text implements sink.
func (d *bdoc) text(field string, value []byte, an *analyzer) {
	f := d.field(field, optIndex)
	fl := &d.fields[f]
	pos := fl.nextPos
	if pos > 0 {
		pos += positionGap
	}
	n := 0
	an.each(value, func(tok []byte) {
		pos++
		n++
		d.addTerm(f, tok, pos)
	})
	fl = &d.fields[f]
	fl.nextPos = pos
	fl.length += n
}

// keyword implements sink. Keywords carry doc values for sorting, except
// the exists markers.
func (d *bdoc) keyword(field string, value []byte) {
	opts := uint8(optIndex | optDocValues)
	if field == fieldExists {
		opts = optIndex
	}
	f := d.field(field, opts)
	d.fields[f].length++
	d.addTerm(f, value, 0)
	if t := &d.terms[d.lastTerm]; t.freq > 1 {
		t.freq = 1 // exact terms score alike however often repeated
	}
}

// number implements sink: the prefix-coded terms of v at every shift.
func (d *bdoc) number(field string, v int64) {
	f := d.field(field, optIndex|optDocValues|optNumeric)
	d.fields[f].length++
	if len(d.pre) < 16 {
		d.pre = make([]byte, 16)
	}
	for shift := uint(0); shift < 64; shift += numericStep {
		term, _, _ := numeric.NewPrefixCodedInt64Prealloc(v, shift, d.pre)
		d.addTerm(f, term, 0)
	}
}

// finish groups terms by field and positions by term.
func (d *bdoc) finish() {
	// Positions: counting sort of occurrences by term.
	for i := range d.terms {
		d.terms[i].locFirst, d.terms[i].locEnd = 0, 0
	}
	for _, t := range d.occT {
		d.terms[t].locEnd++
	}
	n := int32(0)
	for i := range d.terms {
		c := d.terms[i].locEnd
		d.terms[i].locFirst, d.terms[i].locEnd = n, n
		n += c
	}
	if cap(d.locs) < int(n) {
		d.locs = make([]bloc, n)
	}
	d.locs = d.locs[:n]
	for i, t := range d.occT {
		tt := &d.terms[t]
		d.locs[tt.locEnd] = bloc{pos: d.occP[i]}
		tt.locEnd++
	}
	// Terms: counting sort by field.
	for i := range d.fields {
		d.fields[i].first, d.fields[i].end = 0, 0
	}
	for i := range d.terms {
		d.fields[d.terms[i].field].end++
	}
	n = 0
	for i := range d.fields {
		c := d.fields[i].end
		d.fields[i].first, d.fields[i].end = n, n
		n += c
	}
	if cap(d.order) < int(n) {
		d.order = make([]int32, n)
	}
	d.order = d.order[:n]
	for i := range d.terms {
		fl := &d.fields[d.terms[i].field]
		d.order[fl.end] = int32(i)
		fl.end++
	}
}

// segment.Field implementation.

func (f *bfield) Name() string         { return f.name }
func (f *bfield) Length() int          { return f.length }
func (f *bfield) Value() []byte        { return f.value }
func (f *bfield) Index() bool          { return f.opts&optIndex != 0 }
func (f *bfield) Store() bool          { return f.opts&optStore != 0 }
func (f *bfield) IndexDocValues() bool { return f.opts&optDocValues != 0 }

func (f *bfield) EachTerm(vt segment.VisitTerm) {
	if f.d == nil {
		return
	}
	for _, i := range f.d.order[f.first:f.end] {
		vt(&f.d.terms[i])
	}
}

// segment.FieldTerm implementation.

func (t *bterm) Term() []byte   { return t.d.buf[t.off : t.off+t.n : t.off+t.n] }
func (t *bterm) Frequency() int { return int(t.freq) }

// positions returns the term's token positions (none for exact terms).
func (t *bterm) positions() []bloc { return t.d.locs[t.locFirst:t.locEnd:t.locEnd] }

func (t *bterm) EachLocation(vl segment.VisitLocation) {
	locs := t.positions()
	for i := range locs {
		vl(&locs[i])
	}
}

// segment.Location implementation: positions only (no offsets, no
// highlighting).

func (l *bloc) Field() string { return "" }
func (l *bloc) Start() int    { return 0 }
func (l *bloc) End() int      { return 0 }
func (l *bloc) Pos() int      { return int(l.pos) }
func (l *bloc) Size() int     { return 8 }

// checkpointDoc is the checkpoint document of a partition index: its _id
// term (for replacing it) and the stored checkpoint record.
type checkpointDoc struct {
	fields [2]bfield
	term   bterm
	id     bdoc // holds the _id term's bytes
	// segmentBytes is set by newSegment to the size of the segment built
	// from the batch this document ends.
	segmentBytes int64
}

func newCheckpointDoc(rec checkpointRecord) *checkpointDoc {
	c := &checkpointDoc{}
	c.id.buf = []byte(checkpointID)
	c.term = bterm{freq: 1, n: int32(len(checkpointID)), d: &c.id}
	c.fields[0] = bfield{name: "_id", opts: optIndex, length: 1}
	c.fields[1] = bfield{name: fieldCheckpoint, opts: optStore, value: rec.encode()}
	return c
}

func (c *checkpointDoc) Analyze() {}

func (c *checkpointDoc) EachField(vf segment.VisitField) {
	vf(&checkpointIDField{&c.fields[0], &c.term})
	vf(&c.fields[1])
}

// checkpointIDField is the _id field of the checkpoint document.
type checkpointIDField struct {
	*bfield
	t *bterm
}

func (f *checkpointIDField) EachTerm(vt segment.VisitTerm) { vt(f.t) }

// checkpointTerm identifies the checkpoint document for replacement.
type checkpointTerm struct{}

func (checkpointTerm) Field() string { return "_id" }
func (checkpointTerm) Term() []byte  { return []byte(checkpointID) }
