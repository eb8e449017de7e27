package index

import (
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/blugelabs/bluge/numeric"
)

// Field mapping: how a record becomes index terms, the same for every
// Indexer. User-facing names are dotted JSON paths and metadata names;
// internal names add a type suffix, or a 0xFF prefix for metadata, so that
// a number, a date and a string under one JSON path never share a term
// dictionary and no JSON key can collide with metadata (0xFF never occurs
// in UTF-8, and flattened names are valid UTF-8).
const (
	suffixKeyword = ".keyword" // exact string (Elasticsearch's multi-field)
	suffixNumber  = "\xffn"    // float64 as a sortable int64
	suffixDate    = "\xffd"    // Unix milliseconds
	suffixBool    = "\xffb"    // "true" or "false"

	fieldKey       = "\xff_key"       // keyword: the record key
	fieldTimestamp = "\xff_timestamp" // date: the record timestamp
	fieldOffset    = "\xff_offset"    // integer: the record offset
	fieldExists    = "\xff_exists"    // keyword: user-facing names of the fields a document has
	fieldValue     = "\xff_value"     // text: a value that is not JSON (or a JSON scalar)
	headersPrefix  = "_headers."
	metaPrefix     = "\xff"

	// ignoreAbove is the longest string also indexed as a keyword,
	// Elasticsearch's dynamic-mapping default.
	ignoreAbove = 256
)

// positionGap separates the token positions of two values of one text
// field, so a phrase does not match across values (Lucene's
// position_increment_gap, 100 in Elasticsearch).
const positionGap = 100

// sink receives a document's terms in internal field names.
type sink interface {
	// text adds one value of a text field; the sink analyses it with an.
	text(field string, value []byte, an *analyzer)
	// keyword adds one exact term.
	keyword(field string, value []byte)
	// number adds one sortable integer (floats through numeric.Float64ToInt64).
	number(field string, v int64)
}

// mapper turns Documents into sink calls. It is not safe for concurrent
// use; each indexing goroutine owns one.
type mapper struct {
	fl    flattener
	an    analyzer
	names map[string]*leafNames
}

// leafNames caches the internal names derived from one flattened path.
type leafNames struct {
	keyword, number, date, boolean string
}

func (m *mapper) leafNames(name string) *leafNames {
	if m.names == nil {
		m.names = make(map[string]*leafNames)
	} else if len(m.names) > 1<<14 {
		clear(m.names)
	}
	if n, ok := m.names[name]; ok {
		return n
	}
	n := &leafNames{name + suffixKeyword, name + suffixNumber, name + suffixDate, name + suffixBool}
	m.names[name] = n
	return n
}

// mapDocument sends d's terms to s. fields is the topic's search.fields
// (empty: every field).
func (m *mapper) mapDocument(d *Document, fields []string, s sink) {
	s.number(fieldOffset, d.Offset)
	s.number(fieldTimestamp, d.Timestamp)
	if d.Key != nil {
		s.keyword(fieldKey, d.Key)
		s.keyword(fieldExists, []byte("_key"))
	}
	for _, h := range d.Headers {
		if h.Value == nil {
			continue
		}
		name := headersPrefix + validName(h.Key)
		s.text(metaPrefix+name, h.Value, &m.an)
		if len(h.Value) <= ignoreAbove {
			s.keyword(metaPrefix+name+suffixKeyword, h.Value)
		}
		s.keyword(fieldExists, []byte(name))
	}
	if d.Value == nil {
		return
	}
	leaves, ok := m.fl.flatten(d.Value, fieldValue)
	if !ok {
		s.text(fieldValue, d.Value, &m.an)
		s.keyword(fieldExists, []byte("_value"))
		return
	}
	for i := range leaves {
		l := &leaves[i]
		if l.kind == leafNull || !fieldAllowed(l.name, fields) {
			continue
		}
		names := m.leafNames(l.name)
		switch l.kind {
		case leafString:
			s.text(l.name, l.str, &m.an)
			if len(l.str) <= ignoreAbove {
				s.keyword(names.keyword, l.str)
			}
			if ms, ok := parseRFC3339(l.str); ok {
				s.number(names.date, ms)
			}
		case leafNumber:
			s.number(names.number, floatKey(l.num))
		case leafBool:
			if l.b {
				s.keyword(names.boolean, []byte("true"))
			} else {
				s.keyword(names.boolean, []byte("false"))
			}
		}
		s.keyword(fieldExists, []byte(userName(l.name)))
	}
}

// userName is the user-facing name of a flattened path: values of a
// top-level JSON scalar or array are "_value" (and "_value.<path>").
func userName(name string) string {
	return strings.TrimPrefix(name, metaPrefix)
}

// fieldAllowed reports whether a flattened path is indexed under the
// topic's search.fields: listed itself, or under a listed object.
func fieldAllowed(name string, fields []string) bool {
	if len(fields) == 0 {
		return true
	}
	name = userName(name)
	for _, f := range fields {
		if name == f || (len(name) > len(f) && name[len(f)] == '.' && name[:len(f)] == f) {
			return true
		}
	}
	return false
}

// validName returns s with invalid UTF-8 replaced by U+FFFD, so that field
// names never hold the 0xFF byte reserved for internal names.
func validName(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return string([]rune(s))
}

// floatKey is the sortable integer of a float (-0 and +0 are one value).
func floatKey(f float64) int64 {
	if f == 0 {
		f = 0
	}
	return numeric.Float64ToInt64(f)
}

// keyFloat inverts floatKey.
func keyFloat(k int64) float64 { return numeric.Int64ToFloat64(k) }

// parseRFC3339 recognises an RFC 3339 timestamp
// (2006-01-02T15:04:05[.frac](Z|±hh:mm)) and returns Unix milliseconds.
func parseRFC3339(b []byte) (int64, bool) {
	if len(b) < 20 || len(b) > 40 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't') || b[13] != ':' {
		return 0, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return 0, false
	}
	return timeMillis(t)
}

// timeMillis converts t to Unix milliseconds when it is representable.
func timeMillis(t time.Time) (int64, bool) {
	s := t.Unix()
	if s > math.MaxInt64/1000-1 || s < math.MinInt64/1000+1 {
		return 0, false
	}
	return t.UnixMilli(), true
}
