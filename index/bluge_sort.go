package index

import (
	"bytes"
	"context"
	"encoding/binary"
	"sort"

	blugeindex "github.com/blugelabs/bluge/index"
	"github.com/blugelabs/bluge/search"
)

// Field sorting. bluge's generic collector loads every match's doc values
// into a map and allocates its sort values; searchBySort reads doc values
// straight into fixed per-field buffers and keeps the best From+Size hits
// in a heap whose slots are reused, so sorting many matches (the usual
// "latest records first" search) allocates nothing per match.

// sortSlot is one sort field while collecting.
type sortSlot struct {
	field  SortField
	kind   sortKind
	fields []string // internal doc-value fields, by preference ("" = none)
	fixed  []byte   // constant key (_partition)
	score  bool

	// Per match: the best value seen in each preferred field.
	best [2][]byte
	have [2]bool
}

// sortHit is a heap entry; keys are owned by the entry and reused.
type sortHit struct {
	num    uint64
	score  float64
	offset int64
	keys   [][]byte // nil entry = missing
}

func searchBySort(ctx context.Context, snap *blugeindex.Snapshot, p *bpart, s search.Searcher, req *Request) (partHits, error) {
	out := partHits{part: p.id}
	defer s.Close()
	n := req.From + req.Size
	slots := make([]*sortSlot, len(req.Sort))
	dvFields := []string{fieldOffset}
	byField := map[string][]int{fieldOffset: nil} // doc-value field -> slot indexes
	for i, sf := range req.Sort {
		sl := &sortSlot{field: sf}
		switch sf.Field {
		case "_score":
			sl.score = true
		case "_partition":
			sl.fixed = intKey(int64(p.id))
		default:
			sl.kind, sl.fields = sortFields(sf.Field)
			for _, f := range sl.fields {
				if f == "" {
					continue
				}
				if _, ok := byField[f]; !ok {
					dvFields = append(dvFields, f)
				}
				byField[f] = append(byField[f], i)
			}
		}
		slots[i] = sl
	}
	dvr, err := snap.DocumentValueReader(dvFields)
	if err != nil {
		return out, &StorageError{"search", p.dir, err}
	}
	sctx := search.NewSearchContext(s.DocumentMatchPoolSize(), 0)
	cur := sortHit{keys: make([][]byte, len(slots))}
	keyBufs := make([][]byte, len(slots))
	heap := make([]*sortHit, 0, min(n, 1024))
	worse := func(a, b *sortHit) bool { // a sorts after b
		for k, sl := range slots {
			if c := compareSortKeys(a.keys[k], b.keys[k], sl.field.Desc); c != 0 {
				return c > 0
			}
		}
		return a.num > b.num
	}
	visit := func(field string, term []byte) {
		if field == fieldOffset {
			if len(term) > 0 && term[0] == 0x20 {
				cur.offset, _ = decodeShift0(term)
			}
		}
		for _, i := range byField[field] {
			sl := slots[i]
			j := 0
			for sl.fields[j] != field {
				j++
			}
			var k []byte
			if sl.kind == sortKeyword {
				k = append(append(sl.best[j][len(sl.best[j]):], tagKeyword), term...)
			} else {
				if len(term) == 0 || term[0] != 0x20 {
					continue // a coarser prefix term
				}
				v, _ := decodeShift0(term)
				k = append(sl.best[j][len(sl.best[j]):], byte(tagNumber+j))
				k = binary.BigEndian.AppendUint64(k, uint64(v)^(1<<63))
			}
			if !sl.have[j] {
				sl.best[j] = append(sl.best[j][:0], k...)
				sl.have[j] = true
				continue
			}
			c := bytes.Compare(k, sl.best[j])
			if (!sl.field.Desc && c < 0) || (sl.field.Desc && c > 0) {
				sl.best[j] = append(sl.best[j][:0], k...)
			}
		}
	}
	for i := 0; ; i++ {
		if i&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return out, err
			}
		}
		dm, err := s.Next(sctx)
		if err != nil {
			return out, &StorageError{"search", p.dir, err}
		}
		if dm == nil {
			break
		}
		out.total++
		if out.total == 1 || dm.Score > out.maxScore {
			out.maxScore = dm.Score
		}
		cur.num, cur.score, cur.offset = dm.Number, dm.Score, -1
		sctx.DocumentMatchPool.Put(dm)
		if n == 0 {
			continue
		}
		for _, sl := range slots {
			sl.have = [2]bool{}
		}
		if err := dvr.VisitDocumentValues(cur.num, visit); err != nil {
			return out, &StorageError{"search", p.dir, err}
		}
		for k, sl := range slots {
			switch {
			case sl.score:
				keyBufs[k] = binary.BigEndian.AppendUint64(keyBufs[k][:0], uint64(floatKey(cur.score))^(1<<63))
				cur.keys[k] = keyBufs[k]
			case sl.fixed != nil:
				cur.keys[k] = sl.fixed
			default:
				cur.keys[k] = nil
				for j := range sl.fields {
					if j < 2 && sl.have[j] {
						cur.keys[k] = sl.best[j]
						break
					}
				}
			}
		}
		switch {
		case len(heap) < n:
			h := &sortHit{keys: make([][]byte, len(slots))}
			copyHit(h, &cur)
			heap = append(heap, h)
			heapUp(heap, len(heap)-1, worse)
		case worse(heap[0], &cur):
			copyHit(heap[0], &cur)
			heapDown(heap, 0, worse)
		}
	}
	sort.Slice(heap, func(i, j int) bool { return worse(heap[j], heap[i]) })
	for rank, h := range heap {
		out.hits = append(out.hits, partHit{offset: h.offset, score: h.score, keys: h.keys, rank: rank})
	}
	return out, nil
}

// copyHit copies src into dst, reusing dst's key buffers.
func copyHit(dst, src *sortHit) {
	dst.num, dst.score, dst.offset = src.num, src.score, src.offset
	for k, key := range src.keys {
		if key == nil {
			dst.keys[k] = nil
			continue
		}
		dst.keys[k] = append(dst.keys[k][:0:cap(dst.keys[k])], key...)
	}
}

// heapUp and heapDown keep the worst hit at the root.
func heapUp(h []*sortHit, i int, worse func(a, b *sortHit) bool) {
	for i > 0 {
		parent := (i - 1) / 2
		if !worse(h[i], h[parent]) {
			return
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
}

func heapDown(h []*sortHit, i int, worse func(a, b *sortHit) bool) {
	for {
		w := i
		l, r := 2*i+1, 2*i+2
		if l < len(h) && worse(h[l], h[w]) {
			w = l
		}
		if r < len(h) && worse(h[r], h[w]) {
			w = r
		}
		if w == i {
			return
		}
		h[i], h[w] = h[w], h[i]
		i = w
	}
}
