package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Clients of the broker's search HTTP API (index.NewHTTPHandler, mounted
// at the root of the broker's -http address), used to reconcile what the
// broker indexed.

// searchHTTP is the HTTP client of the search API calls.
var searchHTTP = &http.Client{Timeout: 30 * time.Second}

// indexStall is how long the index may go without indexing a new record
// before a wait for it to catch up gives up.
const indexStall = 60 * time.Second

// IndexLagError is an index that stopped catching up with its topic.
type IndexLagError struct {
	Topic    string
	Indexed  int64 // docs.count when the wait gave up
	Produced int64
	Stalled  time.Duration
}

func (e *IndexLagError) Error() string {
	return fmt.Sprintf("search index of topic %q: %d of %d produced records indexed, no progress for %v",
		e.Topic, e.Indexed, e.Produced, e.Stalled)
}

// catDocsCount returns docs.count of topic in GET /_cat/indices?format=json;
// 0 when the topic is not listed yet.
func catDocsCount(ctx context.Context, httpAddr, topic string) (int64, error) {
	raw, err := httpDo(ctx, http.MethodGet, httpAddr, "/_cat/indices?format=json", nil)
	if err != nil {
		return 0, err
	}
	var rows []struct {
		Index     string `json:"index"`
		DocsCount string `json:"docs.count"`
	}
	if err := json.Unmarshal(raw, &rows); err != nil {
		return 0, fmt.Errorf("_cat/indices: %w", err)
	}
	for _, r := range rows {
		if r.Index == topic {
			n, err := strconv.ParseInt(r.DocsCount, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("_cat/indices: docs.count of %s: %w", topic, err)
			}
			return n, nil
		}
	}
	return 0, nil
}

// waitIndexed polls docs.count of topic until it equals produced and
// returns how long that took. More documents than produced records, or
// no progress for stall, is an error.
func waitIndexed(ctx context.Context, httpAddr, topic string, produced int64, stall time.Duration) (time.Duration, error) {
	if httpAddr == "" {
		return 0, fmt.Errorf("search index of topic %q: the broker has no HTTP listener", topic)
	}
	start := time.Now()
	last, lastChange := int64(-1), start
	for {
		n, err := catDocsCount(ctx, httpAddr, topic)
		if err != nil {
			return time.Since(start), err
		}
		switch {
		case n == produced:
			return time.Since(start), nil
		case n > produced:
			return time.Since(start), fmt.Errorf("search index of topic %q holds %d documents, only %d records were produced", topic, n, produced)
		case n != last:
			last, lastChange = n, time.Now()
		case time.Since(lastChange) > stall:
			return time.Since(start), &IndexLagError{Topic: topic, Indexed: n, Produced: produced, Stalled: stall}
		}
		select {
		case <-ctx.Done():
			return time.Since(start), ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// termCount asks POST /{topic}/_count for the documents whose field holds
// exactly value.
func termCount(ctx context.Context, httpAddr, topic, field string, value any) (int64, error) {
	body, err := json.Marshal(map[string]any{"query": map[string]any{"term": map[string]any{field: value}}})
	if err != nil {
		return 0, err
	}
	raw, err := httpDo(ctx, http.MethodPost, httpAddr, "/"+topic+"/_count", body)
	if err != nil {
		return 0, err
	}
	var c struct {
		Count *int64 `json:"count"`
	}
	if err := json.Unmarshal(raw, &c); err != nil || c.Count == nil {
		return 0, fmt.Errorf("_count of %s: unexpected answer %s", topic, bytes.TrimSpace(raw))
	}
	return *c.Count, nil
}

// keywordCheck is a term query whose expected count is the number of
// produced values holding a JSON member exactly.
type keywordCheck struct {
	Field  string // queried field
	Value  string
	Member []byte // what a value holding it contains, e.g. "level":"ERROR"
}

// indexCountChecks are the term queries P6-produce runs after the index
// caught up.
var indexCountChecks = []keywordCheck{
	{"level.keyword", "ERROR", []byte(`"level":"ERROR"`)},
	{"service.keyword", "checkout", []byte(`"service":"checkout"`)},
}

// checkIndexCounts compares, for every indexCountChecks query, the count
// the broker's search API gives with the number of acknowledged records
// whose value holds the member.
func checkIndexCounts(ctx context.Context, httpAddr, topic string, l *ledger, gen recordGen) error {
	var p problems
	for _, c := range indexCountChecks {
		var want int64
		for _, acks := range l.acks {
			for _, a := range acks {
				_, v := gen.record(nil, a.n)
				if bytes.Contains(v, c.Member) {
					want++
				}
			}
		}
		got, err := termCount(ctx, httpAddr, topic, c.Field, c.Value)
		if err != nil {
			return err
		}
		if got != want {
			p.addf("term %s = %q: %d documents, %d acknowledged records hold it", c.Field, c.Value, got, want)
		}
	}
	if len(p.list) > 0 {
		return &IndexReconcileError{Index: "the search index of topic " + topic, Problems: p.list, More: p.more}
	}
	return nil
}

// httpDo sends one request to the broker's HTTP listener and returns the
// body of a 200 answer.
func httpDo(ctx context.Context, method, httpAddr, path string, body []byte) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+httpAddr+path, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := searchHTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(raw))
	}
	return raw, nil
}
