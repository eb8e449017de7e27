package index

import (
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// Limits of the JSON flattener. A document deeper than maxJSONDepth is not
// JSON for the index (encoding/json refuses the same depth); leaves beyond
// maxLeaves are not indexed, like Elasticsearch's total-fields limit.
const (
	maxJSONDepth = 10000
	maxLeaves    = 1000
)

// leafKind is the JSON type of a flattened value.
type leafKind uint8

const (
	leafString leafKind = iota
	leafNumber
	leafBool
	leafNull
)

// leaf is one scalar of a flattened JSON value: its dotted path and value.
// str aliases the input when the string has no escapes, else the
// flattener's scratch buffer; both live until the next flatten call.
type leaf struct {
	name string
	kind leafKind
	str  []byte
	num  float64
	b    bool
}

// flattener turns a JSON document into leaves, the way Elasticsearch's
// dynamic mapping sees it: object keys join with '.', arrays add nothing to
// the path (each element is one more value of the same field). It validates
// the whole input as it goes (RFC 8259, as encoding/json does); invalid
// input yields ok == false. It is reused across documents and is not safe
// for concurrent use.
type flattener struct {
	in     []byte
	pos    int
	path   []byte
	leaves []leaf
	names  map[string]string // interned paths
	unesc  []byte            // unescaped strings, appended
	spans  [][2]int          // (start, end) in unesc for leaves needing it
	fixups []int             // leaf index per span
}

// flatten parses in as JSON and returns its leaves in document order. The
// top-level value need not be an object: a scalar or array at the top is
// a value of the field named root.
func (f *flattener) flatten(in []byte, root string) ([]leaf, bool) {
	f.in, f.pos = in, 0
	f.leaves = f.leaves[:0]
	f.unesc = f.unesc[:0]
	f.spans = f.spans[:0]
	f.fixups = f.fixups[:0]
	f.path = f.path[:0]
	if f.names == nil {
		f.names = make(map[string]string)
	} else if len(f.names) > 1<<16 {
		clear(f.names) // bound the intern table across unrelated documents
	}
	f.skipSpace()
	if f.pos < len(in) && in[f.pos] != '{' {
		f.path = append(f.path, root...)
	}
	if !f.value(0) {
		return nil, false
	}
	f.skipSpace()
	if f.pos != len(in) {
		return nil, false
	}
	// Point unescaped strings into unesc now that it no longer grows.
	for i, sp := range f.spans {
		f.leaves[f.fixups[i]].str = f.unesc[sp[0]:sp[1]:sp[1]]
	}
	return f.leaves, true
}

func (f *flattener) skipSpace() {
	for f.pos < len(f.in) {
		switch f.in[f.pos] {
		case ' ', '\t', '\n', '\r':
			f.pos++
		default:
			return
		}
	}
}

func (f *flattener) name() string {
	if s, ok := f.names[string(f.path)]; ok {
		return s
	}
	s := string(f.path)
	f.names[s] = s
	return s
}

func (f *flattener) add(l leaf) {
	if len(f.leaves) < maxLeaves {
		l.name = f.name()
		f.leaves = append(f.leaves, l)
	}
}

func (f *flattener) value(depth int) bool {
	if depth > maxJSONDepth {
		return false
	}
	f.skipSpace()
	if f.pos >= len(f.in) {
		return false
	}
	switch c := f.in[f.pos]; {
	case c == '{':
		return f.object(depth)
	case c == '[':
		return f.array(depth)
	case c == '"':
		s, span, ok := f.str()
		if !ok {
			return false
		}
		if len(f.leaves) < maxLeaves {
			f.add(leaf{kind: leafString, str: s})
			if span[1] > span[0] {
				f.spans = append(f.spans, span)
				f.fixups = append(f.fixups, len(f.leaves)-1)
			}
		}
		return true
	case c == 't':
		if !f.literal("true") {
			return false
		}
		f.add(leaf{kind: leafBool, b: true})
		return true
	case c == 'f':
		if !f.literal("false") {
			return false
		}
		f.add(leaf{kind: leafBool})
		return true
	case c == 'n':
		if !f.literal("null") {
			return false
		}
		f.add(leaf{kind: leafNull})
		return true
	case c == '-' || (c >= '0' && c <= '9'):
		n, ok := f.number()
		if !ok {
			return false
		}
		f.add(leaf{kind: leafNumber, num: n})
		return true
	}
	return false
}

func (f *flattener) literal(lit string) bool {
	if len(f.in)-f.pos < len(lit) || string(f.in[f.pos:f.pos+len(lit)]) != lit {
		return false
	}
	f.pos += len(lit)
	return true
}

func (f *flattener) object(depth int) bool {
	f.pos++ // '{'
	base := len(f.path)
	f.skipSpace()
	if f.pos < len(f.in) && f.in[f.pos] == '}' {
		f.pos++
		return true
	}
	for {
		f.skipSpace()
		if f.pos >= len(f.in) || f.in[f.pos] != '"' {
			return false
		}
		key, _, ok := f.str()
		if !ok {
			return false
		}
		f.path = f.path[:base]
		if base > 0 {
			f.path = append(f.path, '.')
		}
		if utf8.Valid(key) {
			f.path = append(f.path, key...)
		} else {
			// Field names stay valid UTF-8 (internal names rely on it):
			// each invalid byte becomes U+FFFD, as encoding/json decodes.
			f.path = append(f.path, string([]rune(string(key)))...)
		}
		f.skipSpace()
		if f.pos >= len(f.in) || f.in[f.pos] != ':' {
			return false
		}
		f.pos++
		if !f.value(depth + 1) {
			return false
		}
		f.skipSpace()
		if f.pos >= len(f.in) {
			return false
		}
		switch f.in[f.pos] {
		case ',':
			f.pos++
		case '}':
			f.pos++
			f.path = f.path[:base]
			return true
		default:
			return false
		}
	}
}

func (f *flattener) array(depth int) bool {
	f.pos++ // '['
	f.skipSpace()
	if f.pos < len(f.in) && f.in[f.pos] == ']' {
		f.pos++
		return true
	}
	for {
		if !f.value(depth + 1) {
			return false
		}
		f.skipSpace()
		if f.pos >= len(f.in) {
			return false
		}
		switch f.in[f.pos] {
		case ',':
			f.pos++
		case ']':
			f.pos++
			return true
		default:
			return false
		}
	}
}

// str reads the string at f.pos. Without escapes it returns a sub-slice of
// the input and an empty span; with escapes it appends the decoded bytes to
// f.unesc and returns them with their span there (the slice is valid until
// unesc grows; flatten re-points leaves through the span at the end).
func (f *flattener) str() ([]byte, [2]int, bool) {
	f.pos++ // opening quote
	start := f.pos
	in := f.in
	for f.pos < len(in) {
		c := in[f.pos]
		switch {
		case c == '"':
			s := in[start:f.pos:f.pos]
			f.pos++
			return s, [2]int{}, true
		case c == '\\':
			return f.strEscaped(start)
		case c < 0x20:
			return nil, [2]int{}, false
		}
		f.pos++
	}
	return nil, [2]int{}, false
}

func (f *flattener) strEscaped(start int) ([]byte, [2]int, bool) {
	in := f.in
	u0 := len(f.unesc)
	f.unesc = append(f.unesc, in[start:f.pos]...)
	for f.pos < len(in) {
		c := in[f.pos]
		switch {
		case c == '"':
			f.pos++
			return f.unesc[u0:], [2]int{u0, len(f.unesc)}, true
		case c < 0x20:
			return nil, [2]int{}, false
		case c != '\\':
			f.unesc = append(f.unesc, c)
			f.pos++
			continue
		}
		f.pos++
		if f.pos >= len(in) {
			return nil, [2]int{}, false
		}
		e := in[f.pos]
		f.pos++
		switch e {
		case '"', '\\', '/':
			f.unesc = append(f.unesc, e)
		case 'b':
			f.unesc = append(f.unesc, '\b')
		case 'f':
			f.unesc = append(f.unesc, '\f')
		case 'n':
			f.unesc = append(f.unesc, '\n')
		case 'r':
			f.unesc = append(f.unesc, '\r')
		case 't':
			f.unesc = append(f.unesc, '\t')
		case 'u':
			r, ok := f.hex4()
			if !ok {
				return nil, [2]int{}, false
			}
			if utf16.IsSurrogate(r) {
				// A valid pair makes one rune; anything else is U+FFFD,
				// as encoding/json decodes it.
				r2 := rune(-1)
				if f.pos+1 < len(in) && in[f.pos] == '\\' && in[f.pos+1] == 'u' {
					save := f.pos
					f.pos += 2
					var ok2 bool
					if r2, ok2 = f.hex4(); !ok2 {
						return nil, [2]int{}, false
					}
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						f.unesc = utf8.AppendRune(f.unesc, d)
						continue
					}
					f.pos = save
				}
				r = utf8.RuneError
			}
			f.unesc = utf8.AppendRune(f.unesc, r)
		default:
			return nil, [2]int{}, false
		}
	}
	return nil, [2]int{}, false
}

func (f *flattener) hex4() (rune, bool) {
	if len(f.in)-f.pos < 4 {
		return 0, false
	}
	var r rune
	for _, c := range f.in[f.pos : f.pos+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	f.pos += 4
	return r, true
}

// number reads a JSON number (RFC 8259 grammar) and its float64 value.
// Values beyond float64's range are ±Inf, which the index stores as the
// largest representable numbers.
func (f *flattener) number() (float64, bool) {
	in := f.in
	start := f.pos
	p := f.pos
	if p < len(in) && in[p] == '-' {
		p++
	}
	switch {
	case p < len(in) && in[p] == '0':
		p++
	case p < len(in) && in[p] >= '1' && in[p] <= '9':
		for p < len(in) && in[p] >= '0' && in[p] <= '9' {
			p++
		}
	default:
		return 0, false
	}
	simple := true
	if p < len(in) && in[p] == '.' {
		simple = false
		p++
		d := p
		for p < len(in) && in[p] >= '0' && in[p] <= '9' {
			p++
		}
		if p == d {
			return 0, false
		}
	}
	if p < len(in) && (in[p] == 'e' || in[p] == 'E') {
		simple = false
		p++
		if p < len(in) && (in[p] == '+' || in[p] == '-') {
			p++
		}
		d := p
		for p < len(in) && in[p] >= '0' && in[p] <= '9' {
			p++
		}
		if p == d {
			return 0, false
		}
	}
	f.pos = p
	lit := in[start:p]
	if simple && len(lit) <= 15 {
		// Fast path: small integers are exact in float64.
		var n int64
		neg := lit[0] == '-'
		digits := lit
		if neg {
			digits = lit[1:]
		}
		for _, c := range digits {
			n = n*10 + int64(c-'0')
		}
		if neg {
			n = -n
		}
		return float64(n), true
	}
	v, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(lit), len(lit)), 64)
	if err != nil {
		// Only a range error is possible after the grammar check.
		if v > 0 {
			return math.MaxFloat64, true
		}
		if v < 0 {
			return -math.MaxFloat64, true
		}
		return 0, true
	}
	return v, true
}
