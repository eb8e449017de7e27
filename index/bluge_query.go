package index

import (
	"math"

	"github.com/blugelabs/bluge"
	"github.com/blugelabs/bluge/numeric"
	"github.com/blugelabs/bluge/search"
	"github.com/blugelabs/bluge/search/searcher"
	"github.com/blugelabs/bluge/search/similarity"
)

// blugeQuery translates a specialised plan into a bluge query.
func blugeQuery(p *plan) bluge.Query {
	switch p.op {
	case opAll:
		if p.boost != 1 {
			// bluge's match_all scores 1 whatever its boost.
			return &constantQuery{q: bluge.NewMatchAllQuery(), score: p.boost}
		}
		return bluge.NewMatchAllQuery()
	case opConstant:
		return &constantQuery{q: blugeQuery(p.filter[0]), score: p.boost}
	case opNone, opPartition, opAnyField:
		// Partition and any-field plans are specialised away before
		// translation.
		return bluge.NewMatchNoneQuery()
	case opTerm:
		return bluge.NewTermQuery(p.term).SetField(p.field).SetBoost(p.boost)
	case opPhrase:
		return &phraseQuery{field: p.field, terms: p.phrase, slop: p.slop, boost: p.boost}
	case opRange:
		return &numericRangeQuery{field: p.field, lo: p.lo, hi: p.hi, boost: p.boost}
	case opTermRange:
		// Lucene's term range query is constant-scored: every match
		// scores the boost.
		return &constantQuery{q: termRangeQuery(p), score: p.boost}
	case opPrefix:
		return bluge.NewPrefixQuery(p.term).SetField(p.field).SetBoost(p.boost)
	case opWildcard:
		return bluge.NewWildcardQuery(p.term).SetField(p.field).SetBoost(p.boost)
	case opBool:
		b := bluge.NewBooleanQuery()
		if len(p.must) == 0 && len(p.should) == 0 {
			// Only filter-context clauses: every match scores 0 (as
			// Elasticsearch's bool does; bluge would score a bool of
			// only must_not clauses 1).
			for _, c := range p.filter {
				b.AddMust(blugeQuery(c))
			}
			for _, c := range p.mustNot {
				b.AddMustNot(blugeQuery(c))
			}
			return &constantQuery{q: b, score: 0}
		}
		for _, c := range p.must {
			b.AddMust(blugeQuery(c))
		}
		for _, c := range p.filter {
			// A filter must match but adds nothing to the score.
			b.AddMust(&constantQuery{q: blugeQuery(c), score: 0})
		}
		for _, c := range p.mustNot {
			b.AddMustNot(blugeQuery(c))
		}
		if len(p.should) > 0 {
			sh := b
			if p.minShould > 0 && len(p.must)+len(p.filter)+len(p.mustNot) > 0 {
				// Required alternatives next to other clauses go into a
				// clause of their own: bluge's unscored disjunction
				// reports no minimum, which would make them optional.
				sh = bluge.NewBooleanQuery()
				b.AddMust(sh)
			}
			for _, c := range p.should {
				sh.AddShould(blugeQuery(c))
			}
			sh.SetMinShould(p.minShould)
		}
		return b.SetBoost(p.boost)
	}
	return bluge.NewMatchNoneQuery()
}

func termRangeQuery(p *plan) bluge.Query {
	if p.hasHi && p.thi == "" {
		// Nothing sorts below the empty term.
		if p.hiIncl && (!p.hasLo || (p.tlo == "" && p.loIncl)) {
			return bluge.NewTermQuery("").SetField(p.field).SetBoost(p.boost)
		}
		return bluge.NewMatchNoneQuery()
	}
	lo, loIncl := p.tlo, p.loIncl
	if !p.hasLo {
		lo, loIncl = "", true
	}
	hi, hiIncl := p.thi, p.hiIncl
	if !p.hasHi {
		hi, hiIncl = "", false
	}
	// Empty bounds are open ends for bluge's term range searcher (its
	// Validate would refuse two; the searcher itself reads every term).
	return bluge.NewTermRangeInclusiveQuery(lo, hi, loIncl, hiIncl).SetField(p.field).SetBoost(p.boost)
}

// constantQuery matches the documents of q, each scoring score: Lucene's
// ConstantScoreQuery. q runs unscored.
type constantQuery struct {
	q     bluge.Query
	score float64
}

func (c *constantQuery) Searcher(r search.Reader, options search.SearcherOptions) (search.Searcher, error) {
	inner := options
	inner.Score = "none"
	inner.Explain = false
	s, err := c.q.Searcher(r, inner)
	if err != nil {
		return nil, err
	}
	return &constantSearcher{Searcher: s, score: c.score}, nil
}

// constantSearcher sets the score of every match of its searcher.
type constantSearcher struct {
	search.Searcher
	score float64
}

func (s *constantSearcher) Next(ctx *search.Context) (*search.DocumentMatch, error) {
	dm, err := s.Searcher.Next(ctx)
	if dm != nil {
		dm.Score = s.score
	}
	return dm, err
}

func (s *constantSearcher) Advance(ctx *search.Context, number uint64) (*search.DocumentMatch, error) {
	dm, err := s.Searcher.Advance(ctx, number)
	if dm != nil {
		dm.Score = s.score
	}
	return dm, err
}

// numericRangeQuery matches indexed integers in [lo, hi]. It splits the
// range into the fewest prefix terms of the index's precision step
// (Lucene's NumericUtils.splitRange) and reads only the terms the
// dictionary holds, instead of probing every candidate as bluge's
// step-4 range searcher does.
type numericRangeQuery struct {
	field  string
	lo, hi int64
	boost  float64
}

func (q *numericRangeQuery) Searcher(i search.Reader, options search.SearcherOptions) (search.Searcher, error) {
	terms, err := numericTerms(i, q.field, q.lo, q.hi)
	if err != nil {
		return nil, err
	}
	scorer := similarity.ConstantScorer(q.boost)
	if len(terms) == 1 {
		return searcher.NewTermSearcherBytes(i, terms[0], q.field, q.boost, scorer, options)
	}
	// A document holding several values in the range matches several
	// terms; it still scores the boost once, as Lucene's constant-score
	// range query does.
	return searcher.NewMultiTermSearcherBytes(i, terms, q.field, q.boost, scorer, scorer, options, false)
}

// numericTerms lists the indexed prefix terms of field that together
// cover the integers lo..hi.
func numericTerms(i search.Reader, field string, lo, hi int64) ([][]byte, error) {
	var terms [][]byte
	var err error
	splitRange(lo, hi, numericStep, func(shift uint, lo, hi int64) {
		if err != nil {
			return
		}
		start := numeric.MustNewPrefixCodedInt64(lo, shift)
		end := append(numeric.MustNewPrefixCodedInt64(hi, shift), 0)
		it, ierr := i.DictionaryIterator(field, nil, start, end)
		if ierr != nil {
			err = ierr
			return
		}
		for {
			e, nerr := it.Next()
			if nerr != nil {
				err = nerr
				break
			}
			if e == nil {
				break
			}
			terms = append(terms, []byte(e.Term()))
		}
		if cerr := it.Close(); cerr != nil && err == nil {
			err = cerr
		}
	})
	return terms, err
}

// splitRange calls emit with prefix ranges that together cover [lo, hi]
// exactly once: each (shift, a, b) stands for the prefix terms of a..b at
// that shift. It is Lucene's NumericUtils.splitRange for 64-bit values.
func splitRange(lo, hi int64, step uint, emit func(shift uint, lo, hi int64)) {
	if lo > hi {
		return
	}
	for shift := uint(0); ; shift += step {
		diff := int64(1) << (shift + step)
		mask := int64((uint64(1)<<step)-1) << shift
		hasLower := lo&mask != 0
		hasUpper := hi&mask != mask
		nextLo := lo &^ mask
		if hasLower {
			nextLo = (lo + diff) &^ mask
		}
		nextHi := hi &^ mask
		if hasUpper {
			nextHi = (hi - diff) &^ mask
		}
		if shift+step >= 64 || nextLo > nextHi || nextLo < lo || nextHi > hi {
			emit(shift, lo, hi)
			return
		}
		if hasLower {
			emit(shift, lo, lo|mask)
		}
		if hasUpper {
			emit(shift, hi&^mask, hi)
		}
		lo, hi = nextLo, nextHi
	}
}

// maxFloat is math.Max without NaN surprises for scores.
func maxFloat(a, b float64) float64 {
	if math.IsNaN(b) || a >= b {
		return a
	}
	return b
}
