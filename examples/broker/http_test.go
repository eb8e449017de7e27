package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// httpGet fetches url with a private client (closed at the end of the
// test, so that no keep-alive goroutine outlives it) and returns the
// status and body.
func httpGet(t testing.TB, url string) (int, string) {
	t.Helper()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func TestHealthzAndMetrics(t *testing.T) {
	b := newBroker(t, nil)
	base := "http://" + b.addrs.HTTP
	if code, body := httpGet(t, base+"/healthz"); code != http.StatusOK || strings.TrimSpace(body) != "ok" {
		t.Fatalf("healthz: %d %q", code, body)
	}
	createTopic(t, b.addrs.Kafka, "m", 1, nil)
	produceKgo(t, b.addrs.Kafka, "m", testRecords("m", 7, false), "none", -1, true)
	code, body := httpGet(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("metrics: %d", code)
	}
	for _, want := range []string{
		`(?m)^chronik_records_produced_total 7$`,
		`(?m)^chronik_bytes_produced_total [1-9]`,
		`(?m)^chronik_produce_latency_seconds_count\{acks="all"\} [1-9]`,
		`(?m)^go_goroutines [0-9]+$`,
		`(?m)^process_resident_memory_bytes `,
	} {
		if !regexp.MustCompile(want).MatchString(body) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if code, _ := httpGet(t, base+"/nothing/here"); code != http.StatusNotFound {
		t.Errorf("unknown path: %d", code)
	}
}

// keyLookup calls the key endpoint and decodes its answer.
func keyLookup(t testing.TB, base, topic, key, query string) (int, keyResponse) {
	t.Helper()
	u := base + "/" + url.PathEscape(topic) + "/_key/" + url.PathEscape(key)
	if query != "" {
		u += "?" + query
	}
	code, body := httpGet(t, u)
	var resp keyResponse
	if code == http.StatusOK {
		if err := json.Unmarshal([]byte(body), &resp); err != nil {
			t.Fatalf("%s: %v\n%s", u, err, body)
		}
	}
	return code, resp
}

func TestKeyLookup(t *testing.T) {
	b := newBroker(t, nil)
	base := "http://" + b.addrs.HTTP
	createTopic(t, b.addrs.Kafka, "users", 2, nil)
	cl := newKgo(t, b.addrs.Kafka, kgo.DefaultProduceTopic("users"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	now := time.Now().Truncate(time.Millisecond)
	produce := func(partition int32, key string, value []byte, ts time.Time, headers ...kgo.RecordHeader) {
		t.Helper()
		r := &kgo.Record{Partition: partition, Key: []byte(key), Value: value, Timestamp: ts, Headers: headers}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produce(0, "user-1", []byte(`{"name":"ada","v":1}`), now.Add(-3*time.Second))
	produce(0, "user-2", []byte("plain text"), now.Add(-2*time.Second))
	produce(0, "user-1", []byte(`{"name":"ada","v":2}`), now.Add(-time.Second), kgo.RecordHeader{Key: "src", Value: []byte("web")}, kgo.RecordHeader{Key: "src", Value: []byte("api")})
	produce(1, "user-1", []byte(`[1,2,3]`), now)
	produce(0, "a/b c", nil, now) // a tombstone, with a key that needs escaping

	code, r := keyLookup(t, base, "users", "user-1", "partition=0")
	if code != http.StatusOK || r.Topic != "users" || r.Partition != 0 || len(r.Records) != 2 {
		t.Fatalf("user-1 in partition 0: %d %+v", code, r)
	}
	if r.SegmentsScanned != 1 || r.SegmentsSkipped != 0 {
		t.Errorf("segments scanned %d skipped %d, want 1 and 0", r.SegmentsScanned, r.SegmentsSkipped)
	}
	newest, oldest := r.Records[0], r.Records[1]
	if newest.Offset != 2 || oldest.Offset != 0 || newest.Timestamp != now.Add(-time.Second).UnixMilli() || newest.Key != "user-1" {
		t.Fatalf("records not newest first: %+v", r.Records)
	}
	if string(newest.Value) != `{"name":"ada","v":2}` {
		t.Errorf("JSON value returned as %s, want the object itself", newest.Value)
	}
	if len(newest.Headers) != 2 || newest.Headers[0].Key != "src" || *newest.Headers[0].Value != "web" || *newest.Headers[1].Value != "api" {
		t.Errorf("headers %+v", newest.Headers)
	}
	if len(oldest.Headers) != 0 || oldest.Headers == nil {
		t.Errorf("no headers must be an empty list, got %#v", oldest.Headers)
	}

	// Every partition, merged newest first.
	_, all := keyLookup(t, base, "users", "user-1", "")
	if all.Partition != -1 || len(all.Records) != 3 || all.Records[0].Partition != 1 || string(all.Records[0].Value) != "[1,2,3]" {
		t.Fatalf("all partitions: %+v", all)
	}
	if _, lim := keyLookup(t, base, "users", "user-1", "limit=1"); len(lim.Records) != 1 || lim.Records[0].Partition != 1 {
		t.Fatalf("limit=1: %+v", lim.Records)
	}
	// A value that is not JSON comes back as a string; a null value as null.
	if _, r := keyLookup(t, base, "users", "user-2", "partition=0"); len(r.Records) != 1 || string(r.Records[0].Value) != `"plain text"` {
		t.Fatalf("user-2: %+v", r.Records)
	}
	if _, r := keyLookup(t, base, "users", "a/b c", "partition=0"); len(r.Records) != 1 || string(r.Records[0].Value) != "null" {
		t.Fatalf("escaped key: %+v", r.Records)
	}
	if _, r := keyLookup(t, base, "users", "nobody", "partition=0"); len(r.Records) != 0 || r.SegmentsScanned+r.SegmentsSkipped != 1 {
		t.Fatalf("absent key: %+v", r)
	}

	for _, c := range []struct {
		topic, query string
		code         int
	}{
		{"nope", "", http.StatusNotFound},
		{"users", "partition=2", http.StatusNotFound},
		{"users", "partition=x", http.StatusBadRequest},
		{"users", "limit=0", http.StatusBadRequest},
	} {
		if code, _ := keyLookup(t, base, c.topic, "user-1", c.query); code != c.code {
			t.Errorf("%s?%s: status %d, want %d", c.topic, c.query, code, c.code)
		}
	}
}

// TestSearchEndpoint produces JSON records with franz-go and finds them
// through the broker's Elasticsearch-style search API.
func TestSearchEndpoint(t *testing.T) {
	b := newBroker(t, nil)
	cl := newKgo(t, b.addrs.Kafka, kgo.AllowAutoTopicCreation())
	var recs []*kgo.Record
	for i := 0; i < 20; i++ {
		recs = append(recs, &kgo.Record{Topic: "events", Key: []byte(fmt.Sprint(i)),
			Value: fmt.Appendf(nil, `{"level":%q,"n":%d}`, []string{"info", "error"}[i%4/3], i)})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, body := httpGet(t, "http://"+b.addrs.HTTP+"/events/_search?q=level:error&size=100")
		var out struct {
			Hits struct {
				Total struct{ Value int } `json:"total"`
			} `json:"hits"`
		}
		err := json.Unmarshal([]byte(body), &out)
		if status == http.StatusOK && err == nil && out.Hits.Total.Value == 5 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("search answered %d %s: want 5 error records", status, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
