package index

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// HTTPConfig is what the search HTTP API serves.
type HTTPConfig struct {
	Indexer  Indexer
	Sources  SourceReader // hits' records; nil serves hits without _source
	Topics   Topics       // nil: every topic is searchable, none is unknown
	Pipeline *Pipeline    // nil: no lag in _cat/indices and no _rebuild
	Logger   *slog.Logger
	// MaxBodyBytes bounds a request body (default 1 MiB).
	MaxBodyBytes int64
}

// NewHTTPHandler returns the search API, Elasticsearch-compatible where
// they overlap (topics are indices):
//
//	GET|POST /{topic}/_search    body {"query", "from", "size", "sort", "_source"};
//	                             or GET ?q=<Lucene query>&df=&default_operator=&from=&size=&sort=f:desc
//	GET|POST /{topic}/_count     {"count": n} for a query
//	GET      /{topic}/_doc/{id}  one record by id "<partition>-<offset>"
//	POST     /{topic}/_rebuild   delete the topic's index and index it again from the log
//	GET      /_cat/indices       searchable topics: documents and indexing lag (?v, ?format=json)
//
// Errors use Elasticsearch's body shape; a malformed query is a 400
// parsing_exception, an unknown topic a 404 index_not_found_exception.
// Mount it at the root, or under a prefix with http.StripPrefix.
func NewHTTPHandler(cfg HTTPConfig) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	h := &httpAPI{cfg: cfg, s: &Searcher{Indexer: cfg.Indexer, Sources: cfg.Sources, Topics: cfg.Topics}}
	mux := http.NewServeMux()
	mux.HandleFunc("/_cat/indices", h.catIndices)
	mux.HandleFunc("/{topic}/_search", h.search)
	mux.HandleFunc("/{topic}/_count", h.count)
	mux.HandleFunc("/{topic}/_doc/{id}", h.doc)
	mux.HandleFunc("/{topic}/_rebuild", h.rebuild)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, http.StatusNotFound, "no_handler_found_exception", fmt.Sprintf("no handler found for uri [%s] and method [%s]", r.URL.Path, r.Method), "")
	})
	return mux
}

type httpAPI struct {
	cfg HTTPConfig
	s   *Searcher
}

// esError is Elasticsearch's error body.
type esError struct {
	Error  esErrorBody `json:"error"`
	Status int         `json:"status"`
}

type esErrorBody struct {
	RootCause []esCause `json:"root_cause"`
	esCause
}

type esCause struct {
	Type   string `json:"type"`
	Reason string `json:"reason"`
	Index  string `json:"index,omitempty"`
}

func (h *httpAPI) fail(w http.ResponseWriter, r *http.Request, status int, typ, reason, index string) {
	c := esCause{Type: typ, Reason: reason, Index: index}
	h.writeJSON(w, r, status, esError{Error: esErrorBody{RootCause: []esCause{c}, esCause: c}, Status: status})
}

func (h *httpAPI) failErr(w http.ResponseWriter, r *http.Request, err error) {
	var qe *QueryError
	switch {
	case errors.As(err, &qe):
		h.fail(w, r, http.StatusBadRequest, qe.Type, qe.Reason, "")
	case errors.Is(err, context.DeadlineExceeded):
		h.fail(w, r, http.StatusGatewayTimeout, "timeout_exception", err.Error(), "")
	case errors.Is(err, context.Canceled):
		h.fail(w, r, 499, "task_cancelled_exception", err.Error(), "")
	default:
		h.cfg.Logger.Error("search API request failed", "path", r.URL.Path, "err", err)
		h.fail(w, r, http.StatusInternalServerError, "exception", err.Error(), "")
	}
}

func (h *httpAPI) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	var b []byte
	var err error
	if _, pretty := r.URL.Query()["pretty"]; pretty {
		b, err = json.MarshalIndent(v, "", "  ")
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		h.cfg.Logger.Error("search API response encoding failed", "err", err)
		status, b = http.StatusInternalServerError, []byte(`{"error":{"type":"exception","reason":"response encoding failed"},"status":500}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// checkParams refuses unknown URL parameters, as Elasticsearch does.
func (h *httpAPI) checkParams(w http.ResponseWriter, r *http.Request, allowed ...string) bool {
	for k := range r.URL.Query() {
		if k != "pretty" && !slices.Contains(allowed, k) {
			h.fail(w, r, http.StatusBadRequest, "illegal_argument_exception",
				fmt.Sprintf("request [%s] contains unrecognized parameter: [%s]", r.URL.Path, k), "")
			return false
		}
	}
	return true
}

func (h *httpAPI) method(w http.ResponseWriter, r *http.Request, allowed ...string) bool {
	if slices.Contains(allowed, r.Method) {
		return true
	}
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	h.fail(w, r, http.StatusMethodNotAllowed, "method_not_allowed_exception",
		fmt.Sprintf("Incorrect HTTP method for uri [%s] and method [%s], allowed: [%s]", r.URL.Path, r.Method, strings.Join(allowed, ", ")), "")
	return false
}

// topic checks that the path's topic exists.
func (h *httpAPI) topic(w http.ResponseWriter, r *http.Request) (string, bool) {
	t := r.PathValue("topic")
	if h.cfg.Topics != nil {
		if _, ok := h.cfg.Topics.Topic(t); !ok {
			h.fail(w, r, http.StatusNotFound, "index_not_found_exception", "no such index ["+t+"]", t)
			return "", false
		}
	}
	return t, true
}

func (h *httpAPI) body(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.fail(w, r, http.StatusRequestEntityTooLarge, "content_too_long_exception", fmt.Sprintf("request body is larger than %d bytes", mbe.Limit), "")
		} else {
			h.fail(w, r, http.StatusBadRequest, "parsing_exception", "cannot read the request body: "+err.Error(), "")
		}
		return nil, false
	}
	return b, true
}

// searchRequest builds the request from the URL parameters and body.
func (h *httpAPI) searchRequest(w http.ResponseWriter, r *http.Request) (*SearchBody, bool) {
	if !h.checkParams(w, r, "q", "df", "default_operator", "from", "size", "sort", "_source", "track_total_hits") {
		return nil, false
	}
	body, ok := h.body(w, r)
	if !ok {
		return nil, false
	}
	sb, err := ParseSearchBody(body)
	if err != nil {
		h.failErr(w, r, err)
		return nil, false
	}
	q := r.URL.Query()
	if qs := q.Get("q"); q.Has("q") {
		if sb.Request.Query != nil {
			h.fail(w, r, http.StatusBadRequest, "illegal_argument_exception", "cannot use [q] with a query in the request body", "")
			return nil, false
		}
		sb.Request.Query = &QueryStringQuery{Query: qs, DefaultField: q.Get("df"), DefaultOperator: q.Get("default_operator")}
	} else if q.Has("df") || q.Has("default_operator") {
		h.fail(w, r, http.StatusBadRequest, "illegal_argument_exception", "[df] and [default_operator] need [q]", "")
		return nil, false
	}
	for _, p := range []struct {
		name string
		dst  *int
	}{{"from", &sb.Request.From}, {"size", &sb.Request.Size}} {
		if v := q.Get(p.name); q.Has(p.name) {
			n, err := strconv.Atoi(v)
			if err != nil {
				h.fail(w, r, http.StatusBadRequest, "illegal_argument_exception", fmt.Sprintf("Failed to parse int parameter [%s] with value [%s]", p.name, v), "")
				return nil, false
			}
			*p.dst = n
		}
	}
	if v := q.Get("sort"); q.Has("sort") {
		s, err := sortParam(v)
		if err != nil {
			h.failErr(w, r, err)
			return nil, false
		}
		sb.Request.Sort = s
	}
	if v := q.Get("_source"); q.Has("_source") {
		b, err := strconv.ParseBool(v)
		if err != nil {
			h.fail(w, r, http.StatusBadRequest, "illegal_argument_exception", "[_source] must be true or false", "")
			return nil, false
		}
		sb.Source = b
	}
	return sb, true
}

func (h *httpAPI) search(w http.ResponseWriter, r *http.Request) {
	if !h.method(w, r, http.MethodGet, http.MethodPost) {
		return
	}
	topic, ok := h.topic(w, r)
	if !ok {
		return
	}
	sb, ok := h.searchRequest(w, r)
	if !ok {
		return
	}
	res, err := h.s.Search(r.Context(), topic, &sb.Request, sb.Source)
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	h.writeJSON(w, r, http.StatusOK, res)
}

func (h *httpAPI) count(w http.ResponseWriter, r *http.Request) {
	if !h.method(w, r, http.MethodGet, http.MethodPost) {
		return
	}
	topic, ok := h.topic(w, r)
	if !ok {
		return
	}
	sb, ok := h.searchRequest(w, r)
	if !ok {
		return
	}
	req := sb.Request
	req.From, req.Size, req.Sort = 0, 0, nil
	res, err := h.s.Search(r.Context(), topic, &req, false)
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	h.writeJSON(w, r, http.StatusOK, map[string]any{"count": res.Hits.Total.Value, "_shards": res.Shards})
}

func (h *httpAPI) doc(w http.ResponseWriter, r *http.Request) {
	if !h.method(w, r, http.MethodGet) || !h.checkParams(w, r) {
		return
	}
	topic, ok := h.topic(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	res, err := h.s.Search(r.Context(), topic, &Request{Query: &IDsQuery{Values: []string{id}}, Size: 1}, true)
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	if len(res.Hits.Hits) == 0 {
		h.writeJSON(w, r, http.StatusNotFound, map[string]any{"_index": topic, "_id": id, "found": false})
		return
	}
	hit := res.Hits.Hits[0]
	h.writeJSON(w, r, http.StatusOK, map[string]any{
		"_index": topic, "_id": id, "found": true, "_source": hit.Source,
		"_partition": hit.Partition, "_offset": hit.Offset, "_timestamp": hit.Timestamp, "_key": hit.Key,
	})
}

func (h *httpAPI) rebuild(w http.ResponseWriter, r *http.Request) {
	if !h.method(w, r, http.MethodPost) || !h.checkParams(w, r) {
		return
	}
	topic, ok := h.topic(w, r)
	if !ok {
		return
	}
	if h.cfg.Pipeline == nil {
		h.fail(w, r, http.StatusBadRequest, "illegal_argument_exception", "this server does not index topics", "")
		return
	}
	if err := h.cfg.Pipeline.Rebuild(r.Context(), topic); err != nil {
		h.failErr(w, r, err)
		return
	}
	h.writeJSON(w, r, http.StatusOK, map[string]any{"acknowledged": true, "index": topic})
}

// catRow is one line of _cat/indices. Values are strings, as
// Elasticsearch's _cat API gives them in JSON.
type catRow struct {
	Health     string `json:"health"`
	Status     string `json:"status"`
	Index      string `json:"index"`
	Pri        string `json:"pri"`
	DocsCount  string `json:"docs.count"`
	LagRecords string `json:"indexing.lag.records"`
	LagMs      string `json:"indexing.lag.ms"`
}

func (h *httpAPI) catIndices(w http.ResponseWriter, r *http.Request) {
	if !h.method(w, r, http.MethodGet) || !h.checkParams(w, r, "v", "format") {
		return
	}
	topics, err := h.cfg.Indexer.Topics()
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	if h.cfg.Topics != nil {
		for _, t := range h.cfg.Topics.Topics() {
			if h.cfg.Pipeline != nil && h.cfg.Pipeline.enabled(&t) && !slices.Contains(topics, t.Name) {
				topics = append(topics, t.Name)
			}
		}
	}
	slices.Sort(topics)
	var rows []catRow
	for _, t := range topics {
		st, err := h.cfg.Indexer.Stats(t)
		if err != nil {
			h.failErr(w, r, err)
			return
		}
		pri := len(st.Partitions)
		if h.cfg.Topics != nil {
			if mt, ok := h.cfg.Topics.Topic(t); ok {
				pri = len(mt.Partitions)
			}
		}
		var lagRecords int64
		var lagTime time.Duration
		if h.cfg.Pipeline != nil {
			for _, l := range h.cfg.Pipeline.Lag(t) {
				lagRecords += l.Records
				lagTime = max(lagTime, l.Time)
			}
		}
		health := "green"
		if lagTime > 10*time.Second {
			health = "yellow"
		}
		rows = append(rows, catRow{Health: health, Status: "open", Index: t, Pri: strconv.Itoa(pri),
			DocsCount: strconv.FormatInt(st.Docs, 10), LagRecords: strconv.FormatInt(lagRecords, 10),
			LagMs: strconv.FormatInt(lagTime.Milliseconds(), 10)})
	}
	q := r.URL.Query()
	switch q.Get("format") {
	case "json":
		if rows == nil {
			rows = []catRow{}
		}
		h.writeJSON(w, r, http.StatusOK, rows)
		return
	case "", "txt", "text":
	default:
		h.fail(w, r, http.StatusBadRequest, "illegal_argument_exception", "unsupported format ["+q.Get("format")+"]", "")
		return
	}
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 1, ' ', 0)
	if q.Has("v") {
		fmt.Fprintln(tw, "health\tstatus\tindex\tpri\tdocs.count\tindexing.lag.records\tindexing.lag.ms")
	}
	for _, row := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", row.Health, row.Status, row.Index, row.Pri, row.DocsCount, row.LagRecords, row.LagMs)
	}
	tw.Flush()
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	w.Write(buf.Bytes())
}
