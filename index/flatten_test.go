package index

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// refLeaf is a leaf as the reference flattener (encoding/json's token
// stream) sees it.
type refLeaf struct {
	name string
	kind leafKind
	str  string
	num  float64
	b    bool
}

// refFlatten flattens with encoding/json's decoder: the independent
// oracle for flattener.
func refFlatten(in []byte, root string) ([]refLeaf, bool) {
	if !json.Valid(in) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(in))
	dec.UseNumber()
	var out []refLeaf
	var walk func(path string) error
	walk = func(path string) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				for dec.More() {
					kt, err := dec.Token()
					if err != nil {
						return err
					}
					k := kt.(string)
					p := k
					if path != "" {
						p = path + "." + k
					}
					if err := walk(p); err != nil {
						return err
					}
				}
				_, err = dec.Token()
				return err
			case '[':
				for dec.More() {
					if err := walk(path); err != nil {
						return err
					}
				}
				_, err = dec.Token()
				return err
			}
		case string:
			out = append(out, refLeaf{name: path, kind: leafString, str: v})
		case json.Number:
			f, err := strconv.ParseFloat(v.String(), 64)
			if err != nil {
				switch {
				case f > 0:
					f = math.MaxFloat64
				case f < 0:
					f = -math.MaxFloat64
				}
			}
			out = append(out, refLeaf{name: path, kind: leafNumber, num: f})
		case bool:
			out = append(out, refLeaf{name: path, kind: leafBool, b: v})
		case nil:
			out = append(out, refLeaf{name: path, kind: leafNull})
		}
		return nil
	}
	start := ""
	if t := bytes.TrimLeft(in, " \t\r\n"); len(t) > 0 && t[0] != '{' {
		start = root
	}
	if err := walk(start); err != nil && err != io.EOF {
		return nil, false
	}
	if len(out) > maxLeaves {
		out = out[:maxLeaves]
	}
	return out, true
}

// checkFlatten compares the flattener with the reference on in.
func checkFlatten(t *testing.T, f *flattener, in []byte) {
	t.Helper()
	if bytes.Count(in, []byte("["))+bytes.Count(in, []byte("{")) > 500 {
		return // deep nesting: depth limits differ by design
	}
	got, ok := f.flatten(in, "_value")
	want, wantOK := refFlatten(in, "_value")
	if ok != wantOK {
		t.Fatalf("%q: flatten ok=%v, encoding/json valid=%v", in, ok, wantOK)
	}
	if len(got) != len(want) {
		t.Fatalf("%q: %d leaves, want %d", in, len(got), len(want))
	}
	for i, g := range got {
		w := want[i]
		gs := string([]rune(string(g.str))) // encoding/json replaces invalid UTF-8
		if g.name != w.name || g.kind != w.kind || (g.kind == leafString && gs != w.str) ||
			(g.kind == leafNumber && g.num != w.num) || (g.kind == leafBool && g.b != w.b) {
			t.Fatalf("%q leaf %d: got %+v (%q), want %+v", in, i, g, g.str, w)
		}
		if !utf8.ValidString(g.name) {
			t.Fatalf("%q: field name %q is not valid UTF-8", in, g.name)
		}
	}
}

func TestFlatten(t *testing.T) {
	var f flattener
	for _, in := range []string{
		`{}`, `[]`, `null`, `"top"`, `42`, `[1,"a",null,true]`,
		`{"a":1,"b":{"c":"x","d":[1,2,{"e":false}]},"f":null}`,
		`{"esc":"a\"b\\c\/d\b\f\n\r\t\u0041\u00e9\ud83d\ude00","k\u002ey":1}`,
		`{"bad":"\ud800x","lone":"\udc00","pair":"\ud83d\ude00"}`,
		`{"n":[-0,0.5,1e3,-1.5E-3,12345678901234567890,1e400,-1e400]}`,
		` {"ws" : [ 1 , 2 ] } `,
		`{"a":{"b":{"c":{"d":"deep"}}}}`, `{"a":[[["x"]]]}`,
		`{"dup":1,"dup":2}`, "{\"\xff\xfekey\":\"\xffval\"}",
		`{"a":1}x`, `{"a":}`, `{"a" 1}`, `{a:1}`, `[1,]`, `{"a":1,}`, `01`, `1.`, `.5`, `-`, `tru`, `"\x"`, "\"a\x01\"", `"\u12"`, ``, `  `,
	} {
		checkFlatten(t, &f, []byte(in))
	}
	// The field-count cap.
	var b strings.Builder
	b.WriteString("{")
	for i := range maxLeaves + 10 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"f%d":%d`, i, i)
	}
	b.WriteString("}")
	leaves, ok := f.flatten([]byte(b.String()), "_value")
	if !ok || len(leaves) != maxLeaves {
		t.Fatalf("%d leaves, ok=%v; want %d", len(leaves), ok, maxLeaves)
	}
}

func FuzzFlatten(f *testing.F) {
	f.Add([]byte(`{"a":1,"b":{"c":"x","d":[1,2,{"e":false}]},"f":null}`))
	f.Add([]byte(`{"esc":"a\"b\u00e9\ud83d\ude00","n":-1.5e-3}`))
	f.Add([]byte(`[1,"a",null,true]`))
	f.Add([]byte(`not json`))
	var fl flattener
	f.Fuzz(func(t *testing.T, in []byte) {
		checkFlatten(t, &fl, in)
	})
}
