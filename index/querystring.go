package index

import (
	"fmt"
	"strconv"
	"strings"
)

// parseQueryString parses Lucene query syntax into a Query.
//
// Grammar (as Elasticsearch's query_string reads it, with ordinary
// precedence: NOT binds tightest, then AND, then OR):
//
//	query   := clause { [AND | && | OR | ||] clause }   juxtaposition = DefaultOperator
//	clause  := [+ | - | ! | NOT] [field ':'] primary ['^' number]
//	primary := word | word* | wild?card | '"' phrase '"' ['~' slop]
//	         | '[' from TO to ']' (or '{', '}' for exclusive ends; '*' open)
//	         | ('>' | '>=' | '<' | '<=') value | '(' query ')'
//
// A run of clauses joined by AND is one conjunction (+ and plain clauses
// required, - and NOT clauses excluded); conjunctions joined by OR are
// alternatives. At the top of an OR, a lone +clause is required and a
// lone -clause excluded, so "+a -b c" means a, not b, c optional, as in
// Lucene. A query of only exclusions matches everything else. A word is a
// match query on its field, so it is analysed like the field; words with *
// or ? are wildcard queries, lowercased for text fields. "field:*" is an
// exists query and "*" alone matches all. Fuzzy (~ after a word) and
// regular expressions are refused. "_exists_:field" is an exists query.
func parseQueryString(q *QueryStringQuery) (Query, error) {
	p := &qsParser{s: q.Query, defField: q.DefaultField}
	switch strings.ToLower(q.DefaultOperator) {
	case "", "or":
	case "and":
		p.defAnd = true
	default:
		return nil, parsingError("[query_string] unknown default_operator [%s]", q.DefaultOperator)
	}
	if strings.TrimSpace(q.Query) == "" {
		return &MatchNoneQuery{}, nil
	}
	out, err := p.expr(p.defField, 0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos < len(p.s) {
		return nil, p.errorf("unexpected [%c]", p.s[p.pos])
	}
	return out, nil
}

// maxQueryDepth bounds nested parentheses.
const maxQueryDepth = 100

type qsParser struct {
	s        string
	pos      int
	defField string
	defAnd   bool
}

type qsOp uint8

const (
	qsJuxt qsOp = iota
	qsAnd
	qsOr
)

type qsMod uint8

const (
	modNone qsMod = iota
	modMust
	modNot
)

type qsClause struct {
	op  qsOp // operator before the clause
	mod qsMod
	q   Query
}

func (p *qsParser) errorf(format string, args ...any) error {
	return parsingError("Failed to parse query [%s]: %s at position %d", p.s, fmtArgs(format, args...), p.pos)
}

func fmtArgs(format string, args ...any) string {
	if len(args) == 0 {
		return format
	}
	return fmt.Sprintf(format, args...)
}

func (p *qsParser) skipSpace() {
	for p.pos < len(p.s) && isSpace(p.s[p.pos]) {
		p.pos++
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// keyword reports whether the input continues with the operator word kw
// followed by a separator, consuming it if so.
func (p *qsParser) keyword(kw string) bool {
	if !strings.HasPrefix(p.s[p.pos:], kw) {
		return false
	}
	end := p.pos + len(kw)
	if kw == "&&" || kw == "||" {
		p.pos = end
		return true
	}
	if end < len(p.s) && !isSpace(p.s[end]) && p.s[end] != '(' {
		return false
	}
	p.pos = end
	return true
}

func (p *qsParser) expr(field string, depth int) (Query, error) {
	if depth > maxQueryDepth {
		return nil, p.errorf("too deeply nested")
	}
	var clauses []qsClause
	for {
		p.skipSpace()
		if p.pos >= len(p.s) || p.s[p.pos] == ')' {
			break
		}
		op := qsJuxt
		switch {
		case p.keyword("AND"), p.keyword("&&"):
			op = qsAnd
		case p.keyword("OR"), p.keyword("||"):
			op = qsOr
		}
		if op != qsJuxt {
			if len(clauses) == 0 {
				return nil, p.errorf("operator without a left operand")
			}
			p.skipSpace()
		}
		mod := modNone
		switch {
		case p.pos < len(p.s) && p.s[p.pos] == '+':
			mod = modMust
			p.pos++
		case p.pos < len(p.s) && (p.s[p.pos] == '-' || p.s[p.pos] == '!'):
			mod = modNot
			p.pos++
		case p.keyword("NOT"):
			mod = modNot
			p.skipSpace()
		}
		if p.pos >= len(p.s) || p.s[p.pos] == ')' {
			return nil, p.errorf("missing operand")
		}
		q, err := p.clause(field, depth)
		if err != nil {
			return nil, err
		}
		clauses = append(clauses, qsClause{op: op, mod: mod, q: q})
	}
	if len(clauses) == 0 {
		return nil, p.errorf("empty query")
	}
	return p.combine(clauses), nil
}

// combine applies precedence: conjunctions (runs joined by AND) joined by
// OR.
func (p *qsParser) combine(clauses []qsClause) Query {
	var groups [][]qsClause
	for i, c := range clauses {
		or := c.op == qsOr || (c.op == qsJuxt && !p.defAnd)
		if i == 0 || or {
			groups = append(groups, nil)
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], c)
	}
	conj := func(g []qsClause) *BoolQuery {
		b := &BoolQuery{}
		for _, c := range g {
			if c.mod == modNot {
				b.MustNot = append(b.MustNot, c.q)
			} else {
				b.Must = append(b.Must, c.q)
			}
		}
		return b
	}
	if len(groups) == 1 {
		g := groups[0]
		if len(g) == 1 && g[0].mod != modNot {
			return g[0].q
		}
		return conj(g)
	}
	top := &BoolQuery{}
	for _, g := range groups {
		if len(g) == 1 {
			switch g[0].mod {
			case modMust:
				top.Must = append(top.Must, g[0].q)
				continue
			case modNot:
				top.MustNot = append(top.MustNot, g[0].q)
				continue
			}
			top.Should = append(top.Should, g[0].q)
			continue
		}
		top.Should = append(top.Should, conj(g))
	}
	return top
}

func (p *qsParser) clause(field string, depth int) (Query, error) {
	start := p.pos
	// A field name is a word followed by an unescaped ':'.
	if p.s[p.pos] != '(' && p.s[p.pos] != '"' && p.s[p.pos] != '[' && p.s[p.pos] != '{' {
		w, _, err := p.word(false)
		if err != nil {
			return nil, err
		}
		if p.pos < len(p.s) && p.s[p.pos] == ':' && w != "" {
			p.pos++
			field = w
			if field == "*" {
				field = ""
			}
			if p.pos >= len(p.s) || isSpace(p.s[p.pos]) {
				return nil, p.errorf("missing value for field [%s]", w)
			}
		} else {
			p.pos = start
		}
	}
	var q Query
	var err error
	if field == "_exists_" {
		// Elasticsearch's query_string shorthand for an exists query.
		w, _, werr := p.word(true)
		if werr != nil {
			return nil, werr
		}
		if w == "" {
			return nil, p.errorf("missing field name after _exists_")
		}
		q = &ExistsQuery{Field: w}
	} else if q, err = p.primary(field, depth); err != nil {
		return nil, err
	}
	if p.pos < len(p.s) && p.s[p.pos] == '^' {
		p.pos++
		b, err := p.number()
		if err != nil {
			return nil, err
		}
		q = boosted(q, b)
	}
	return q, nil
}

func (p *qsParser) number() (float64, error) {
	start := p.pos
	for p.pos < len(p.s) && (p.s[p.pos] == '.' || (p.s[p.pos] >= '0' && p.s[p.pos] <= '9')) {
		p.pos++
	}
	f, err := strconv.ParseFloat(p.s[start:p.pos], 64)
	if err != nil {
		return 0, p.errorf("expected a number")
	}
	return f, nil
}

// boosted multiplies q's boost by b (clause^b), as Lucene wraps the
// clause in a BoostQuery: b = 0 scores the clause 0, and boosts of nested
// groups multiply.
func boosted(q Query, b float64) Query {
	mul := func(cur *float64) *float64 {
		if cur == nil {
			return Boost(b)
		}
		return Boost(*cur * b)
	}
	switch q := q.(type) {
	case *MatchQuery:
		q.Boost = mul(q.Boost)
	case *MatchPhraseQuery:
		q.Boost = mul(q.Boost)
	case *RangeQuery:
		q.Boost = mul(q.Boost)
	case *ExistsQuery:
		q.Boost = mul(q.Boost)
	case *normalizedPattern:
		q.boost *= b
	case *BoolQuery:
		q.Boost = mul(q.Boost)
	case *MatchAllQuery:
		q.Boost = mul(q.Boost)
	}
	return q
}

func (p *qsParser) primary(field string, depth int) (Query, error) {
	c := p.s[p.pos]
	switch c {
	case '(':
		p.pos++
		q, err := p.expr(field, depth+1)
		if err != nil {
			return nil, err
		}
		if p.pos >= len(p.s) || p.s[p.pos] != ')' {
			return nil, p.errorf("missing )")
		}
		p.pos++
		return q, nil
	case '"':
		text, err := p.quoted()
		if err != nil {
			return nil, err
		}
		slop := 0
		if p.pos < len(p.s) && p.s[p.pos] == '~' {
			p.pos++
			n, err := p.number()
			if err != nil {
				return nil, err
			}
			slop = int(n)
		}
		return &MatchPhraseQuery{Field: field, Query: text, Slop: slop}, nil
	case '[', '{':
		return p.rangeExpr(field)
	case '>', '<':
		return p.comparison(field)
	case '/':
		return nil, p.errorf("regular expressions are not supported")
	}
	w, wild, err := p.word(true)
	if err != nil {
		return nil, err
	}
	if w == "" {
		return nil, p.errorf("unexpected [%c]", c)
	}
	if p.pos < len(p.s) && p.s[p.pos] == '~' {
		return nil, p.errorf("fuzzy queries are not supported")
	}
	if wild {
		if strings.Trim(w, "*") == "" {
			if field == "" {
				return &MatchAllQuery{}, nil
			}
			return &normalizedPattern{op: opWildcard, field: field, value: "*", boost: 1}, nil // exists
		}
		if i := strings.IndexAny(w, "*?"); i == len(w)-1 && w[i] == '*' {
			return &normalizedPattern{op: opPrefix, field: field, value: w[:i], boost: 1}, nil
		}
		return &normalizedPattern{op: opWildcard, field: field, value: w, boost: 1}, nil
	}
	op := "or"
	if p.defAnd {
		op = "and"
	}
	return &MatchQuery{Field: field, Query: w, Operator: op}, nil
}

// word reads an unquoted term, resolving backslash escapes. wild reports
// an unescaped * or ?. A value (inValue) may contain ':'; a possible field
// name stops there.
func (p *qsParser) word(inValue bool) (w string, wild bool, err error) {
	var b strings.Builder
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		switch {
		case c == '\\':
			if p.pos+1 >= len(p.s) {
				return "", false, p.errorf("escape at end of query")
			}
			b.WriteByte(p.s[p.pos+1])
			p.pos += 2
			continue
		case isSpace(c) || c == '(' || c == ')' || c == '"' || c == '^' || c == '~' ||
			c == '[' || c == ']' || c == '{' || c == '}':
			return b.String(), wild, nil
		case c == ':' && !inValue:
			return b.String(), wild, nil
		case c == '*' || c == '?':
			wild = true
		}
		b.WriteByte(c)
		p.pos++
	}
	return b.String(), wild, nil
}

func (p *qsParser) quoted() (string, error) {
	p.pos++ // opening quote
	var b strings.Builder
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		switch c {
		case '\\':
			if p.pos+1 < len(p.s) {
				b.WriteByte(p.s[p.pos+1])
				p.pos += 2
				continue
			}
		case '"':
			p.pos++
			return b.String(), nil
		}
		b.WriteByte(c)
		p.pos++
	}
	return "", p.errorf("unterminated quote")
}

// rangeValue reads one end of a range: quoted, or a word; "*" is open.
func (p *qsParser) rangeValue() (any, error) {
	p.skipSpace()
	if p.pos >= len(p.s) {
		return nil, p.errorf("unterminated range")
	}
	if p.s[p.pos] == '"' {
		s, err := p.quoted()
		return s, err
	}
	start := p.pos
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		if isSpace(c) || c == ']' || c == '}' {
			break
		}
		if c == '\\' && p.pos+1 < len(p.s) {
			p.pos++
		}
		p.pos++
	}
	v := unescape(p.s[start:p.pos])
	if v == "*" {
		return nil, nil
	}
	if v == "" {
		return nil, p.errorf("empty range bound")
	}
	return v, nil
}

func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func (p *qsParser) rangeExpr(field string) (Query, error) {
	loIncl := p.s[p.pos] == '['
	p.pos++
	lo, err := p.rangeValue()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if !strings.HasPrefix(p.s[p.pos:], "TO") {
		return nil, p.errorf("expected TO in range")
	}
	p.pos += 2
	hi, err := p.rangeValue()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos >= len(p.s) || (p.s[p.pos] != ']' && p.s[p.pos] != '}') {
		return nil, p.errorf("unterminated range")
	}
	hiIncl := p.s[p.pos] == ']'
	p.pos++
	if field == "" {
		return nil, p.errorf("a range needs a field")
	}
	r := &RangeQuery{Field: field}
	if lo != nil {
		if loIncl {
			r.GTE = lo
		} else {
			r.GT = lo
		}
	}
	if hi != nil {
		if hiIncl {
			r.LTE = hi
		} else {
			r.LT = hi
		}
	}
	return r, nil
}

func (p *qsParser) comparison(field string) (Query, error) {
	op := p.s[p.pos : p.pos+1]
	p.pos++
	if p.pos < len(p.s) && p.s[p.pos] == '=' {
		op += "="
		p.pos++
	}
	if p.pos >= len(p.s) || isSpace(p.s[p.pos]) {
		return nil, p.errorf("missing value after %s", op)
	}
	var v string
	if p.s[p.pos] == '"' {
		s, err := p.quoted()
		if err != nil {
			return nil, err
		}
		v = s
	} else {
		w, _, err := p.word(true)
		if err != nil {
			return nil, err
		}
		v = w
	}
	if v == "" {
		return nil, p.errorf("missing value after %s", op)
	}
	if field == "" {
		return nil, p.errorf("a range needs a field")
	}
	r := &RangeQuery{Field: field}
	switch op {
	case ">":
		r.GT = v
	case ">=":
		r.GTE = v
	case "<":
		r.LT = v
	case "<=":
		r.LTE = v
	}
	return r, nil
}
