package index

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"testing"

	segment "github.com/blugelabs/bluge_segment_api"
	"github.com/blugelabs/ice"
)

// checkSameSegment builds docs with ice.New and with our builder and
// requires byte-identical persisted segments.
func checkSameSegment(t *testing.T, docs []segment.Document) {
	t.Helper()
	norm := func(f string, n int) float32 { return bm25.ComputeNorm(n) }
	want, _, err := ice.New(docs, norm)
	if err != nil {
		t.Fatal(err)
	}
	b := &segmentBuilder{fieldIDs: make(map[string]int), seed: maphash.MakeSeed(), iceCompatible: true}
	data, err := b.build(docs, norm)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ice.Load(segment.NewDataBytes(data))
	if err != nil {
		t.Fatal(err)
	}
	var wb, gb bytes.Buffer
	if _, err := want.(*ice.Segment).WriteTo(&wb, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := got.(*ice.Segment).WriteTo(&gb, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(wb.Bytes(), gb.Bytes()) {
		w, g := wb.Bytes(), gb.Bytes()
		i := 0
		for i < len(w) && i < len(g) && w[i] == g[i] {
			i++
		}
		t.Fatalf("segments differ: %d bytes vs ice's %d, first difference at %d", len(g), len(w), i)
	}
}

func analysedDocs(c *genCorpus, n int, withCheckpoint bool) []segment.Document {
	var out []segment.Document
	for i := 0; i < n && i < len(c.docs); i++ {
		d := &Document{Offset: int64(i), Timestamp: c.ts[i], Key: c.keys[i], Value: c.docs[i],
			Headers: []Header{{Key: "h", Value: []byte(fmt.Sprintf("value %d", i%7))}}}
		bd := newBdoc(d, nil)
		bd.Analyze()
		out = append(out, bd)
	}
	if withCheckpoint {
		out = append(out, newCheckpointDoc(checkpointRecord{next: int64(n), partition: 3, written: 1}))
	}
	return out
}

func TestSegmentBuilderMatchesIce(t *testing.T) {
	c := genDocs(2600, 9)
	for _, n := range []int{1, 2, 50, 1023, 1024, 1025, 2600} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			checkSameSegment(t, analysedDocs(c, n, true))
			checkSameSegment(t, analysedDocs(c, n, false))
		})
	}
	t.Run("checkpoint only", func(t *testing.T) {
		checkSameSegment(t, []segment.Document{newCheckpointDoc(checkpointRecord{next: 9})})
	})
	t.Run("odd values", func(t *testing.T) {
		var docs []segment.Document
		for i, v := range []string{`not json at all`, `"scalar"`, `[1,2,{"a":"x y z"}]`, `{"a":["p q","p q","r"],"b":{"a":1}}`, `{}`, ``, `{"e":"\u00e9t\u00e9 ÉTÉ"}`} {
			d := &Document{Offset: int64(i), Value: []byte(v)}
			if v == "" {
				d.Value = nil
			}
			bd := newBdoc(d, nil)
			bd.Analyze()
			docs = append(docs, bd)
		}
		checkSameSegment(t, docs)
	})
}

// TestSegmentBuilderDocValues checks the default, smaller doc values: a
// numeric field keeps only its full-precision term, keywords keep theirs.
func TestSegmentBuilderDocValues(t *testing.T) {
	c := genDocs(50, 5)
	docs := analysedDocs(c, 50, true)
	seg, _, err := newSegment(docs, func(string, int) float32 { return 1 })
	if err != nil {
		t.Fatal(err)
	}
	dvr, err := seg.DocumentValueReader([]string{fieldOffset, "level.keyword"})
	if err != nil {
		t.Fatal(err)
	}
	for d := uint64(0); d < 50; d++ {
		var offs []int64
		var levels []string
		err := dvr.VisitDocumentValues(d, func(field string, term []byte) {
			switch field {
			case fieldOffset:
				if term[0] != shift0 {
					t.Fatalf("doc %d: coarse term %x in doc values", d, term)
				}
				v, _ := decodeShift0(term)
				offs = append(offs, v)
			case "level.keyword":
				levels = append(levels, string(term))
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(offs) != 1 || offs[0] != int64(d) || len(levels) != 1 {
			t.Fatalf("doc %d: doc values %v %v", d, offs, levels)
		}
	}
}

// TestSegmentBuilderDefaultsReadBack checks the default (smaller) segment
// against ice's: every field's dictionary holds the same terms with the
// same postings (documents, frequencies, norms, positions), whether or not
// a term was stored with the 1-hit encoding.
func TestSegmentBuilderDefaultsReadBack(t *testing.T) {
	c := genDocs(1500, 8)
	docs := analysedDocs(c, 1500, true)
	want, _, err := ice.New(docs, normFor)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := newSegment(docs, normFor)
	if err != nil {
		t.Fatal(err)
	}
	type posting struct {
		doc  uint64
		freq int
		norm float64
		locs []int
	}
	read := func(seg segment.Segment, field, term string) []posting {
		d, err := seg.Dictionary(field)
		if err != nil {
			t.Fatal(err)
		}
		pl, err := d.PostingsList([]byte(term), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		it, err := pl.Iterator(true, true, true, nil)
		if err != nil {
			t.Fatal(err)
		}
		var out []posting
		for {
			p, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			if p == nil {
				return out
			}
			ps := posting{doc: p.Number(), freq: p.Frequency(), norm: p.Norm()}
			for _, l := range p.Locations() {
				ps.locs = append(ps.locs, l.Pos())
			}
			out = append(out, ps)
		}
	}
	fields := want.Fields()
	if fmt.Sprint(fields) != fmt.Sprint(got.Fields()) {
		t.Fatalf("fields %v, want %v", got.Fields(), fields)
	}
	terms, oneHits := 0, 0
	for _, f := range fields {
		d, err := want.Dictionary(f)
		if err != nil {
			t.Fatal(err)
		}
		it := d.Iterator(nil, nil, nil)
		for {
			e, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			if e == nil {
				break
			}
			w, g := read(want, f, e.Term()), read(got, f, e.Term())
			if fmt.Sprint(w) != fmt.Sprint(g) {
				t.Fatalf("field %q term %q: postings %v, want %v", f, e.Term(), g, w)
			}
			terms++
			if len(w) == 1 && w[0].freq == 1 && len(w[0].locs) == 0 {
				oneHits++
			}
		}
	}
	if oneHits == 0 {
		t.Fatal("no term used the 1-hit encoding")
	}
	t.Logf("%d terms compared, %d single-document ones", terms, oneHits)
}
