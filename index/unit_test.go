package index

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/blevesearch/segment"
	blugeanalyzer "github.com/blugelabs/bluge/analysis/analyzer"
	"github.com/blugelabs/bluge/numeric"
)

// blugeTokens analyses s with bluge's standard analyzer: the oracle for
// ours (which avoids its allocations and its in-place rewriting).
func blugeTokens(s string) []string {
	var out []string
	for _, tok := range blugeanalyzer.NewStandardAnalyzer().Analyze([]byte(s)) {
		out = append(out, string(tok.Term))
	}
	return out
}

func checkAnalyzer(t *testing.T, a *analyzer, s string) {
	t.Helper()
	if strings.ContainsAny(s, "Σσ") {
		return // bluge special-cases a final sigma; Lucene's filter does not
	}
	for _, r := range s {
		l := unicode.ToLower(r)
		shorter := l != r && utf8.RuneLen(l) < utf8.RuneLen(r)
		// bluge lowercases the rest of a token after a letter whose lower case is longer with
		// bytes.ToLower, which turns invalid bytes into U+FFFD; ours keeps
		// them, so such tokens are checked against the tables too.
		longerInvalid := l != r && utf8.RuneLen(l) > utf8.RuneLen(r) && !utf8.ValidString(s)
		if shorter || longerInvalid {
			// bluge's in-place lowercasing garbles the rest of the token
			// after a letter whose lower case is shorter (İ, K): ours is
			// checked against the same segmentation, each word lowercased
			// with the Unicode tables. (In invalid UTF-8 the segmenter may
			// split a letter's bytes between words, so the words are not
			// always substrings of the lowercased whole.)
			vals, types, _, err := segment.SegmentWordsDirect([]byte(s), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for i, v := range vals {
				if types[i] != segment.None {
					want = append(want, lowerKeepingInvalid(string(v)))
				}
			}
			if got := a.tokens(s); !slices.Equal(got, want) {
				t.Fatalf("%q: tokens %q, want %q", s, got, want)
			}
			return
		}
	}
	got, want := a.tokens(s), blugeTokens(s)
	if !slices.Equal(got, want) {
		t.Fatalf("%q: tokens %q, want %q", s, got, want)
	}
}

// lowerKeepingInvalid lower-cases every valid rune of s and keeps invalid
// bytes as they are, as the analyzer does (strings.ToLower would replace
// them with U+FFFD).
func lowerKeepingInvalid(s string) string {
	var sb strings.Builder
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError && n == 1 {
			sb.WriteByte(s[0])
		} else {
			sb.WriteRune(unicode.ToLower(r))
		}
		s = s[n:]
	}
	return sb.String()
}

func TestAnalyzer(t *testing.T) {
	var a analyzer
	for _, s := range []string{
		"", "Hello, World!", "can't 3.14 a.b foo_bar user@example.com", "2024-05-01T12:00:00Z",
		"ÉCOLE Straße İstanbul", "日本語テキスト and ﾃｽﾄ", "bad\xffutf8 HERE", "x\x00y", "ȺȾ upper wider",
		"Quick-Brown FOX's", "ḀḂ  \t\n tabs",
	} {
		checkAnalyzer(t, &a, s)
	}
	if got := a.tokens("İstanbul KELVİN"); !slices.Equal(got, []string{"istanbul", "kelvin"}) {
		t.Fatalf("tokens %q", got)
	}
}

func FuzzAnalyzer(f *testing.F) {
	f.Add("Hello, World! can't 3.14")
	f.Add("ÉCOLE Straße 日本語 \xff")
	var a analyzer
	f.Fuzz(func(t *testing.T, s string) { checkAnalyzer(t, &a, s) })
}

func TestCheckpointRecord(t *testing.T) {
	rec := checkpointRecord{next: 1234567, partition: 7, written: 99}
	b := rec.encode()
	got, err := decodeCheckpoint(b, "dir")
	if err != nil || got != rec {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for i := range b {
		c := append([]byte(nil), b...)
		c[i] ^= 0x40
		var ce *CheckpointError
		if _, err := decodeCheckpoint(c, "dir"); !errors.As(err, &ce) {
			t.Fatalf("byte %d flipped: %v, want a *CheckpointError", i, err)
		}
	}
	if _, err := decodeCheckpoint(b[:31], "dir"); err == nil {
		t.Fatal("short record accepted")
	}
}

func FuzzCheckpoint(f *testing.F) {
	f.Add(checkpointRecord{next: 5, partition: 1, written: 2}.encode())
	f.Add([]byte("CXIC\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := decodeCheckpoint(b, "fuzz")
		if err != nil {
			return
		}
		if string(rec.encode()) != string(b) {
			t.Fatalf("accepted %x, which re-encodes as %x", b, rec.encode())
		}
	})
}

// checkSplit verifies that splitRange tiles [lo, hi] exactly, in order.
func checkSplit(t *testing.T, lo, hi int64) {
	t.Helper()
	type span struct{ a, b int64 }
	var spans []span
	splitRange(lo, hi, numericStep, func(shift uint, a, b int64) {
		low := int64(uint64(1)<<shift - 1)
		if shift == 0 {
			low = 0
		}
		spans = append(spans, span{a &^ low, b | low})
		// The prefix terms must round-trip to the same aligned bounds.
		pa, _ := numeric.MustNewPrefixCodedInt64(a, shift).Int64()
		if pa != a&^low {
			t.Fatalf("[%d,%d]: prefix of %d at shift %d decodes to %d", lo, hi, a, shift, pa)
		}
	})
	if lo > hi {
		if len(spans) != 0 {
			t.Fatalf("empty range [%d,%d] split into %v", lo, hi, spans)
		}
		return
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].a < spans[j].a })
	if len(spans) == 0 || spans[0].a != lo || spans[len(spans)-1].b != hi {
		t.Fatalf("[%d,%d] split into %v", lo, hi, spans)
	}
	for i := 1; i < len(spans); i++ {
		if spans[i-1].b == math.MaxInt64 || spans[i].a != spans[i-1].b+1 {
			t.Fatalf("[%d,%d] split into %v: gap or overlap at %d", lo, hi, spans, i)
		}
	}
	if len(spans) > 2*(64/numericStep)*(1<<numericStep) {
		t.Fatalf("[%d,%d] split into %d ranges", lo, hi, len(spans))
	}
}

func TestSplitRange(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	edges := []int64{math.MinInt64, math.MinInt64 + 1, -1 << 40, -256, -255, -1, 0, 1, 255, 256, 65535, 1 << 40, math.MaxInt64 - 1, math.MaxInt64}
	for _, a := range edges {
		for _, b := range edges {
			checkSplit(t, a, b)
		}
	}
	for range 2000 {
		a, b := int64(r.Uint64()), int64(r.Uint64())
		if r.IntN(2) == 0 {
			b = a + int64(r.IntN(100000))
		}
		checkSplit(t, min(a, b), max(a, b))
	}
}

func FuzzSplitRange(f *testing.F) {
	f.Add(int64(-5), int64(70000))
	f.Add(int64(math.MinInt64), int64(math.MaxInt64))
	f.Fuzz(func(t *testing.T, lo, hi int64) { checkSplit(t, lo, hi) })
}

func TestParseDate(t *testing.T) {
	now := time.Date(2024, 5, 15, 13, 37, 42, 123e6, time.UTC)
	ms := func(s string) int64 {
		tt, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tt.UnixMilli()
	}
	cases := []struct {
		in   string
		up   bool
		want int64
		ok   bool
	}{
		{"2024-05-01T10:00:00Z", false, ms("2024-05-01T10:00:00Z"), true},
		{"2024-05-01T10:00:00Z", true, ms("2024-05-01T10:00:00.999Z"), true},
		{"2024-05-01T10:00:00.5+02:00", true, ms("2024-05-01T08:00:00.5Z"), true},
		{"2024-05-01", false, ms("2024-05-01T00:00:00Z"), true},
		{"2024-05-01", true, ms("2024-05-01T23:59:59.999Z"), true},
		{"2024-05-01T10:30", true, ms("2024-05-01T10:30:59.999Z"), true},
		{"1714557600000", false, 1714557600000, true},
		{"now", false, now.UnixMilli(), true},
		{"now-15m", false, now.Add(-15 * time.Minute).UnixMilli(), true},
		{"now-1d/d", false, ms("2024-05-14T00:00:00Z"), true},
		{"now-1d/d", true, ms("2024-05-14T23:59:59.999Z"), true},
		{"now/M", false, ms("2024-05-01T00:00:00Z"), true},
		{"now+1y/y", true, ms("2025-12-31T23:59:59.999Z"), true},
		{"now/w", false, ms("2024-05-13T00:00:00Z"), true},
		{"2024-05-01||+1M-1d", false, ms("2024-05-31T00:00:00Z"), true},
		{"now-", false, 0, false},
		{"now/q", false, 0, false},
		{"yesterday", false, 0, false},
		{"2024-13-01", false, 0, false},
	}
	for _, c := range cases {
		got, ok := parseDate(c.in, now, c.up)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("parseDate(%q, up=%v) = %v, %v; want %v, %v", c.in, c.up, time.UnixMilli(got).UTC(), ok, time.UnixMilli(c.want).UTC(), c.ok)
		}
	}
}

func TestMinimumShouldMatch(t *testing.T) {
	for _, c := range []struct {
		spec string
		n    int
		want int
	}{{"", 4, 1}, {"2", 4, 2}, {"-1", 4, 3}, {"75%", 4, 3}, {"-25%", 4, 3}, {"50%", 3, 1}, {"-5", 3, 0}, {"10", 3, 10}} {
		got, err := minimumShouldMatch(c.spec, c.n, 1)
		if err != nil || got != c.want {
			t.Errorf("minimumShouldMatch(%q, %d) = %d, %v; want %d", c.spec, c.n, got, err, c.want)
		}
	}
	if _, err := minimumShouldMatch("3<90%", 4, 1); err == nil {
		t.Error("combinations are not supported but were accepted")
	}
}

func TestDocID(t *testing.T) {
	for _, c := range []struct {
		p int32
		o int64
	}{{0, 0}, {7, 123456789012}, {2147483647, 9223372036854775807}} {
		p, o, ok := ParseDocID(DocID(c.p, c.o))
		if !ok || p != c.p || o != c.o {
			t.Errorf("round trip of %d-%d: %d %d %v", c.p, c.o, p, o, ok)
		}
	}
	for _, bad := range []string{"", "1", "-1-2", "1--2", "a-1", "1-b", "1-2-3", "99999999999-1"} {
		if _, _, ok := ParseDocID(bad); ok {
			t.Errorf("ParseDocID(%q) accepted", bad)
		}
	}
}

func TestSortKeys(t *testing.T) {
	vals := []float64{math.Inf(-1), -1e300, -2.5, math.Copysign(0, -1), 0, 1e-300, 3, 1e300}
	for i := 1; i < len(vals); i++ {
		a, b := typedKey(tagNumber, floatKey(vals[i-1])), typedKey(tagNumber, floatKey(vals[i]))
		if compareSortKeys(a, b, false) > 0 {
			t.Errorf("%v sorts after %v", vals[i-1], vals[i])
		}
	}
	if got := decodeSortKey("x", typedKey(tagNumber, floatKey(-2.5))); got != -2.5 {
		t.Errorf("decoded %v", got)
	}
	if got := decodeSortKey("x", typedKey(tagDate, 1714557600000)); got != int64(1714557600000) {
		t.Errorf("decoded date %v", got)
	}
	if got := decodeSortKey("_offset", typedKey(tagNumber, 42)); got != int64(42) {
		t.Errorf("decoded offset %#v", got)
	}
	if got := decodeSortKey("k.keyword", keywordKey([]byte("abc"))); got != "abc" {
		t.Errorf("decoded keyword %#v", got)
	}
	for _, missing := range [][]byte{nil, {0}, {0xff, 0xff}} {
		if got := decodeSortKey("x", missing); got != nil {
			t.Errorf("missing value %x decoded as %v", missing, got)
		}
	}
	if compareSortKeys(nil, []byte{1}, true) <= 0 || compareSortKeys(nil, []byte{1}, false) <= 0 {
		t.Error("missing values must sort last both ways")
	}
}

func TestQueryStringShape(t *testing.T) {
	mq := func(f, v string) Query { return &MatchQuery{Field: f, Query: v, Operator: "or"} }
	cases := []struct {
		in   string
		want Query
	}{
		{"a:x", mq("a", "x")},
		{"a:x AND b:y", &BoolQuery{Must: []Query{mq("a", "x"), mq("b", "y")}}},
		{"a:x OR b:y AND c:z", &BoolQuery{Should: []Query{mq("a", "x"), &BoolQuery{Must: []Query{mq("b", "y"), mq("c", "z")}}}}},
		{"+a:x -b:y c:z", &BoolQuery{Must: []Query{mq("a", "x")}, MustNot: []Query{mq("b", "y")}, Should: []Query{mq("c", "z")}}},
		{"NOT a:x", &BoolQuery{MustNot: []Query{mq("a", "x")}}},
		{`a:"x y"~3`, &MatchPhraseQuery{Field: "a", Query: "x y", Slop: 3}},
		{"n:[1 TO 5}", &RangeQuery{Field: "n", GTE: "1", LT: "5"}},
		{"n:{* TO 5]", &RangeQuery{Field: "n", LTE: "5"}},
		{"n:>=7", &RangeQuery{Field: "n", GTE: "7"}},
		{"t:10:30", mq("t", "10:30")},
		{"a:b\\:c", mq("a", "b:c")},
		{"a:(x y)", &BoolQuery{Should: []Query{mq("a", "x"), mq("a", "y")}}},
		{"a:fo*", &normalizedPattern{op: opPrefix, field: "a", value: "fo", boost: 1}},
		{"a:f?o*", &normalizedPattern{op: opWildcard, field: "a", value: "f?o*", boost: 1}},
		{"_exists_:geo", &ExistsQuery{Field: "geo"}},
		{"*", &MatchAllQuery{}},
		{"x^2", &MatchQuery{Query: "x", Operator: "or", Boost: Boost(2)}},
		{"x^0", &MatchQuery{Query: "x", Operator: "or", Boost: Boost(0)}},
		{"((x)^2)^1.5", &MatchQuery{Query: "x", Operator: "or", Boost: Boost(3)}},
		{"_exists_:geo^2", &ExistsQuery{Field: "geo", Boost: Boost(2)}},
		{"a:fo*^0.5", &normalizedPattern{op: opPrefix, field: "a", value: "fo", boost: 0.5}},
	}
	for _, c := range cases {
		got, err := parseQueryString(&QueryStringQuery{Query: c.in})
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q:\n got %#v\nwant %#v", c.in, got, c.want)
		}
	}
}

// FuzzQueryString parses and resolves arbitrary query strings: no panic,
// and every failure is a *QueryError.
func FuzzQueryString(f *testing.F) {
	for _, s := range []string{"level:ERROR AND status:>500", `+a:"x y"~2 -b:[1 TO *}`, "a:(b OR c)^2", "_exists_:x", "NOT (a:b", `\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := parseQueryString(&QueryStringQuery{Query: s})
		var qe *QueryError
		if err != nil {
			if !errors.As(err, &qe) {
				t.Fatalf("%q: error %T %v", s, err, err)
			}
			return
		}
		r := &resolver{now: time.Unix(1e9, 0)}
		p, err := r.resolve(q)
		if err != nil {
			if !errors.As(err, &qe) {
				t.Fatalf("%q: resolve error %T %v", s, err, err)
			}
			return
		}
		if _, err := r.specialize(p, newPartView(0, []string{"a", "a.keyword", "b" + suffixNumber})); err != nil && !errors.As(err, &qe) {
			t.Fatalf("%q: specialize error %v", s, err)
		}
	})
}

// FuzzSearchBody parses arbitrary request bodies: no panic, and every
// failure is a *QueryError.
func FuzzSearchBody(f *testing.F) {
	for _, s := range []string{
		`{"query":{"bool":{"must":[{"match":{"msg":"x"}}],"filter":{"range":{"n":{"gte":1}}}}},"size":5,"sort":[{"n":"desc"}]}`,
		`{"query":{"query_string":{"query":"a:b"}},"from":2}`,
		`{"query":{"terms":{"k":[1,"a",true]}}}`, `[]`, `{"query":{}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sb, err := ParseSearchBody(b)
		var qe *QueryError
		if err != nil {
			if !errors.As(err, &qe) {
				t.Fatalf("%q: error %T %v", b, err, err)
			}
			return
		}
		r := &resolver{now: time.Unix(1e9, 0)}
		if _, err := r.resolve(sb.Request.Query); err != nil && !errors.As(err, &qe) {
			t.Fatalf("%q: resolve error %T %v", b, err, err)
		}
	})
}

// TestAnalyzerASCII compares the ASCII fast path with bluge's analyzer on
// random strings over the characters its rules treat specially.
func TestAnalyzerASCII(t *testing.T) {
	const alphabet = "aZq09_:.,;'\"- \t\r\n@/"
	r := rand.New(rand.NewPCG(3, 4))
	var a analyzer
	buf := make([]byte, 0, 32)
	for range 20000 {
		buf = buf[:0]
		for range r.IntN(24) {
			buf = append(buf, alphabet[r.IntN(len(alphabet))])
		}
		checkAnalyzer(t, &a, string(buf))
	}
}
