// Command broker is a single-node Kafka-compatible broker built on chronik,
// wired exactly as a host application wires the library: a bbolt
// MetadataStore, a produce.Handler whose partition logs archive sealed
// segments to an object store, a durable Bluge search index under
// <data>/index fed behind the logs by an index.Pipeline (on by default,
// -enable-indexing), a txn.Coordinator for transactions and committed
// offsets, produce.ServeConn for every client connection, and the Kafka
// APIs a produce library leaves to its host (ApiVersions, Metadata, Fetch,
// ListOffsets, CreateTopics, the transaction APIs, and a classic consumer
// group coordinator) answered from the handler's logs, the coordinator and
// the store.
//
// Kafka clients (franz-go, sarama, kafka-go, librdkafka/kcat, kafkajs) use
// it with their default settings, transactions and consumer groups
// included:
//
//	go run ./examples/broker -data /tmp/chronik
//	echo 'k1:{"name":"ada"}' | kcat -P -b 127.0.0.1:9092 -t demo -K:
//	kcat -C -b 127.0.0.1:9092 -t demo -e
//	kcat -b 127.0.0.1:9092 -G readers -X auto.offset.reset=earliest -e demo
//	curl 127.0.0.1:8080/demo/_key/k1
//	curl '127.0.0.1:8080/demo/_search?q=name:ada'
//
// Its HTTP listener (-http) serves:
//
//	GET      /healthz             "ok" once the broker accepts Kafka connections, else 503
//	GET      /metrics             Prometheus text: the handler's metrics, Go runtime and process
//	GET      /{topic}/_key/{key}  records with that key, newest first (?partition=, ?limit=)
//	GET|POST /{topic}/_search     Elasticsearch-style search: ?q=<Lucene query>, or a JSON
//	                              body {"query", "from", "size", "sort", "_source"}
//	GET|POST /{topic}/_count      {"count": n} for the same queries
//	GET      /{topic}/_doc/{id}   one record by id "<partition>-<offset>"
//	POST     /{topic}/_rebuild    delete the topic's index and index it again from the log
//	GET      /_cat/indices        searchable topics: documents and indexing lag (?v, ?format=json)
//
// SIGINT or SIGTERM stops it cleanly: no new connections, requests already
// read are answered, the index and the partition logs are flushed and
// closed. Run with -help for the flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "broker:", err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	applyMemoryLimit(&cfg, logger)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, logger, nil); err != nil {
		logger.Error("broker failed", "err", err)
		stop()
		os.Exit(1)
	}
}
