package index_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chronik-go/chronik/index"
)

type httpEnv struct {
	*env
	srv  *httptest.Server
	recs []produced
}

func newHTTPEnv(t *testing.T) *httpEnv {
	ix, err := index.OpenBluge(t.TempDir(), index.BlugeOptions{PersistDelay: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOptions{ix: ix})
	e.topic("logs", 2, nil)
	recs := produceLogs(t, e, "logs", 2, 120, 30)
	e.waitIndexed("logs", 0)
	e.waitIndexed("logs", 1)
	srv := httptest.NewServer(index.NewHTTPHandler(index.HTTPConfig{
		Indexer: e.ix, Sources: &index.LogSource{Logs: e.h}, Topics: e.meta, Pipeline: e.pl,
	}))
	t.Cleanup(srv.Close)
	return &httpEnv{env: e, srv: srv, recs: recs}
}

// do sends a request and decodes the JSON answer.
func (h *httpEnv) do(t *testing.T, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s %s: answer is not a JSON object: %v: %s", method, path, err, raw)
	}
	return resp.StatusCode, v
}

func total(t *testing.T, v map[string]any) int64 {
	t.Helper()
	hits, _ := v["hits"].(map[string]any)
	tot, _ := hits["total"].(map[string]any)
	if tot["relation"] != "eq" {
		t.Fatalf("total relation %v, want eq", tot["relation"])
	}
	n, ok := tot["value"].(float64)
	if !ok {
		t.Fatalf("no hits.total.value in %v", v)
	}
	return int64(n)
}

func hitsOf(v map[string]any) []map[string]any {
	hits, _ := v["hits"].(map[string]any)
	arr, _ := hits["hits"].([]any)
	out := make([]map[string]any, len(arr))
	for i, h := range arr {
		out[i], _ = h.(map[string]any)
	}
	return out
}

func TestHTTPSearchQueries(t *testing.T) {
	h := newHTTPEnv(t)
	has := func(w string) func(*produced) bool {
		return func(p *produced) bool { return slices.Contains(p.words, w) }
	}
	cases := []struct {
		name string
		body string
		want func(*produced) bool
	}{
		{"empty body", ``, func(*produced) bool { return true }},
		{"match_all", `{"query":{"match_all":{}}}`, func(*produced) bool { return true }},
		{"match", `{"query":{"match":{"msg":"timeout"}}}`, has("timeout")},
		{"match long form", `{"query":{"match":{"msg":{"query":"timeout retry","operator":"and"}}}}`, func(p *produced) bool {
			return has("timeout")(p) && has("retry")(p)
		}},
		{"match_phrase", `{"query":{"match_phrase":{"msg":"disk full"}}}`, func(p *produced) bool { return p.words[0] == "disk" && p.words[1] == "full" }},
		{"term", `{"query":{"term":{"level.keyword":"ERROR"}}}`, func(p *produced) bool { return p.level == "ERROR" }},
		{"term long form", `{"query":{"term":{"user.id":{"value":7,"boost":2}}}}`, func(p *produced) bool { return p.user == 7 }},
		{"terms", `{"query":{"terms":{"level.keyword":["ERROR","WARN"]}}}`, func(p *produced) bool { return p.level != "INFO" }},
		{"range", `{"query":{"range":{"user.id":{"gt":3,"lte":10}}}}`, func(p *produced) bool { return p.user > 3 && p.user <= 10 }},
		{"exists", `{"query":{"exists":{"field":"_headers.source"}}}`, func(p *produced) bool { return p.header != "" }},
		{"bool", `{"query":{"bool":{"must":[{"match":{"msg":"disk"}}],"filter":{"range":{"user.id":{"gte":5}}},"must_not":[{"term":{"level.keyword":"INFO"}}]}}}`,
			func(p *produced) bool { return has("disk")(p) && p.user >= 5 && p.level != "INFO" }},
		{"bool should minimum", `{"query":{"bool":{"should":[{"match":{"msg":"disk"}},{"match":{"msg":"full"}},{"match":{"msg":"cache"}}],"minimum_should_match":2}}}`,
			func(p *produced) bool {
				n := 0
				for _, w := range []string{"disk", "full", "cache"} {
					if has(w)(p) {
						n++
					}
				}
				return n >= 2
			}},
		{"query_string", `{"query":{"query_string":{"query":"level:ERROR AND user.id:>8"}}}`, func(p *produced) bool { return p.level == "ERROR" && p.user > 8 }},
		{"query_string range", `{"query":{"query_string":{"query":"user.id:[2 TO 4] OR msg:\"cache miss\""}}}`, func(p *produced) bool {
			return (p.user >= 2 && p.user <= 4) || (p.words[0] == "cache" && p.words[1] == "miss")
		}},
		{"query_string wildcard", `{"query":{"query_string":{"query":"_key:k*","default_operator":"AND"}}}`, func(*produced) bool { return true }},
		{"prefix", `{"query":{"prefix":{"level.keyword":"WA"}}}`, func(p *produced) bool { return p.level == "WARN" }},
		{"wildcard", `{"query":{"wildcard":{"_key":{"value":"k?"}}}}`, func(*produced) bool { return true }},
		{"ids", `{"query":{"ids":{"values":["0-3","1-7","9-9"]}}}`, func(p *produced) bool {
			return (p.part == 0 && p.offset == 3) || (p.part == 1 && p.offset == 7)
		}},
		{"constant_score", `{"query":{"constant_score":{"filter":{"term":{"_partition":1}}}}}`, func(p *produced) bool { return p.part == 1 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := countProduced(h.recs, c.want)
			for _, method := range []string{http.MethodPost, http.MethodGet} {
				code, v := h.do(t, method, "/logs/_search", c.body)
				if code != http.StatusOK {
					t.Fatalf("%s: status %d: %v", method, code, v)
				}
				if got := total(t, v); got != want {
					t.Fatalf("%s %s: %d hits, want %d", method, c.body, got, want)
				}
			}
		})
	}
}

func TestHTTPSearchURL(t *testing.T) {
	h := newHTTPEnv(t)
	q := url.Values{"q": {"level:WARN msg:disk"}, "size": {"7"}, "from": {"2"}, "sort": {"_partition:desc,_offset:asc"}}
	code, v := h.do(t, http.MethodGet, "/logs/_search?"+q.Encode(), "")
	if code != http.StatusOK {
		t.Fatalf("status %d: %v", code, v)
	}
	match := func(p *produced) bool { return p.level == "WARN" || slices.Contains(p.words, "disk") }
	if got, want := total(t, v), countProduced(h.recs, match); got != want {
		t.Fatalf("%d hits, want %d", got, want)
	}
	var want []*produced
	for i := range h.recs {
		if match(&h.recs[i]) {
			want = append(want, &h.recs[i])
		}
	}
	slices.SortStableFunc(want, func(a, b *produced) int {
		if a.part != b.part {
			return int(b.part - a.part)
		}
		return int(a.offset - b.offset)
	})
	hits := hitsOf(v)
	if len(hits) != 7 {
		t.Fatalf("%d hits, want 7", len(hits))
	}
	for i, hit := range hits {
		w := want[2+i]
		if hit["_id"] != index.DocID(w.part, w.offset) || hit["_index"] != "logs" || hit["_score"] != nil {
			t.Fatalf("hit %d = %v, want id %s", i, hit, index.DocID(w.part, w.offset))
		}
		var src map[string]any
		raw, _ := json.Marshal(hit["_source"])
		json.Unmarshal(raw, &src)
		var wantSrc map[string]any
		json.Unmarshal(w.value, &wantSrc)
		if src["seq"] != wantSrc["seq"] || hit["_key"] != w.key || hit["_timestamp"] != float64(w.ts) ||
			hit["_partition"] != float64(w.part) || hit["_offset"] != float64(w.offset) {
			t.Fatalf("hit %d = %v, want source %s", i, hit, w.value)
		}
		if s, ok := hit["sort"].([]any); !ok || len(s) != 2 || s[0] != float64(w.part) || s[1] != float64(w.offset) {
			t.Fatalf("hit %d sort %v", i, hit["sort"])
		}
	}
	if v["hits"].(map[string]any)["max_score"] != nil {
		t.Fatal("max_score is set for a field sort")
	}
	// Scored search: scores and max_score present.
	code, v = h.do(t, http.MethodGet, "/logs/_search?q=msg:disk&size=3", "")
	if code != http.StatusOK || len(hitsOf(v)) != 3 || hitsOf(v)[0]["_score"] == nil || v["hits"].(map[string]any)["max_score"] == nil {
		t.Fatalf("scored search: %d %v", code, v)
	}
	// Body with a sort and _source off.
	code, v = h.do(t, http.MethodPost, "/logs/_search", `{"size":2,"sort":[{"_timestamp":{"order":"desc"}},"_offset"],"_source":false}`)
	if code != http.StatusOK || len(hitsOf(v)) != 2 || hitsOf(v)[0]["_source"] != nil {
		t.Fatalf("sort with _source false: %d %v", code, v)
	}
	// _count.
	code, v = h.do(t, http.MethodGet, "/logs/_count?q=level:ERROR", "")
	if want := countProduced(h.recs, func(p *produced) bool { return p.level == "ERROR" }); code != http.StatusOK || v["count"] != float64(want) {
		t.Fatalf("_count: %d %v, want %d", code, v, want)
	}
	// _doc.
	r := h.recs[5]
	code, v = h.do(t, http.MethodGet, "/logs/_doc/"+index.DocID(r.part, r.offset), "")
	if code != http.StatusOK || v["found"] != true || v["_key"] != r.key {
		t.Fatalf("_doc: %d %v", code, v)
	}
	code, v = h.do(t, http.MethodGet, "/logs/_doc/0-99999", "")
	if code != http.StatusNotFound || v["found"] != false {
		t.Fatalf("_doc of a missing record: %d %v", code, v)
	}
}

func TestHTTPErrors(t *testing.T) {
	h := newHTTPEnv(t)
	cases := []struct {
		method, path, body string
		status             int
		typ                string
	}{
		{"POST", "/logs/_search", `{"query":`, 400, "parsing_exception"},
		{"POST", "/logs/_search", `{"query":{"matchh":{"a":"b"}}}`, 400, "parsing_exception"},
		{"POST", "/logs/_search", `{"query":{"match":{}}}`, 400, "parsing_exception"},
		{"POST", "/logs/_search", `{"query":{"match":{"msg":{"query":"a","fuzzy":1}}}}`, 400, "parsing_exception"},
		{"POST", "/logs/_search", `{"query":{"match_all":{}},"aggs":{}}`, 400, "parsing_exception"},
		{"POST", "/logs/_search", `{"query":{"match_all":{},"term":{"a":1}}}`, 400, "parsing_exception"},
		{"POST", "/logs/_search", `{"query":{"bool":{"must":{"nope":{}}}}}`, 400, "parsing_exception"},
		{"POST", "/logs/_search", `{"query":{"range":{"user.id":{"gt":"x","lt":5}}}}`, 400, "parsing_exception"},
		{"POST", "/logs/_search", `{"query":{"query_string":{"query":"level:(ERROR"}}}`, 400, "parsing_exception"},
		{"POST", "/logs/_search", `{"size":"ten"}`, 400, "parsing_exception"},
		{"POST", "/logs/_search", `{"from":9999,"size":10}`, 400, "illegal_argument_exception"},
		{"POST", "/logs/_search", `{"sort":[{"_offset":"sideways"}]}`, 400, "parsing_exception"},
		{"POST", "/logs/_search", `[1,2]`, 400, "parsing_exception"},
		{"GET", "/logs/_search?q=level:ERROR%20AND", "", 400, "parsing_exception"},
		{"GET", "/logs/_search?qq=x", "", 400, "illegal_argument_exception"},
		{"GET", "/logs/_search?size=x", "", 400, "illegal_argument_exception"},
		{"GET", "/logs/_search?q=a", `{"query":{"match_all":{}}}`, 400, "illegal_argument_exception"},
		{"GET", "/nope/_search", "", 404, "index_not_found_exception"},
		{"DELETE", "/logs/_search", "", 405, "method_not_allowed_exception"},
		{"GET", "/logs/_rebuild", "", 405, "method_not_allowed_exception"},
		{"GET", "/logs/_unknown", "", 404, "no_handler_found_exception"},
		{"GET", "/_cat/indices?format=yaml", "", 400, "illegal_argument_exception"},
	}
	for _, c := range cases {
		code, v := h.do(t, c.method, c.path, c.body)
		if code != c.status {
			t.Errorf("%s %s %s: status %d, want %d: %v", c.method, c.path, c.body, code, c.status, v)
			continue
		}
		e, _ := v["error"].(map[string]any)
		rc, _ := e["root_cause"].([]any)
		if e["type"] != c.typ || len(rc) != 1 || rc[0].(map[string]any)["type"] != c.typ ||
			e["reason"] == "" || v["status"] != float64(c.status) {
			t.Errorf("%s %s %s: error body %v, want type %s", c.method, c.path, c.body, v, c.typ)
		}
	}
}

func TestHTTPCatAndRebuild(t *testing.T) {
	h := newHTTPEnv(t)
	get := func(path string) string {
		resp, err := http.Get(h.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	txt := get("/_cat/indices?v")
	lines := strings.Split(strings.TrimSpace(txt), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "health") {
		t.Fatalf("_cat/indices?v:\n%s", txt)
	}
	f := strings.Fields(lines[1])
	if f[2] != "logs" || f[3] != "2" || f[4] != "240" {
		t.Fatalf("_cat/indices row %q, want logs with 2 partitions and 240 docs", lines[1])
	}
	var rows []map[string]string
	if err := json.Unmarshal([]byte(get("/_cat/indices?format=json")), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0]["index"] != "logs" || rows[0]["docs.count"] != "240" || rows[0]["indexing.lag.records"] != "0" {
		t.Fatalf("_cat/indices json: %v", rows)
	}

	code, v := h.do(t, http.MethodPost, "/logs/_rebuild", "")
	if code != http.StatusOK || v["acknowledged"] != true {
		t.Fatalf("_rebuild: %d %v", code, v)
	}
	h.waitIndexed("logs", 0)
	h.waitIndexed("logs", 1)
	code, v = h.do(t, http.MethodGet, "/logs/_search?q=level:ERROR", "")
	if want := countProduced(h.recs, func(p *produced) bool { return p.level == "ERROR" }); code != http.StatusOK || total(t, v) != want {
		t.Fatalf("after rebuild: %d %v, want %d hits", code, v, want)
	}
	code, v = h.do(t, http.MethodGet, "/logs/_count", "")
	if code != http.StatusOK || v["count"] != float64(len(h.recs)) {
		t.Fatalf("after rebuild: count %v, want %d", v["count"], len(h.recs))
	}
}
