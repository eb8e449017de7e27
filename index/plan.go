package index

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A plan is a query resolved to internal fields and encoded values, the
// form both Indexer implementations execute. Resolving once, here, keeps
// their semantics identical: the memory index evaluates plans document by
// document, the Bluge index translates them into bluge queries.
type plan struct {
	op     planOp
	field  string   // internal field name
	term   string   // opTerm, opPrefix, opWildcard
	phrase []string // opPhrase: one term per position
	slop   int      // opPhrase
	lo, hi int64    // opRange (sortable integers), opPartition: inclusive

	tlo, thi       string // opTermRange bounds
	hasLo, hasHi   bool
	loIncl, hiIncl bool

	must, filter, should, mustNot []*plan
	minShould                     int // opBool: how many should clauses must match

	boost float64 // score multiplier (1 = none); opConstant: the score
	leaf  Query   // opAnyField: the leaf query to expand over every field
}

type planOp uint8

const (
	opAll       planOp = iota // every document
	opNone                    // no document
	opTerm                    // field holds term
	opPhrase                  // field holds the phrase within slop
	opRange                   // field holds an integer in [lo, hi]
	opTermRange               // field holds a term between tlo and thi
	opPrefix                  // field holds a term starting with term
	opWildcard                // field holds a term matching the pattern term
	opBool                    // boolean combination
	opPartition               // the document's partition is in [lo, hi]
	opAnyField                // leaf over every field the index has
	opConstant                // documents matching filter[0], each scoring boost
)

func planAll() *plan { return &plan{op: opAll, boost: 1} }

// planConstant matches the documents filter matches, each scoring score:
// Lucene's ConstantScoreQuery, as Elasticsearch runs constant_score, ids,
// terms and exists queries, and prefix and wildcard queries (multi-term
// queries, whose default rewrite, constant_score, gives every match the
// query's boost).
func planConstant(filter *plan, score float64) *plan {
	switch filter.op {
	case opNone:
		return filter
	case opAll:
		return &plan{op: opAll, boost: score}
	case opConstant:
		// The inner constant score is replaced, not multiplied: it is
		// not scored.
		return &plan{op: opConstant, filter: filter.filter, boost: score}
	}
	return &plan{op: opConstant, filter: []*plan{filter}, boost: score}
}
func planNone() *plan { return &plan{op: opNone, boost: 1} }

func planTerm(field, term string) *plan { return &plan{op: opTerm, field: field, term: term, boost: 1} }

func planRange(field string, lo, hi int64) *plan {
	if lo > hi {
		return planNone()
	}
	return &plan{op: opRange, field: field, lo: lo, hi: hi, boost: 1}
}

// planOr matches documents matching any alternative.
func planOr(alts ...*plan) *plan {
	alts = slices.DeleteFunc(alts, func(p *plan) bool { return p.op == opNone })
	switch len(alts) {
	case 0:
		return planNone()
	case 1:
		return alts[0]
	}
	return &plan{op: opBool, should: alts, minShould: 1, boost: 1}
}

// fieldKind classifies a user-facing field name.
type fieldKind uint8

const (
	fkGeneral   fieldKind = iota // JSON path or header: text, keyword, number, date, bool
	fkKeyword                    // exact terms only: <field>.keyword, _key
	fkOffset                     // _offset
	fkTimestamp                  // _timestamp
	fkPartition                  // _partition
	fkID                         // _id
	fkAny                        // "" or "*": every field
)

// fieldRef is a user-facing field resolved to internal names.
type fieldRef struct {
	kind                                 fieldKind
	user                                 string // the user-facing name
	text, keyword, number, date, boolean string
}

func resolveField(name string) fieldRef {
	switch name {
	case "", "*":
		return fieldRef{kind: fkAny, user: name}
	case "_key":
		return fieldRef{kind: fkKeyword, user: name, keyword: fieldKey}
	case "_timestamp":
		return fieldRef{kind: fkTimestamp, user: name, date: fieldTimestamp}
	case "_offset":
		return fieldRef{kind: fkOffset, user: name, number: fieldOffset}
	case "_partition":
		return fieldRef{kind: fkPartition, user: name}
	case "_id":
		return fieldRef{kind: fkID, user: name}
	}
	base := name
	if name == "_value" || strings.HasPrefix(name, "_value.") || strings.HasPrefix(name, headersPrefix) {
		base = metaPrefix + name
	}
	if strings.HasSuffix(base, suffixKeyword) {
		return fieldRef{kind: fkKeyword, user: name, keyword: base}
	}
	return fieldRef{kind: fkGeneral, user: name, text: base, keyword: base + suffixKeyword,
		number: base + suffixNumber, date: base + suffixDate, boolean: base + suffixBool}
}

// resolver turns Queries into plans. It holds an analyzer, so it is not
// safe for concurrent use; each search makes one.
type resolver struct {
	an  analyzer
	now time.Time // the time "now" means in date math, fixed per search
}

// boostValue returns the score multiplier of a typ query's Boost: 1 for
// nil (Elasticsearch's default boost, 1.0), else the boost itself, 0
// included (Elasticsearch multiplies the score by it). A negative boost is
// an illegal_argument_exception, as Elasticsearch's query builders refuse
// it (AbstractQueryBuilder.boost, 7.0 and later).
func boostValue(typ string, b *float64) (float64, error) {
	if b == nil {
		return 1, nil
	}
	if reason := boostProblem(typ, *b); reason != "" {
		return 0, illegalArgument("%s", reason)
	}
	return *b, nil
}

// boostProblem says what is wrong with boost b of a typ query, or ""
// when nothing is. Elasticsearch refuses negative boosts, -0.0 included
// (its check is Float.compare(boost, 0f) < 0), with this reason; NaN and
// infinite boosts, which would make every score meaningless, are refused
// too.
func boostProblem(typ string, b float64) string {
	switch {
	case math.IsNaN(b) || math.IsInf(b, 0):
		return fmt.Sprintf("[boost] of [%s] must be a finite number, got [%v]", typ, b)
	case math.Signbit(b):
		return fmt.Sprintf("negative [boost] are not allowed in [%s], use a value between 0 and 1 to deboost", typ)
	}
	return ""
}

// withBoost multiplies the score of a plan the resolver just made by
// boost b.
func withBoost(p *plan, b float64) *plan {
	if b != 1 {
		p.boost *= b
	}
	return p
}

// scaled returns p with its score multiplied by b, copying p rather than
// changing it: specialize shares the leaves of the query's plan between
// partitions, and a boost applied in place would compound from one
// partition to the next.
func scaled(p *plan, b float64) *plan {
	if b == 1 {
		return p
	}
	c := *p
	c.boost *= b
	return &c
}

func (r *resolver) resolve(q Query) (*plan, error) {
	switch q := q.(type) {
	case nil:
		return planAll(), nil
	case *MatchAllQuery:
		b, err := boostValue("match_all", q.Boost)
		if err != nil {
			return nil, err
		}
		return withBoost(planAll(), b), nil
	case *MatchNoneQuery:
		return planNone(), nil
	case *MatchQuery:
		return r.match(q)
	case *MatchPhraseQuery:
		return r.matchPhrase(q)
	case *TermQuery:
		b, err := boostValue("term", q.Boost)
		if err != nil {
			return nil, err
		}
		f := resolveField(q.Field)
		if f.kind == fkAny {
			return nil, parsingError("[term] query requires a field name")
		}
		p, err := r.term(f, q.Value)
		if err != nil {
			return nil, err
		}
		return withBoost(p, b), nil
	case *TermsQuery:
		return r.terms(q)
	case *RangeQuery:
		return r.rangeQuery(q)
	case *ExistsQuery:
		// Elasticsearch's exists query is a constant-score query
		// (ExistsQueryBuilder wraps it in a ConstantScoreQuery).
		b, err := boostValue("exists", q.Boost)
		if err != nil {
			return nil, err
		}
		p, err := r.exists(resolveField(q.Field))
		if err != nil {
			return nil, err
		}
		return planConstant(p, b), nil
	case *PrefixQuery:
		b, err := boostValue("prefix", q.Boost)
		if err != nil {
			return nil, err
		}
		return r.pattern(opPrefix, q.Field, q.Value, b, false)
	case *WildcardQuery:
		b, err := boostValue("wildcard", q.Boost)
		if err != nil {
			return nil, err
		}
		return r.pattern(opWildcard, q.Field, q.Value, b, false)
	case *IDsQuery:
		b, err := boostValue("ids", q.Boost)
		if err != nil {
			return nil, err
		}
		alts := make([]*plan, 0, len(q.Values))
		for _, id := range q.Values {
			alts = append(alts, idPlan(id))
		}
		return planConstant(planOr(alts...), b), nil
	case *BoolQuery:
		return r.boolQuery(q)
	case *ConstantScoreQuery:
		b, err := boostValue("constant_score", q.Boost)
		if err != nil {
			return nil, err
		}
		f, err := r.resolve(q.Filter)
		if err != nil {
			return nil, err
		}
		return planConstant(f, b), nil
	case *QueryStringQuery:
		b, err := boostValue("query_string", q.Boost)
		if err != nil {
			return nil, err
		}
		parsed, err := parseQueryString(q)
		if err != nil {
			return nil, err
		}
		p, err := r.resolve(parsed)
		if err != nil {
			return nil, err
		}
		return withBoost(p, b), nil
	case *normalizedPattern:
		return r.pattern(q.op, q.field, q.value, q.boost, true)
	}
	return nil, parsingError("unknown query type %T", q)
}

// terms resolves a terms query. Elasticsearch runs it as one
// constant-score query over the set of values (Lucene's TermInSetQuery,
// or a point set query on numbers): a match scores the boost, however
// many of the values it holds.
func (r *resolver) terms(q *TermsQuery) (*plan, error) {
	b, err := boostValue("terms", q.Boost)
	if err != nil {
		return nil, err
	}
	f := resolveField(q.Field)
	if f.kind == fkAny {
		return nil, parsingError("[terms] query requires a field name")
	}
	alts := make([]*plan, 0, len(q.Values))
	for _, v := range q.Values {
		p, err := r.term(f, v)
		if err != nil {
			return nil, err
		}
		alts = append(alts, p)
	}
	return planConstant(planOr(alts...), b), nil
}

// idPlan matches one document id. Elasticsearch's ids query (and a term
// query on _id) is a constant-score set query: every match scores 1,
// times the query's boost.
func idPlan(id string) *plan {
	p, o, ok := ParseDocID(id)
	if !ok {
		return planNone()
	}
	return planConstant(&plan{op: opBool, boost: 1,
		filter: []*plan{{op: opPartition, lo: int64(p), hi: int64(p), boost: 1}, planRange(fieldOffset, o, o)}}, 1)
}

func (r *resolver) match(q *MatchQuery) (*plan, error) {
	b, err := boostValue("match", q.Boost)
	if err != nil {
		return nil, err
	}
	f := resolveField(q.Field)
	var op string
	switch strings.ToLower(q.Operator) {
	case "", "or":
		op = "or"
	case "and":
		op = "and"
	default:
		return nil, parsingError("[match] unknown operator [%s]", q.Operator)
	}
	if f.kind == fkAny {
		return withBoost(&plan{op: opAnyField, leaf: q, boost: 1}, b), nil
	}
	if f.kind != fkGeneral {
		p, err := r.term(f, q.Query)
		if err != nil {
			return nil, err
		}
		return withBoost(p, b), nil
	}
	toks := r.an.tokens(q.Query)
	var text *plan
	switch len(toks) {
	case 0:
		text = planNone()
	case 1:
		text = planTerm(f.text, toks[0])
	default:
		terms := make([]*plan, len(toks))
		for i, t := range toks {
			terms[i] = planTerm(f.text, t)
		}
		if op == "and" {
			text = &plan{op: opBool, must: terms, boost: 1}
		} else {
			msm, err := minimumShouldMatch(q.MinimumShouldMatch, len(terms), 1)
			if err != nil {
				return nil, err
			}
			text = &plan{op: opBool, should: terms, minShould: max(msm, 1), boost: 1}
			if msm > len(terms) {
				text = planNone()
			}
		}
	}
	return withBoost(planOr(append([]*plan{text}, r.typedEq(f, scalar{kind: leafString, str: q.Query})...)...), b), nil
}

func (r *resolver) matchPhrase(q *MatchPhraseQuery) (*plan, error) {
	b, err := boostValue("match_phrase", q.Boost)
	if err != nil {
		return nil, err
	}
	f := resolveField(q.Field)
	if q.Slop < 0 {
		return nil, parsingError("[match_phrase] slop must be non-negative")
	}
	if f.kind == fkAny {
		return withBoost(&plan{op: opAnyField, leaf: q, boost: 1}, b), nil
	}
	if f.kind != fkGeneral {
		p, err := r.term(f, q.Query)
		if err != nil {
			return nil, err
		}
		return withBoost(p, b), nil
	}
	toks := r.an.tokens(q.Query)
	var text *plan
	switch len(toks) {
	case 0:
		text = planNone()
	case 1:
		text = planTerm(f.text, toks[0])
	default:
		text = &plan{op: opPhrase, field: f.text, phrase: toks, slop: q.Slop, boost: 1}
	}
	return withBoost(planOr(append([]*plan{text}, r.typedEq(f, scalar{kind: leafString, str: q.Query})...)...), b), nil
}

// typedEq returns the plans matching s as a number, boolean or date of a
// general field (none when s is not one).
func (r *resolver) typedEq(f fieldRef, s scalar) []*plan {
	var alts []*plan
	if n, ok := s.number(); ok {
		k := floatKey(n)
		alts = append(alts, planRange(f.number, k, k))
	}
	if b, ok := s.boolean(); ok {
		alts = append(alts, planTerm(f.boolean, strconv.FormatBool(b)))
	}
	if p := r.dateEq(f.date, s); p != nil {
		alts = append(alts, p)
	}
	return alts
}

// dateEq matches the span of time a date value names ("2024-05-01" is the
// whole day), as Elasticsearch's term query on a date field does.
func (r *resolver) dateEq(field string, s scalar) *plan {
	if s.kind == leafNumber {
		if ms, ok := s.integer(); ok {
			return planRange(field, ms, ms)
		}
		return nil
	}
	if s.kind != leafString {
		return nil
	}
	lo, ok1 := s.date(r.now, false)
	hi, ok2 := s.date(r.now, true)
	if !ok1 || !ok2 {
		return nil
	}
	return planRange(field, lo, hi)
}

// term resolves an exact value on one field.
func (r *resolver) term(f fieldRef, v any) (*plan, error) {
	s, err := toScalar(v)
	if err != nil {
		return nil, err
	}
	switch f.kind {
	case fkKeyword:
		return planTerm(f.keyword, s.str), nil
	case fkOffset:
		o, ok := s.integer()
		if !ok {
			return nil, illegalArgument("[_offset] expects an integer, got [%s]", s.str)
		}
		return planRange(fieldOffset, o, o), nil
	case fkPartition:
		p, ok := s.integer()
		if !ok {
			return nil, illegalArgument("[_partition] expects an integer, got [%s]", s.str)
		}
		return &plan{op: opPartition, lo: p, hi: p, boost: 1}, nil
	case fkTimestamp:
		p := r.dateEq(fieldTimestamp, s)
		if p == nil {
			return nil, illegalArgument("failed to parse date field [%s] of [_timestamp]", s.str)
		}
		return p, nil
	case fkID:
		return idPlan(s.str), nil
	case fkAny:
		return &plan{op: opAnyField, leaf: &TermQuery{Value: v}, boost: 1}, nil
	}
	return planOr(append([]*plan{planTerm(f.text, s.str)}, r.typedEq(f, s)...)...), nil
}

// bound is one side of a range.
type bound struct {
	set  bool
	incl bool
	v    scalar
}

func rangeBounds(q *RangeQuery) (lo, hi bound, err error) {
	set := func(b *bound, v any, incl bool, name string) error {
		if v == nil {
			return nil
		}
		if b.set {
			return parsingError("[range] query on [%s] has both [%s] and its exclusive or inclusive twin", q.Field, name)
		}
		s, err := toScalar(v)
		if err != nil {
			return err
		}
		*b = bound{set: true, incl: incl, v: s}
		return nil
	}
	if err = set(&lo, q.GT, false, "gt"); err == nil {
		if err = set(&lo, q.GTE, true, "gte"); err == nil {
			if err = set(&hi, q.LT, false, "lt"); err == nil {
				err = set(&hi, q.LTE, true, "lte")
			}
		}
	}
	return lo, hi, err
}

func (r *resolver) rangeQuery(q *RangeQuery) (*plan, error) {
	b, err := boostValue("range", q.Boost)
	if err != nil {
		return nil, err
	}
	f := resolveField(q.Field)
	lo, hi, err := rangeBounds(q)
	if err != nil {
		return nil, err
	}
	if !lo.set && !hi.set {
		// Elasticsearch runs a range without bounds as an exists query.
		p, err := r.exists(f)
		if err != nil {
			return nil, err
		}
		return planConstant(p, b), nil
	}
	var p *plan
	switch f.kind {
	case fkAny:
		return withBoost(&plan{op: opAnyField, leaf: q, boost: 1}, b), nil
	case fkOffset, fkPartition:
		l, h, ok := intRange(lo, hi)
		if !ok {
			return nil, illegalArgument("[range] on [%s] expects integer bounds", f.user)
		}
		if f.kind == fkOffset {
			p = planRange(fieldOffset, l, h)
		} else {
			p = &plan{op: opPartition, lo: l, hi: h, boost: 1}
			if l > h {
				p = planNone()
			}
		}
	case fkTimestamp:
		l, h, ok := r.dateRange(lo, hi)
		if !ok {
			return nil, illegalArgument("failed to parse date range bounds of [_timestamp]")
		}
		p = planRange(fieldTimestamp, l, h)
	case fkKeyword:
		p = termRange(f.keyword, lo, hi)
	case fkID:
		return nil, illegalArgument("[range] queries are not supported on [_id]")
	default:
		var alts []*plan
		numeric := (!lo.set || isNumber(lo.v)) && (!hi.set || isNumber(hi.v))
		if numeric {
			if l, h, ok := floatRange(lo, hi); ok {
				alts = append(alts, planRange(f.number, l, h))
			}
		}
		// Strings that read as dates compare as dates; other strings
		// compare as keywords (byte order).
		dates := false
		if l, h, ok := r.dateRange(lo, hi); ok && (!numeric || isIntegral(lo, hi)) {
			alts = append(alts, planRange(f.date, l, h))
			dates = !numeric
		}
		if !numeric && !dates && (!lo.set || lo.v.kind == leafString) && (!hi.set || hi.v.kind == leafString) {
			alts = append(alts, termRange(f.keyword, lo, hi))
		}
		if len(alts) == 0 {
			return nil, parsingError("[range] query on [%s]: cannot use the bounds as numbers, dates or strings", f.user)
		}
		p = planOr(alts...)
	}
	return withBoost(p, b), nil
}

func isNumber(s scalar) bool {
	_, ok := s.number()
	return ok
}

func isIntegral(lo, hi bound) bool {
	for _, b := range []bound{lo, hi} {
		if b.set {
			if _, ok := b.v.integer(); !ok {
				return false
			}
		}
	}
	return true
}

// floatRange converts numeric bounds to an inclusive sortable-integer
// range.
func floatRange(lo, hi bound) (int64, int64, bool) {
	l, h := int64(math.MinInt64), int64(math.MaxInt64)
	if lo.set {
		n, ok := lo.v.number()
		if !ok {
			return 0, 0, false
		}
		l = floatKey(n)
		if !lo.incl {
			l++
		}
	}
	if hi.set {
		n, ok := hi.v.number()
		if !ok {
			return 0, 0, false
		}
		h = floatKey(n)
		if !hi.incl {
			h--
		}
	}
	return l, h, true
}

// intRange converts numeric bounds to an inclusive integer range.
func intRange(lo, hi bound) (int64, int64, bool) {
	l, h := int64(math.MinInt64), int64(math.MaxInt64)
	if lo.set {
		n, ok := lo.v.number()
		if !ok {
			return 0, 0, false
		}
		if lo.incl {
			n = math.Ceil(n)
		} else {
			n = math.Floor(n) + 1
		}
		l = clampInt(n)
	}
	if hi.set {
		n, ok := hi.v.number()
		if !ok {
			return 0, 0, false
		}
		if hi.incl {
			n = math.Floor(n)
		} else {
			n = math.Ceil(n) - 1
		}
		h = clampInt(n)
	}
	return l, h, true
}

func clampInt(f float64) int64 {
	switch {
	case f >= math.MaxInt64:
		return math.MaxInt64
	case f <= math.MinInt64:
		return math.MinInt64
	}
	return int64(f)
}

// dateRange converts bounds to an inclusive range of Unix milliseconds,
// rounding date math as Elasticsearch does: gt and lte round up, gte and
// lt round down.
func (r *resolver) dateRange(lo, hi bound) (int64, int64, bool) {
	l, h := int64(math.MinInt64), int64(math.MaxInt64)
	if lo.set {
		ms, ok := lo.v.date(r.now, !lo.incl)
		if !ok {
			return 0, 0, false
		}
		if !lo.incl {
			ms++
		}
		l = ms
	}
	if hi.set {
		ms, ok := hi.v.date(r.now, hi.incl)
		if !ok {
			return 0, 0, false
		}
		if !hi.incl {
			ms--
		}
		h = ms
	}
	return l, h, true
}

func termRange(field string, lo, hi bound) *plan {
	p := &plan{op: opTermRange, field: field, boost: 1}
	if lo.set {
		p.hasLo, p.tlo, p.loIncl = true, lo.v.str, lo.incl
	}
	if hi.set {
		p.hasHi, p.thi, p.hiIncl = true, hi.v.str, hi.incl
	}
	if p.hasLo && p.hasHi && (p.tlo > p.thi || (p.tlo == p.thi && !(p.loIncl && p.hiIncl))) {
		return planNone()
	}
	return p
}

// exists resolves the documents holding field f (unscored: callers make
// it constant-scored).
func (r *resolver) exists(f fieldRef) (*plan, error) {
	switch f.kind {
	case fkAny, fkOffset, fkTimestamp, fkPartition, fkID:
		return planAll(), nil
	case fkKeyword:
		if f.keyword == fieldKey {
			return planTerm(fieldExists, "_key"), nil
		}
		name := strings.TrimSuffix(f.user, suffixKeyword)
		return planTerm(fieldExists, name), nil
	}
	return planOr(planTerm(fieldExists, f.user), &plan{op: opPrefix, field: fieldExists, term: f.user + ".", boost: 1}), nil
}

// normalizedPattern is a prefix or wildcard from query_string: on text
// fields its value is lowercased, as Elasticsearch normalises such terms.
type normalizedPattern struct {
	op           planOp
	field, value string
	boost        float64 // the score of a match (1 unless boosted with ^)
}

func (*normalizedPattern) isQuery() {}

// pattern resolves a prefix or wildcard query whose every match scores
// boost: Elasticsearch's default rewrite of multi-term queries
// (constant_score) gives each match the query's boost, however many
// terms of the document match.
func (r *resolver) pattern(op planOp, field, value string, boost float64, normalize bool) (*plan, error) {
	f := resolveField(field)
	var p *plan
	switch f.kind {
	case fkAny:
		// Specialised into one constant-score query over the fields
		// (Elasticsearch's query_string takes the best field's score,
		// which is the boost for each).
		return &plan{op: opAnyField, leaf: &normalizedPattern{op: op, value: value, boost: 1}, boost: boost}, nil
	case fkKeyword:
		p = &plan{op: op, field: f.keyword, term: value, boost: 1}
	case fkGeneral:
		if normalize {
			value = string(r.an.lowercase([]byte(value)))
		}
		p = &plan{op: op, field: f.text, term: value, boost: 1}
	default:
		return nil, illegalArgument("prefix and wildcard queries are not supported on [%s]", f.user)
	}
	if (op == opWildcard && strings.Trim(value, "*") == "") || (op == opPrefix && value == "") {
		// A pattern of only stars matches any term: the field exists.
		e, err := r.exists(f)
		if err != nil {
			return nil, err
		}
		p = e
	}
	return planConstant(p, boost), nil
}

func (r *resolver) boolQuery(q *BoolQuery) (*plan, error) {
	b, err := boostValue("bool", q.Boost)
	if err != nil {
		return nil, err
	}
	p := &plan{op: opBool, boost: 1}
	conv := func(qs []Query) ([]*plan, error) {
		out := make([]*plan, 0, len(qs))
		for _, c := range qs {
			cp, err := r.resolve(c)
			if err != nil {
				return nil, err
			}
			out = append(out, cp)
		}
		return out, nil
	}
	if p.must, err = conv(q.Must); err != nil {
		return nil, err
	}
	if p.filter, err = conv(q.Filter); err != nil {
		return nil, err
	}
	if p.should, err = conv(q.Should); err != nil {
		return nil, err
	}
	if p.mustNot, err = conv(q.MustNot); err != nil {
		return nil, err
	}
	def := 0
	if len(p.must) == 0 && len(p.filter) == 0 && len(p.should) > 0 {
		def = 1
	}
	if p.minShould, err = minimumShouldMatch(q.MinimumShouldMatch, len(p.should), def); err != nil {
		return nil, err
	}
	if p.minShould > len(p.should) {
		return planNone(), nil
	}
	if len(p.must)+len(p.filter)+len(p.should)+len(p.mustNot) == 0 {
		return withBoost(planAll(), b), nil
	}
	return withBoost(p, b), nil
}

// partView is what specialising a plan needs to know about one
// partition's index.
type partView struct {
	partition int32
	fields    map[string]bool // internal field names the index holds
	anyFields []string        // user-facing names an unfielded query searches
}

func newPartView(partition int32, internal []string) *partView {
	v := &partView{partition: partition, fields: make(map[string]bool, len(internal)), anyFields: anyFieldNames(internal)}
	for _, f := range internal {
		v.fields[f] = true
	}
	return v
}

// specialize prepares p for one partition's index: _partition conditions
// become all or none, leaves over every field expand over the partition's
// fields, leaves on fields the partition does not have become none, and
// the boolean structure is simplified.
func (r *resolver) specialize(p *plan, v *partView) (*plan, error) {
	switch p.op {
	case opPartition:
		if int64(v.partition) >= p.lo && int64(v.partition) <= p.hi {
			return planAll(), nil
		}
		return planNone(), nil
	case opAnyField:
		alts := make([]*plan, 0, len(v.anyFields))
		for _, f := range v.anyFields {
			leaf, err := r.resolve(withField(p.leaf, f))
			if err != nil {
				if _, ok := err.(*QueryError); ok {
					continue // lenient: a value that does not fit this field's type
				}
				return nil, err
			}
			alts = append(alts, leaf)
		}
		out := planOr(alts...)
		if _, ok := p.leaf.(*normalizedPattern); ok {
			// A prefix or wildcard over every field: each match scores
			// the boost once, whatever fields match.
			out = planConstant(out, p.boost)
		} else if out.op != opNone {
			out = scaled(out, p.boost)
		}
		return r.specialize(out, v)
	case opBool:
		return r.specializeBool(p, v)
	case opConstant:
		f, err := r.specialize(p.filter[0], v)
		if err != nil {
			return nil, err
		}
		switch f.op {
		case opNone:
			return f, nil
		case opAll:
			return &plan{op: opAll, boost: p.boost}, nil
		}
		return planConstant(f, p.boost), nil
	case opTerm, opPhrase, opRange, opTermRange, opPrefix, opWildcard:
		if !v.fields[p.field] {
			return planNone(), nil // no document of the partition has the field
		}
	}
	return p, nil
}

func (r *resolver) specializeBool(p *plan, v *partView) (*plan, error) {
	out := &plan{op: opBool, boost: p.boost, minShould: p.minShould}
	each := func(in []*plan) ([]*plan, error) {
		res := make([]*plan, 0, len(in))
		for _, c := range in {
			s, err := r.specialize(c, v)
			if err != nil {
				return nil, err
			}
			res = append(res, s)
		}
		return res, nil
	}
	var err error
	var must, filter, should, mustNot []*plan
	if must, err = each(p.must); err != nil {
		return nil, err
	}
	if filter, err = each(p.filter); err != nil {
		return nil, err
	}
	if should, err = each(p.should); err != nil {
		return nil, err
	}
	if mustNot, err = each(p.mustNot); err != nil {
		return nil, err
	}
	for _, c := range must {
		if c.op == opNone {
			return planNone(), nil
		}
	}
	for _, c := range filter {
		if c.op == opNone {
			return planNone(), nil
		}
	}
	for _, c := range mustNot {
		if c.op == opAll {
			return planNone(), nil
		}
	}
	out.must = must // kept even when "all": they add to the score
	out.filter = slices.DeleteFunc(filter, func(c *plan) bool { return c.op == opAll })
	out.mustNot = slices.DeleteFunc(mustNot, func(c *plan) bool { return c.op == opNone })
	out.should = slices.DeleteFunc(should, func(c *plan) bool { return c.op == opNone })
	if out.minShould > len(out.should) {
		return planNone(), nil
	}
	switch {
	case len(out.must)+len(out.filter)+len(out.should)+len(out.mustNot) == 0:
		// Every document matches. No must clause was given (they are
		// kept even when "all") and no should clause can match: the
		// document matched only filter-context clauses, which do not
		// score.
		return &plan{op: opAll, boost: 0}, nil
	case len(out.should) == 1 && out.minShould <= 1 && len(out.must)+len(out.filter)+len(out.mustNot) == 0:
		// One alternative left (typically of a value's typed
		// alternatives): the clause itself.
		return scaled(out.should[0], out.boost), nil
	case len(out.must) == 1 && len(out.filter)+len(out.should)+len(out.mustNot) == 0:
		return scaled(out.must[0], out.boost), nil
	}
	return out, nil
}

// constantScore reports whether every document p matches gets the same
// score: ranges, match_all and constant_score are constant-scored, and
// keyword-like terms are too (keyword fields have constant norms and a
// term frequency of 1, as Elasticsearch's keyword fields without norms).
// Then the best hits are simply the first ones in index order.
func (p *plan) constantScore() bool {
	switch p.op {
	case opAll, opRange, opTermRange, opConstant:
		return true
	case opTerm:
		return constantNormField(p.field)
	case opBool:
		return len(p.should) == 0 && len(p.must) <= 1 && (len(p.must) == 0 || p.must[0].constantScore())
	}
	return false
}

// fixedScore returns the score every document p matches gets when it is
// known without scoring: a match_all's, a range's (numeric or of terms)
// and a constant_score's is their boost (Lucene scores them with constant
// scorers), and a bool
// without should clauses whose must clauses all have fixed scores scores
// their sum times its boost: 0 for filter and must_not clauses alone.
func (p *plan) fixedScore() (float64, bool) {
	switch p.op {
	case opAll, opRange, opTermRange, opConstant:
		return p.boost, true
	case opBool:
		if len(p.should) > 0 {
			return 0, false
		}
		sum := 0.0
		for _, c := range p.must {
			s, ok := c.fixedScore()
			if !ok {
				return 0, false
			}
			sum += s
		}
		return sum * p.boost, true
	}
	return 0, false
}

// constantNormField reports whether an internal field holds exact terms
// whose norm does not depend on the document: keywords, booleans, keys
// and the exists markers.
func constantNormField(field string) bool {
	return strings.HasSuffix(field, suffixKeyword) || strings.HasSuffix(field, suffixBool) ||
		field == fieldKey || field == fieldExists
}

// withField returns a copy of leaf q addressed to field, without its
// boost: the any-field plan holding the leaf applies the boost once to
// the whole expansion.
func withField(q Query, field string) Query {
	switch q := q.(type) {
	case *MatchQuery:
		c := *q
		c.Field, c.Boost = field, nil
		return &c
	case *MatchPhraseQuery:
		c := *q
		c.Field, c.Boost = field, nil
		return &c
	case *TermQuery:
		c := *q
		c.Field, c.Boost = field, nil
		return &c
	case *RangeQuery:
		c := *q
		c.Field, c.Boost = field, nil
		return &c
	case *normalizedPattern:
		c := *q
		c.field, c.boost = field, 1
		return &c
	}
	return q
}

// anyFieldNames returns the user-facing base names behind a partition's
// internal field names: what an unfielded query string searches
// (text, number, date and boolean fields; not keywords or metadata other
// than _value and headers).
func anyFieldNames(internal []string) []string {
	seen := make(map[string]bool, len(internal))
	var out []string
	for _, n := range internal {
		base := n
		for _, suf := range []string{suffixNumber, suffixDate, suffixBool} {
			base = strings.TrimSuffix(base, suf)
		}
		switch {
		case base == fieldKey || base == fieldTimestamp || base == fieldOffset || base == fieldExists || n == "" || n == "_id":
			continue
		case strings.HasSuffix(base, suffixKeyword) && base == n:
			continue
		}
		user := userName(base)
		if !seen[user] {
			seen[user] = true
			out = append(out, user)
		}
	}
	slices.Sort(out)
	return out
}
