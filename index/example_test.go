package index_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chronik-go/chronik/index"
	"github.com/chronik-go/chronik/metadata"
	"github.com/chronik-go/chronik/produce"
	"github.com/chronik-go/chronik/record"
	"github.com/chronik-go/chronik/wire"
)

// A host wires search behind its produce handler: the pipeline is the
// handler's Indexer, indexes durable records in the background, and the
// HTTP API answers Elasticsearch-style searches, reading hits' records
// back from the log.
func Example() {
	dir, _ := os.MkdirTemp("", "chronik-index-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	meta := metadata.NewMemory(1)
	meta.CreateTopic(ctx, "logs", 1, nil, map[string]string{"search.enabled": "true"})
	ix, err := index.OpenBluge(filepath.Join(dir, "index"), index.BlugeOptions{})
	if err != nil {
		panic(err)
	}
	defer ix.Close()
	var h *produce.Handler
	pl, err := index.NewPipeline(ix, meta, index.PipelineOptions{
		OnLag: func(_ string, _ int32, lag time.Duration) { h.Metrics().ObserveIndexingLag(lag) },
	})
	if err != nil {
		panic(err)
	}
	defer pl.Close()
	cfg := produce.DefaultConfig()
	cfg.DataDir = filepath.Join(dir, "logs")
	h, err = produce.New(cfg, meta, produce.WithIndexer(pl))
	if err != nil {
		panic(err)
	}
	defer h.Close()
	if err := pl.Start(h); err != nil {
		panic(err)
	}

	// Produce three JSON records (acks=all).
	b := record.NewBuilder()
	for _, v := range []string{`{"level":"INFO","msg":"started"}`, `{"level":"ERROR","msg":"disk full"}`, `{"level":"ERROR","msg":"retrying"}`} {
		b.Append(time.Now().UnixMilli(), nil, []byte(v))
	}
	batch, _ := b.Finish(nil)
	h.HandleProduce(ctx, produce.RequestInfo{}, &wire.ProduceRequest{Version: 9, Acks: -1, TimeoutMs: 5000,
		Topics: []wire.ProduceTopic{{Name: "logs", Partitions: []wire.ProducePartition{{Partition: 0, Records: batch}}}}})
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	pl.WaitIndexed(wctx, "logs", 0, 3)

	api := index.NewHTTPHandler(index.HTTPConfig{Indexer: ix, Sources: &index.LogSource{Logs: h}, Topics: meta, Pipeline: pl})
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, httptest.NewRequest("POST", "/logs/_search",
		strings.NewReader(`{"query":{"match":{"msg":"disk"}},"_source":true}`)))
	fmt.Println(rec.Code, strings.Contains(rec.Body.String(), `"_source":{"level":"ERROR","msg":"disk full"}`))

	rec = httptest.NewRecorder()
	api.ServeHTTP(rec, httptest.NewRequest("GET", "/logs/_count?q=level:ERROR", nil))
	fmt.Println(rec.Body.String())
	// Output:
	// 200 true
	// {"_shards":{"total":1,"successful":1,"skipped":0,"failed":0},"count":2}
}
