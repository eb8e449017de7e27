package index

// Query is a search query: one of the *Query types below, which follow
// Elasticsearch's query DSL (ParseQuery reads that JSON into them). Field
// names are dotted paths into JSON values ("user.id"), "<field>.keyword"
// for the exact string, or record metadata: _key, _timestamp, _offset,
// _partition, _headers.<name>, _value (non-JSON values), _id.
//
// Every Boost field multiplies the query's score, as Elasticsearch's boost
// does: nil (the zero value) means the default, 1.0; Boost(0) scores
// every match 0 (the documents still match); a negative boost is refused
// by Search with a *QueryError, as Elasticsearch (7.0 and later) refuses
// it.
type Query interface{ isQuery() }

// Boost returns a pointer to b, for the Boost field of a query:
// &TermQuery{Field: "level", Value: "error", Boost: Boost(2)}.
func Boost(b float64) *float64 { return &b }

// MatchAllQuery matches every document, each scoring its Boost (default
// 1).
type MatchAllQuery struct{ Boost *float64 }

// MatchNoneQuery matches no document.
type MatchNoneQuery struct{}

// MatchQuery is a full-text query: Query is analysed like the field's text
// and matches documents holding any of its words (Operator "or", the
// default) or all of them ("and"). On keyword fields it is an exact match;
// a numeric, boolean or date Query also matches such values.
type MatchQuery struct {
	Field, Query string
	Operator     string // "or" (default) or "and"
	// MinimumShouldMatch is how many words must match with "or": "2",
	// "-1", "75%", "-25%"; empty means 1.
	MinimumShouldMatch string
	Boost              *float64
}

// MatchPhraseQuery matches documents holding Query's words in order, at
// most Slop positions out of place.
type MatchPhraseQuery struct {
	Field, Query string
	Slop         int
	Boost        *float64
}

// TermQuery matches an exact value, not analysed: a string (a word of a
// text field, or a whole keyword), a number (float64, int or int64), a
// bool, or a date string on date fields.
type TermQuery struct {
	Field string
	Value any
	Boost *float64
}

// TermsQuery matches any of several exact values. Every match scores
// Boost (default 1), however many of the values it holds: Elasticsearch
// runs terms as a constant-score query (Lucene's TermInSetQuery).
type TermsQuery struct {
	Field  string
	Values []any
	Boost  *float64
}

// RangeQuery matches numbers, dates (RFC 3339 strings, date math such as
// "now-15m", or epoch milliseconds for date fields) or keyword strings
// within bounds; nil bounds are open (both nil: an ExistsQuery). Every
// match scores Boost (default 1), as Lucene's range queries are
// constant-scored.
type RangeQuery struct {
	Field            string
	GT, GTE, LT, LTE any
	Boost            *float64
}

// ExistsQuery matches documents with any non-null value for Field (or, for
// an object, for any field under it). Every match scores Boost (default
// 1): Elasticsearch's exists query is a constant-score query.
type ExistsQuery struct {
	Field string
	Boost *float64
}

// PrefixQuery matches terms that start with Value (not analysed). Every
// match scores Boost (default 1), as with Elasticsearch's default rewrite
// of multi-term queries (constant_score).
type PrefixQuery struct {
	Field, Value string
	Boost        *float64
}

// WildcardQuery matches terms against a pattern where * is any sequence
// and ? any one character (not analysed). Every match scores Boost
// (default 1), as with Elasticsearch's default rewrite of multi-term
// queries (constant_score).
type WildcardQuery struct {
	Field, Value string
	Boost        *float64
}

// IDsQuery matches documents by id ("<partition>-<offset>"), each scoring
// Boost (default 1).
type IDsQuery struct {
	Values []string
	Boost  *float64
}

// BoolQuery combines queries: documents must match every Must and Filter
// query and no MustNot query; Should queries add to the score and, when
// there is no Must or Filter, at least one must match (or
// MinimumShouldMatch of them). Filter and MustNot do not score: a
// document's score is the sum of its matching Must and Should clauses'
// scores, times Boost, so a bool of only Filter and MustNot clauses
// scores 0, as in Elasticsearch.
type BoolQuery struct {
	Must, Filter, Should, MustNot []Query
	MinimumShouldMatch            string
	Boost                         *float64
}

// ConstantScoreQuery matches the documents Filter matches (every document
// for a nil Filter) and gives each the score Boost (default 1), as
// Elasticsearch's constant_score does: Filter runs in filter context and
// is not scored.
type ConstantScoreQuery struct {
	Filter Query
	Boost  *float64
}

// QueryStringQuery is a query in Lucene syntax: field:value, AND/OR/NOT,
// +/-, quotes for phrases, parentheses, ranges ([a TO b], {a TO b},
// field:>5), wildcards (* and ?) and ^boost. Terms without a field search
// DefaultField, or every text field when it is empty or "*".
type QueryStringQuery struct {
	Query           string
	DefaultField    string
	DefaultOperator string // "or" (default) or "and"
	Boost           *float64
}

func (*MatchAllQuery) isQuery()      {}
func (*MatchNoneQuery) isQuery()     {}
func (*MatchQuery) isQuery()         {}
func (*MatchPhraseQuery) isQuery()   {}
func (*TermQuery) isQuery()          {}
func (*TermsQuery) isQuery()         {}
func (*RangeQuery) isQuery()         {}
func (*ExistsQuery) isQuery()        {}
func (*PrefixQuery) isQuery()        {}
func (*WildcardQuery) isQuery()      {}
func (*IDsQuery) isQuery()           {}
func (*BoolQuery) isQuery()          {}
func (*ConstantScoreQuery) isQuery() {}
func (*QueryStringQuery) isQuery()   {}
