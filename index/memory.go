package index

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Memory is an Indexer that keeps everything in memory and evaluates
// queries document by document: simple and obviously right, for tests and
// small embedded uses. Nothing survives Close. It applies the same field
// mapping and query semantics as Bluge.
type Memory struct {
	mu     sync.RWMutex // guards topics and closed
	topics map[string]map[int32]*memPartition
	closed bool
	now    func() time.Time
}

type memPartition struct {
	checkpoint int64
	docs       []*memDoc         // ascending offsets
	fields     map[string]string // internal field names seen (value unused)
}

// memDoc is one document's terms by internal field.
type memDoc struct {
	offset int64
	fields map[string]*memField
}

type memField struct {
	terms map[string][]int // term -> positions (empty for keywords)
	nums  []int64
	nextP int // position of the next text value
}

// NewMemory returns an empty in-memory index.
func NewMemory() *Memory {
	return &Memory{topics: make(map[string]map[int32]*memPartition), now: time.Now}
}

var (
	_ Indexer          = (*Memory)(nil)
	_ PartitionDeleter = (*Memory)(nil)
)

func (m *Memory) err() error {
	if m.closed {
		return fmt.Errorf("index: memory: %w", ErrClosed)
	}
	return nil
}

// memSink builds a memDoc.
type memSink struct{ d *memDoc }

func (s memSink) field(name string) *memField {
	f := s.d.fields[name]
	if f == nil {
		f = &memField{terms: make(map[string][]int)}
		s.d.fields[name] = f
	}
	return f
}

func (s memSink) text(field string, value []byte, an *analyzer) {
	f := s.field(field)
	pos := f.nextP
	if pos > 0 {
		pos += positionGap
	}
	an.each(value, func(tok []byte) {
		pos++
		f.terms[string(tok)] = append(f.terms[string(tok)], pos)
	})
	f.nextP = pos
}

func (s memSink) keyword(field string, value []byte) {
	f := s.field(field)
	if _, ok := f.terms[string(value)]; !ok {
		f.terms[string(value)] = nil
	}
}

func (s memSink) number(field string, v int64) {
	f := s.field(field)
	f.nums = append(f.nums, v)
}

// Index implements Indexer.
func (m *Memory) Index(ctx context.Context, b *Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkBatch(b); err != nil {
		return err
	}
	var mp mapper
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.err(); err != nil {
		return err
	}
	parts := m.topics[b.Topic]
	if parts == nil {
		parts = make(map[int32]*memPartition)
		m.topics[b.Topic] = parts
	}
	p := parts[b.Partition]
	if p == nil {
		p = &memPartition{fields: make(map[string]string)}
		parts[b.Partition] = p
	}
	for i := range b.Docs {
		d := &b.Docs[i]
		if d.Offset < p.checkpoint {
			continue
		}
		md := &memDoc{offset: d.Offset, fields: make(map[string]*memField)}
		mp.mapDocument(d, b.Fields, memSink{md})
		for name := range md.fields {
			p.fields[name] = ""
		}
		p.docs = append(p.docs, md)
	}
	p.checkpoint = max(p.checkpoint, b.Next)
	return nil
}

// Checkpoint implements Indexer.
func (m *Memory) Checkpoint(topic string, partition int32) (int64, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.err(); err != nil {
		return 0, err
	}
	if p := m.topics[topic][partition]; p != nil {
		return p.checkpoint, nil
	}
	return 0, nil
}

// Stats implements Indexer.
func (m *Memory) Stats(topic string) (TopicStats, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.err(); err != nil {
		return TopicStats{}, err
	}
	st := TopicStats{Partitions: make(map[int32]PartitionStats)}
	for id, p := range m.topics[topic] {
		st.Partitions[id] = PartitionStats{Docs: int64(len(p.docs)), Checkpoint: p.checkpoint}
		st.Docs += int64(len(p.docs))
	}
	return st, nil
}

// Topics implements Indexer.
func (m *Memory) Topics() ([]string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.err(); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(m.topics))
	for t := range m.topics {
		out = append(out, t)
	}
	slices.Sort(out)
	return out, nil
}

// DeleteTopic implements Indexer.
func (m *Memory) DeleteTopic(ctx context.Context, topic string) error {
	return m.deleting(ctx, func() { delete(m.topics, topic) })
}

// DeletePartition implements PartitionDeleter.
func (m *Memory) DeletePartition(ctx context.Context, topic string, partition int32) error {
	return m.deleting(ctx, func() { delete(m.topics[topic], partition) })
}

// deleting runs del under the lock unless ctx is done or the index closed.
func (m *Memory) deleting(ctx context.Context, del func()) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.err(); err != nil {
		return err
	}
	del()
	return nil
}

// Close implements Indexer.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.topics = nil
	return nil
}

// memMatch is one matching document while searching.
type memMatch struct {
	part  int32
	doc   *memDoc
	score float64
	keys  [][]byte // sort keys, nil for a missing value
}

// Search implements Indexer.
func (m *Memory) Search(ctx context.Context, topic string, req *Request) (*Result, error) {
	if err := checkRequest(req); err != nil {
		return nil, err
	}
	r := &resolver{now: m.now()}
	root, err := r.resolve(req.Query)
	if err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.err(); err != nil {
		return nil, err
	}
	ev := &memEval{regexps: make(map[string]*regexp.Regexp)}
	var matches []memMatch
	res := &Result{}
	ids := make([]int32, 0, len(m.topics[topic]))
	for id := range m.topics[topic] {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		p := m.topics[topic][id]
		names := make([]string, 0, len(p.fields))
		for n := range p.fields {
			names = append(names, n)
		}
		sp, err := r.specialize(root, newPartView(id, names))
		if err != nil {
			return nil, err
		}
		minOff := req.MinOffsets[id]
		for i, d := range p.docs {
			if i%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
			}
			if d.offset < minOff {
				continue
			}
			ok, score, err := ev.eval(sp, id, d)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			res.Total++
			res.MaxScore = math.Max(res.MaxScore, score)
			mm := memMatch{part: id, doc: d, score: score}
			for _, s := range req.Sort {
				mm.keys = append(mm.keys, memSortKey(s, id, d, score))
			}
			matches = append(matches, mm)
		}
	}
	sortMatches(matches, req.Sort)
	for i := req.From; i < len(matches) && i < req.From+req.Size; i++ {
		mm := matches[i]
		h := Hit{Partition: mm.part, Offset: mm.doc.offset, Score: mm.score}
		if len(req.Sort) > 0 {
			h.Sort = make([]any, len(req.Sort))
			for j, s := range req.Sort {
				h.Sort[j] = decodeSortKey(s.Field, mm.keys[j])
			}
		}
		res.Hits = append(res.Hits, h)
	}
	return res, nil
}

func sortMatches(ms []memMatch, order []SortField) {
	sort.SliceStable(ms, func(i, j int) bool {
		a, b := &ms[i], &ms[j]
		if len(order) == 0 {
			if a.score != b.score {
				return a.score > b.score
			}
		}
		for k, s := range order {
			if c := compareSortKeys(a.keys[k], b.keys[k], s.Desc); c != 0 {
				return c < 0
			}
		}
		if a.part != b.part {
			return a.part < b.part
		}
		return a.doc.offset < b.doc.offset
	})
}

// memSortKey computes a document's key for one sort field (see
// sortkey.go), choosing the smallest value ascending and the largest
// descending among several.
func memSortKey(s SortField, part int32, d *memDoc, score float64) []byte {
	switch s.Field {
	case "_score":
		return scoreKey(score)
	case "_partition":
		return intKey(int64(part))
	}
	kind, fields := sortFields(s.Field)
	var best []byte
	for i, name := range fields {
		f := d.fields[name]
		if f == nil {
			continue
		}
		var cands [][]byte
		if kind == sortKeyword {
			for t := range f.terms {
				cands = append(cands, keywordKey([]byte(t)))
			}
		} else {
			for _, n := range f.nums {
				cands = append(cands, typedKey(byte(tagNumber+i), n))
			}
		}
		for _, c := range cands {
			if best == nil || (!s.Desc && string(c) < string(best)) || (s.Desc && string(c) > string(best)) {
				best = c
			}
		}
		if best != nil {
			break
		}
	}
	return best
}

// memEval evaluates plans on memDocs.
type memEval struct {
	regexps map[string]*regexp.Regexp
}

func (e *memEval) eval(p *plan, part int32, d *memDoc) (bool, float64, error) {
	switch p.op {
	case opAll:
		return true, p.boost, nil
	case opNone:
		return false, 0, nil
	case opPartition:
		ok := int64(part) >= p.lo && int64(part) <= p.hi
		return ok, p.boost, nil
	case opTerm:
		f := d.fields[p.field]
		if f == nil {
			return false, 0, nil
		}
		pos, ok := f.terms[p.term]
		if !ok {
			return false, 0, nil
		}
		return true, p.boost * (1 + math.Log1p(float64(len(pos)))), nil
	case opPhrase:
		f := d.fields[p.field]
		if f == nil {
			return false, 0, nil
		}
		return phraseMatch(f, p.phrase, p.slop), p.boost, nil
	case opRange:
		f := d.fields[p.field]
		if f == nil {
			return false, 0, nil
		}
		for _, n := range f.nums {
			if n >= p.lo && n <= p.hi {
				return true, p.boost, nil
			}
		}
		return false, 0, nil
	case opTermRange, opPrefix, opWildcard:
		f := d.fields[p.field]
		if f == nil {
			return false, 0, nil
		}
		var re *regexp.Regexp
		if p.op == opWildcard {
			var err error
			if re, err = e.wildcard(p.term); err != nil {
				return false, 0, err
			}
		}
		for t := range f.terms {
			if termMatches(p, t, re) {
				return true, p.boost, nil
			}
		}
		return false, 0, nil
	case opBool:
		return e.evalBool(p, part, d)
	case opConstant:
		ok, _, err := e.eval(p.filter[0], part, d)
		if err != nil || !ok {
			return false, 0, err
		}
		return true, p.boost, nil
	}
	return false, 0, fmt.Errorf("index: memory: unexpected plan op %d", p.op)
}

func termMatches(p *plan, t string, re *regexp.Regexp) bool {
	switch p.op {
	case opPrefix:
		return strings.HasPrefix(t, p.term)
	case opWildcard:
		return re.MatchString(t)
	}
	if p.hasLo && (t < p.tlo || (t == p.tlo && !p.loIncl)) {
		return false
	}
	if p.hasHi && (t > p.thi || (t == p.thi && !p.hiIncl)) {
		return false
	}
	return true
}

func (e *memEval) evalBool(p *plan, part int32, d *memDoc) (bool, float64, error) {
	score := 0.0
	for _, c := range p.must {
		ok, s, err := e.eval(c, part, d)
		if err != nil || !ok {
			return false, 0, err
		}
		score += s
	}
	for _, c := range p.filter {
		ok, _, err := e.eval(c, part, d)
		if err != nil || !ok {
			return false, 0, err
		}
	}
	for _, c := range p.mustNot {
		ok, _, err := e.eval(c, part, d)
		if err != nil {
			return false, 0, err
		}
		if ok {
			return false, 0, nil
		}
	}
	n := 0
	for _, c := range p.should {
		ok, s, err := e.eval(c, part, d)
		if err != nil {
			return false, 0, err
		}
		if ok {
			n++
			score += s
		}
	}
	if n < p.minShould {
		return false, 0, nil
	}
	// Filter and must_not clauses do not score (Elasticsearch's filter
	// context): a bool without must or should clauses scores 0.
	return true, score * p.boost, nil
}

// wildcard compiles a wildcard pattern as bluge does: * and ? become .*
// and ., everything else literal, anchored at both ends.
func (e *memEval) wildcard(pattern string) (*regexp.Regexp, error) {
	if re, ok := e.regexps[pattern]; ok {
		return re, nil
	}
	re, err := regexp.Compile("^(?:" + wildcardRegexp(pattern) + ")$")
	if err != nil {
		return nil, illegalArgument("invalid wildcard pattern [%s]", pattern)
	}
	e.regexps[pattern] = re
	return re, nil
}

func wildcardRegexp(pattern string) string {
	var b strings.Builder
	for _, r := range pattern {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	return b.String()
}

// phraseMatch reports whether f holds the phrase terms in order, moving
// positions by at most slop in total.
func phraseMatch(f *memField, phrase []string, slop int) bool {
	locs := make([][]int, len(phrase))
	for i, t := range phrase {
		locs[i] = f.terms[t]
	}
	return phraseCount(locs, phrase, slop) > 0
}

// phraseCount counts the phrase's occurrences given each term's positions
// (ascending): each position of the first term starting a path in which
// every next term is found with the total distance from its expected
// position (one after the previous) at most slop, no term position used
// twice. This is the phrase-path rule of bluge's phrase searcher, shared
// by both indexes.
func phraseCount(locs [][]int, phrase []string, slop int) int {
	for _, l := range locs {
		if len(l) == 0 {
			return 0
		}
	}
	type used struct{ term, pos int }
	var path []used
	var find func(i, prev, remaining int) bool
	find = func(i, prev, remaining int) bool {
		if i == len(phrase) {
			return true
		}
	next:
		for _, pos := range locs[i] {
			dist := prev + 1 - pos
			if dist < 0 {
				dist = -dist
			}
			if remaining-dist < 0 {
				continue
			}
			for _, u := range path {
				if phrase[u.term] == phrase[i] && u.pos == pos {
					continue next
				}
			}
			path = append(path, used{i, pos})
			if find(i+1, pos, remaining-dist) {
				return true
			}
			path = path[:len(path)-1]
		}
		return false
	}
	n := 0
	for _, start := range locs[0] {
		path = append(path[:0], used{0, start})
		if find(1, start, slop) {
			n++
		}
	}
	return n
}
