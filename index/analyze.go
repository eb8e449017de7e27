package index

import (
	"unicode"
	"unicode/utf8"

	"github.com/blevesearch/segment"
)

// analyzer is the standard analyzer of Elasticsearch (and bluge): words by
// the Unicode text segmentation rules of UAX #29, lowercased. It reuses its
// buffers and is not safe for concurrent use.
type analyzer struct {
	vals  [][]byte
	types []int
	lower []byte
}

// each calls fn with each token of s in order, lowercased. tok is valid
// only during the call.
func (a *analyzer) each(s []byte, fn func(tok []byte)) {
	if len(s) == 0 {
		return
	}
	vals, types, _, err := segment.SegmentWordsDirect(s, a.vals[:0], a.types[:0])
	a.vals, a.types = vals, types
	if err != nil {
		// The segmenter accepts any byte sequence; should it ever fail,
		// treat the whole value as one token rather than lose it.
		fn(a.lowercase(s))
		return
	}
	for i, v := range vals {
		if types[i] == segment.None {
			continue
		}
		fn(a.lowercase(v))
	}
}

// tokens returns the tokens of s as strings (query-time analysis).
func (a *analyzer) tokens(s string) []string {
	var out []string
	a.each([]byte(s), func(tok []byte) { out = append(out, string(tok)) })
	return out
}

// lowercase returns b lowercased, as Lucene's LowerCaseFilter does
// (unicode.ToLower per code point; invalid bytes kept). ASCII-only input
// without upper case is returned as is.
func (a *analyzer) lowercase(b []byte) []byte {
	i := 0
	for ; i < len(b); i++ {
		c := b[i]
		if c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			break
		}
	}
	if i == len(b) {
		return b
	}
	out := append(a.lower[:0], b[:i]...)
	for i < len(b) {
		c := b[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			out = append(out, c)
			i++
			continue
		}
		out = utf8.AppendRune(out, unicode.ToLower(r))
		i += n
	}
	a.lower = out
	return out
}
