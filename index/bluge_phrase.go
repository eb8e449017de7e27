package index

import (
	"math"

	"github.com/blugelabs/bluge/search"
	segment "github.com/blugelabs/bluge_segment_api"
)

// phraseQuery matches documents whose field holds the terms in order,
// within slop. bluge's phrase searcher builds maps of every candidate
// document's term locations; this one walks the terms' postings in step
// (leapfrogging to common documents) and checks positions from flat
// slices, with the same phrase-path rule (phraseMatch) as the memory
// index. Its score grows with how often the phrase occurs.
type phraseQuery struct {
	field string
	terms []string
	slop  int
	boost float64
}

func (q *phraseQuery) Searcher(r search.Reader, _ search.SearcherOptions) (search.Searcher, error) {
	s := &phraseSearcher{q: q, its: make([]segment.PostingsIterator, len(q.terms)),
		cur: make([]segment.Posting, len(q.terms)), pos: make([][]int, len(q.terms))}
	for i, t := range q.terms {
		it, err := r.PostingsIterator([]byte(t), q.field, true, false, true)
		if err != nil {
			return nil, err
		}
		s.its[i] = it
	}
	return s, nil
}

type phraseSearcher struct {
	q       *phraseQuery
	its     []segment.PostingsIterator
	cur     []segment.Posting
	pos     [][]int
	started bool
	done    bool
}

// align moves every iterator to the first document, at or after target,
// that all of them hold; false when one runs out.
func (s *phraseSearcher) align(target uint64) (bool, error) {
	for {
		agreed := true
		for i, it := range s.its {
			p := s.cur[i]
			var err error
			if p == nil || p.Number() < target {
				if p == nil && target == 0 {
					p, err = it.Next()
				} else {
					p, err = it.Advance(target)
				}
				if err != nil {
					return false, err
				}
				if p == nil {
					return false, nil
				}
				s.cur[i] = p
			}
			if n := p.Number(); n > target {
				target = n
				agreed = false
			}
		}
		if agreed {
			return true, nil
		}
	}
}

func (s *phraseSearcher) next(ctx *search.Context, target uint64) (*search.DocumentMatch, error) {
	for !s.done {
		ok, err := s.align(target)
		if err != nil {
			return nil, err
		}
		if !ok {
			s.done = true
			break
		}
		n := s.cur[0].Number()
		for i, p := range s.cur {
			s.pos[i] = s.pos[i][:0]
			for _, l := range p.Locations() {
				s.pos[i] = append(s.pos[i], l.Pos())
			}
		}
		freq := phraseCount(s.pos, s.q.terms, s.q.slop)
		target = n + 1
		if freq > 0 {
			dm := ctx.DocumentMatchPool.Get()
			dm.Number = n
			dm.Score = s.q.boost * float64(len(s.q.terms)) * (1 + math.Log1p(float64(freq)))
			return dm, nil
		}
	}
	return nil, nil
}

func (s *phraseSearcher) Next(ctx *search.Context) (*search.DocumentMatch, error) {
	target := uint64(0)
	if s.started {
		target = s.cur[0].Number() + 1
	}
	s.started = true
	return s.next(ctx, target)
}

func (s *phraseSearcher) Advance(ctx *search.Context, number uint64) (*search.DocumentMatch, error) {
	if s.started && s.cur[0] != nil && s.cur[0].Number() >= number {
		number = s.cur[0].Number() + 1
	}
	s.started = true
	return s.next(ctx, number)
}

func (s *phraseSearcher) Close() error               { return nil }
func (s *phraseSearcher) Count() uint64              { return 0 }
func (s *phraseSearcher) Min() int                   { return 0 }
func (s *phraseSearcher) Size() int                  { return 64 * (1 + len(s.its)) }
func (s *phraseSearcher) DocumentMatchPoolSize() int { return 1 }
