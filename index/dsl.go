package index

import (
	"bytes"
	"encoding/json"
	"io"
	"sort"
	"strconv"
	"strings"
)

// SearchBody is a parsed search request body.
type SearchBody struct {
	Request Request
	// Source is false when the body asks for no _source ("_source":
	// false).
	Source bool
}

// ParseSearchBody reads an Elasticsearch search request body: query,
// from, size, sort, _source (true or false) and track_total_hits (totals
// are always exact). An empty body is a match_all with size 10. Anything
// else is a *QueryError, never silently ignored.
func ParseSearchBody(body []byte) (*SearchBody, error) {
	out := &SearchBody{Request: Request{Size: 10}, Source: true}
	if len(bytes.TrimSpace(body)) == 0 {
		return out, nil
	}
	v, err := decodeJSON(body)
	if err != nil {
		return nil, err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, parsingError("request body must be a JSON object")
	}
	for _, k := range sortedKeys(obj) {
		val := obj[k]
		switch k {
		case "query":
			q, err := ParseQuery(val)
			if err != nil {
				return nil, err
			}
			out.Request.Query = q
		case "from":
			n, err := intParam("from", val)
			if err != nil {
				return nil, err
			}
			out.Request.From = n
		case "size":
			n, err := intParam("size", val)
			if err != nil {
				return nil, err
			}
			out.Request.Size = n
		case "sort":
			s, err := parseSort(val)
			if err != nil {
				return nil, err
			}
			out.Request.Sort = s
		case "_source":
			b, ok := val.(bool)
			if !ok {
				return nil, parsingError("[_source] supports only true or false")
			}
			out.Source = b
		case "track_total_hits":
			switch val.(type) {
			case bool, json.Number:
			default:
				return nil, parsingError("[track_total_hits] must be a boolean or a number")
			}
		default:
			return nil, parsingError("Unknown key [%s] in the search request", k)
		}
	}
	return out, nil
}

func decodeJSON(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, parsingError("failed to parse the request body as JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, parsingError("unexpected data after the JSON body")
	}
	return v, nil
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func intParam(name string, v any) (int, error) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = x
	default:
		return 0, parsingError("[%s] must be an integer", name)
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, parsingError("[%s] must be an integer, got [%s]", name, s)
	}
	return n, nil
}

func floatParam(name string, v any) (float64, error) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		if err == nil {
			return f, nil
		}
	case string:
		f, err := strconv.ParseFloat(x, 64)
		if err == nil {
			return f, nil
		}
	}
	return 0, parsingError("[%s] must be a number", name)
}

func stringParam(name string, v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case json.Number:
		return x.String(), nil
	case bool:
		return strconv.FormatBool(x), nil
	}
	return "", parsingError("[%s] must be a string", name)
}

// parseSort reads Elasticsearch sort specs: "field", {"field": "desc"},
// {"field": {"order": "desc"}}, or an array of them. "_score" sorts
// descending unless told otherwise, fields ascending.
func parseSort(v any) ([]SortField, error) {
	items, ok := v.([]any)
	if !ok {
		items = []any{v}
	}
	var out []SortField
	for _, it := range items {
		switch x := it.(type) {
		case string:
			out = append(out, SortField{Field: x, Desc: x == "_score"})
		case map[string]any:
			if len(x) != 1 {
				return nil, parsingError("[sort] each sort object must name exactly one field")
			}
			for field, spec := range x {
				sf := SortField{Field: field, Desc: field == "_score"}
				switch s := spec.(type) {
				case string:
					d, err := sortOrder(s)
					if err != nil {
						return nil, err
					}
					sf.Desc = d
				case map[string]any:
					for _, k := range sortedKeys(s) {
						switch k {
						case "order":
							o, err := stringParam("order", s[k])
							if err != nil {
								return nil, err
							}
							d, err := sortOrder(o)
							if err != nil {
								return nil, err
							}
							sf.Desc = d
						case "missing":
							if m, _ := s[k].(string); m != "_last" {
								return nil, parsingError("[sort] only \"missing\": \"_last\" is supported")
							}
						default:
							return nil, parsingError("[sort] option [%s] is not supported", k)
						}
					}
				default:
					return nil, parsingError("[sort] malformed sort of [%s]", field)
				}
				out = append(out, sf)
			}
		default:
			return nil, parsingError("[sort] malformed sort")
		}
	}
	return out, nil
}

func sortOrder(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "asc":
		return false, nil
	case "desc":
		return true, nil
	}
	return false, parsingError("[sort] unknown order [%s]: use asc or desc", s)
}

// ParseQuery reads one Elasticsearch query from decoded JSON (as
// encoding/json produces with UseNumber, or plain float64 numbers): an
// object with exactly one key naming the query type. Supported: match_all,
// match_none, match, match_phrase, term, terms, range, exists, prefix,
// wildcard, ids, bool, query_string, constant_score. Unknown query types
// and parameters are *QueryErrors. A "boost" absent leaves the query's
// Boost nil (1.0); an explicit 0 is kept as 0; a negative one is a
// *QueryError (parsing_exception), as Elasticsearch refuses it.
func ParseQuery(v any) (Query, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, parsingError("query must be a JSON object")
	}
	if len(obj) != 1 {
		return nil, parsingError("query malformed: expected one query type, found %d keys", len(obj))
	}
	for typ, body := range obj {
		return parseQueryType(typ, body)
	}
	panic("unreachable")
}

func parseQueryType(typ string, body any) (Query, error) {
	switch typ {
	case "match_all":
		m, err := params(typ, body, "boost")
		if err != nil {
			return nil, err
		}
		q := &MatchAllQuery{}
		q.Boost, err = optBoost(typ, m)
		return q, err
	case "match_none":
		// Elasticsearch takes a boost here too; nothing matches, so it
		// is only checked.
		m, err := params(typ, body, "boost")
		if err != nil {
			return nil, err
		}
		if _, err := optBoost(typ, m); err != nil {
			return nil, err
		}
		return &MatchNoneQuery{}, nil
	case "match":
		field, m, err := fieldQuery(typ, body, "query", "operator", "minimum_should_match", "boost")
		if err != nil {
			return nil, err
		}
		q := &MatchQuery{Field: field}
		if q.Query, err = reqString(typ, m, "query"); err != nil {
			return nil, err
		}
		if q.Operator, err = optString(m, "operator"); err != nil {
			return nil, err
		}
		if q.MinimumShouldMatch, err = optString(m, "minimum_should_match"); err != nil {
			return nil, err
		}
		q.Boost, err = optBoost(typ, m)
		return q, err
	case "match_phrase":
		field, m, err := fieldQuery(typ, body, "query", "slop", "boost")
		if err != nil {
			return nil, err
		}
		q := &MatchPhraseQuery{Field: field}
		if q.Query, err = reqString(typ, m, "query"); err != nil {
			return nil, err
		}
		if s, ok := m["slop"]; ok {
			if q.Slop, err = intParam("slop", s); err != nil {
				return nil, err
			}
		}
		q.Boost, err = optBoost(typ, m)
		return q, err
	case "term":
		field, m, err := fieldQuery(typ, body, "value", "boost")
		if err != nil {
			return nil, err
		}
		val, ok := m["value"]
		if !ok {
			return nil, parsingError("[term] query on [%s] has no value", field)
		}
		q := &TermQuery{Field: field, Value: val}
		q.Boost, err = optBoost(typ, m)
		return q, err
	case "terms":
		m, ok := body.(map[string]any)
		if !ok {
			return nil, parsingError("[terms] query malformed")
		}
		q := &TermsQuery{}
		for _, k := range sortedKeys(m) {
			if k == "boost" {
				b, err := optBoost(typ, m)
				if err != nil {
					return nil, err
				}
				q.Boost = b
				continue
			}
			if q.Field != "" {
				return nil, parsingError("[terms] query does not support multiple fields")
			}
			vals, ok := m[k].([]any)
			if !ok {
				return nil, parsingError("[terms] query on [%s] needs an array of values", k)
			}
			q.Field, q.Values = k, vals
		}
		if q.Field == "" {
			return nil, parsingError("[terms] query requires a field")
		}
		return q, nil
	case "range":
		m, ok := body.(map[string]any)
		if !ok || len(m) != 1 {
			return nil, parsingError("[range] query malformed: expected one field")
		}
		for field, spec := range m {
			sm, ok := spec.(map[string]any)
			if !ok {
				return nil, parsingError("[range] query on [%s] malformed", field)
			}
			q := &RangeQuery{Field: field}
			for _, k := range sortedKeys(sm) {
				switch k {
				case "gt":
					q.GT = sm[k]
				case "gte", "from":
					q.GTE = sm[k]
				case "lt":
					q.LT = sm[k]
				case "lte", "to":
					q.LTE = sm[k]
				case "boost":
					b, err := optBoost(typ, sm)
					if err != nil {
						return nil, err
					}
					q.Boost = b
				default:
					return nil, parsingError("[range] query does not support [%s]", k)
				}
			}
			return q, nil
		}
	case "exists":
		m, err := params(typ, body, "field", "boost")
		if err != nil {
			return nil, err
		}
		q := &ExistsQuery{}
		if q.Field, err = reqString(typ, m, "field"); err != nil {
			return nil, err
		}
		q.Boost, err = optBoost(typ, m)
		return q, err
	case "prefix", "wildcard":
		field, m, err := fieldQuery(typ, body, "value", "wildcard", "boost")
		if err != nil {
			return nil, err
		}
		val, err := optString(m, "value")
		if err != nil {
			return nil, err
		}
		if w, err := optString(m, "wildcard"); err != nil {
			return nil, err
		} else if w != "" {
			val = w
		}
		b, err := optBoost(typ, m)
		if err != nil {
			return nil, err
		}
		if typ == "prefix" {
			return &PrefixQuery{Field: field, Value: val, Boost: b}, nil
		}
		return &WildcardQuery{Field: field, Value: val, Boost: b}, nil
	case "ids":
		m, err := params(typ, body, "values", "boost")
		if err != nil {
			return nil, err
		}
		vals, ok := m["values"].([]any)
		if !ok {
			return nil, parsingError("[ids] query needs an array of values")
		}
		q := &IDsQuery{}
		for _, v := range vals {
			s, err := stringParam("values", v)
			if err != nil {
				return nil, err
			}
			q.Values = append(q.Values, s)
		}
		q.Boost, err = optBoost(typ, m)
		return q, err
	case "bool":
		return parseBool(body)
	case "constant_score":
		m, err := params(typ, body, "filter", "boost")
		if err != nil {
			return nil, err
		}
		f, ok := m["filter"]
		if !ok {
			return nil, parsingError("[constant_score] requires a filter")
		}
		fq, err := ParseQuery(f)
		if err != nil {
			return nil, err
		}
		b, err := optBoost(typ, m)
		if err != nil {
			return nil, err
		}
		return &ConstantScoreQuery{Filter: fq, Boost: b}, nil
	case "query_string":
		m, err := params(typ, body, "query", "default_field", "default_operator", "boost")
		if err != nil {
			return nil, err
		}
		q := &QueryStringQuery{}
		if q.Query, err = reqString(typ, m, "query"); err != nil {
			return nil, err
		}
		if q.DefaultField, err = optString(m, "default_field"); err != nil {
			return nil, err
		}
		if q.DefaultOperator, err = optString(m, "default_operator"); err != nil {
			return nil, err
		}
		q.Boost, err = optBoost(typ, m)
		return q, err
	}
	return nil, parsingError("unknown query [%s]", typ)
}

// params checks that body is an object using only the allowed keys.
func params(typ string, body any, allowed ...string) (map[string]any, error) {
	m, ok := body.(map[string]any)
	if !ok {
		return nil, parsingError("[%s] query malformed: expected an object", typ)
	}
	for k := range m {
		found := false
		for _, a := range allowed {
			if k == a {
				found = true
			}
		}
		if !found {
			return nil, parsingError("[%s] query does not support [%s]", typ, k)
		}
	}
	return m, nil
}

// fieldQuery reads the {"field": value} or {"field": {params}} form; the
// short form puts the value under the first allowed key.
func fieldQuery(typ string, body any, allowed ...string) (string, map[string]any, error) {
	m, ok := body.(map[string]any)
	if !ok || len(m) != 1 {
		return "", nil, parsingError("[%s] query malformed: expected one field", typ)
	}
	for field, spec := range m {
		if sm, ok := spec.(map[string]any); ok {
			p, err := params(typ, sm, allowed...)
			return field, p, err
		}
		return field, map[string]any{allowed[0]: spec}, nil
	}
	panic("unreachable")
}

func reqString(typ string, m map[string]any, key string) (string, error) {
	v, ok := m[key]
	if !ok {
		return "", parsingError("[%s] query requires [%s]", typ, key)
	}
	return stringParam(key, v)
}

func optString(m map[string]any, key string) (string, error) {
	v, ok := m[key]
	if !ok {
		return "", nil
	}
	return stringParam(key, v)
}

// optBoost reads the "boost" of a typ query: nil when absent (the
// default, 1.0), else a finite number that is not negative.
// Elasticsearch (7.0 and later) refuses negative boosts while parsing,
// -0.0 included (its check is Float.compare(boost, 0f) < 0).
func optBoost(typ string, m map[string]any) (*float64, error) {
	v, ok := m["boost"]
	if !ok {
		return nil, nil
	}
	b, err := floatParam("boost", v)
	if err != nil {
		return nil, err
	}
	if reason := boostProblem(typ, b); reason != "" {
		return nil, parsingError("%s", reason)
	}
	return &b, nil
}

func parseBool(body any) (Query, error) {
	m, err := params("bool", body, "must", "filter", "should", "must_not", "minimum_should_match", "boost")
	if err != nil {
		return nil, err
	}
	q := &BoolQuery{}
	clauses := func(key string) ([]Query, error) {
		v, ok := m[key]
		if !ok {
			return nil, nil
		}
		items, isArr := v.([]any)
		if !isArr {
			items = []any{v}
		}
		out := make([]Query, 0, len(items))
		for _, it := range items {
			c, err := ParseQuery(it)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
		return out, nil
	}
	if q.Must, err = clauses("must"); err != nil {
		return nil, err
	}
	if q.Filter, err = clauses("filter"); err != nil {
		return nil, err
	}
	if q.Should, err = clauses("should"); err != nil {
		return nil, err
	}
	if q.MustNot, err = clauses("must_not"); err != nil {
		return nil, err
	}
	if v, ok := m["minimum_should_match"]; ok {
		if q.MinimumShouldMatch, err = stringParam("minimum_should_match", v); err != nil {
			return nil, err
		}
	}
	q.Boost, err = optBoost("bool", m)
	return q, err
}

// sortParam parses the URL form of sort: "field:desc,other,_score".
func sortParam(s string) ([]SortField, error) {
	var out []SortField
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		field, order, hasOrder := strings.Cut(item, ":")
		sf := SortField{Field: field, Desc: field == "_score"}
		if hasOrder {
			d, err := sortOrder(order)
			if err != nil {
				return nil, err
			}
			sf.Desc = d
		}
		out = append(out, sf)
	}
	return out, nil
}
