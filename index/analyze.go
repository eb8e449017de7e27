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
	if isASCII(s) {
		a.eachASCII(s, fn)
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

func isASCII(s []byte) bool {
	for _, c := range s {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// ASCII word-break classes of UAX #29.
const (
	wbOther    = iota
	wbLetter   // ALetter: A-Z a-z
	wbNumeric  // 0-9
	wbExtend   // ExtendNumLet: _
	wbMidLet   // MidLetter: ':'
	wbMidNum   // MidNum: ',' ';'
	wbMidBoth  // MidNumLet: '.'
	wbApostrph // Single_Quote: '\'' (joins like MidNumLet outside Hebrew)
)

var wbClass = func() (t [128]uint8) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = wbLetter
		t[c-'a'+'A'] = wbLetter
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = wbNumeric
	}
	t['_'] = wbExtend
	t[':'] = wbMidLet
	t[','] = wbMidNum
	t[';'] = wbMidNum
	t['.'] = wbMidBoth
	t['\''] = wbApostrph
	return
}()

// eachASCII is the UAX #29 word segmentation for ASCII input, what the
// segmenter computes, without its tables: letters, digits and '_' always
// join (WB5, WB8-WB10, WB13a/b); a letter, then ':', '.' or '\”, then a
// letter join (WB6/7); a digit, then ',', ';', '.' or '\”, then a digit
// join (WB11/12). Everything else separates words and is dropped.
func (a *analyzer) eachASCII(s []byte, fn func(tok []byte)) {
	n := len(s)
	for i := 0; i < n; {
		cls := wbClass[s[i]]
		if cls != wbLetter && cls != wbNumeric && cls != wbExtend {
			i++
			continue
		}
		j := i + 1
		prev := cls
		for j < n {
			c := wbClass[s[j]]
			if c == wbLetter || c == wbNumeric || c == wbExtend {
				prev = c
				j++
				continue
			}
			if j+1 < n {
				next := wbClass[s[j+1]]
				if prev == wbLetter && next == wbLetter && (c == wbMidLet || c == wbMidBoth || c == wbApostrph) ||
					prev == wbNumeric && next == wbNumeric && (c == wbMidNum || c == wbMidBoth || c == wbApostrph) {
					prev = next
					j += 2
					continue
				}
			}
			break
		}
		fn(a.lowercase(s[i:j]))
		i = j
	}
}
