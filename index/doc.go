// Package index is chronik's real-time search: every record of a
// search-enabled topic becomes a document in a durable index, searchable
// about a second (usually milliseconds) after it is acknowledged, through
// an Elasticsearch-style query API in Go and over HTTP.
//
// Indexing runs behind the log, never in the produce ack path. The
// produce handler calls Pipeline.Notify after each append; the Pipeline's
// workers read durable (and, with transactions, committed) records from
// each partition's checkpoint and hand them to an Indexer in batches. The
// Indexer stores each partition's checkpoint atomically with the documents
// it covers, so after a crash indexing resumes from the checkpoint with
// nothing lost and nothing indexed twice.
//
// Indexer is the plug-in boundary. Bluge (OpenBluge) is the durable
// implementation: one bluge index per topic-partition with our own segment
// builder; Memory (NewMemory) is a simple in-memory one for tests;
// indextest.Run checks any implementation. The index keeps no record
// contents: a hit names its partition and offset, and Searcher reads the
// record back from the log (SourceReader) to return its _source.
//
// Records map to fields as Elasticsearch's dynamic mapping would: JSON
// values are flattened into dotted names, strings are analysed text plus a
// ".keyword" exact field, numbers are numeric, RFC 3339 strings are dates
// too, and every document has _key, _timestamp, _partition, _offset and
// _headers.<name>; non-JSON values are text in _value. Queries are the
// Query types (match_all, match, match_phrase, term, terms, range, exists,
// prefix, wildcard, ids, bool, query_string with Lucene syntax), read from
// JSON by ParseQuery and ParseSearchBody; NewHTTPHandler serves
// /{topic}/_search, /{topic}/_count, /{topic}/_doc/{id},
// /{topic}/_rebuild and /_cat/indices.
//
// The on-disk layout, the checkpoint record, the field mapping, the query
// DSL and the goroutines and locks are described in docs/format.md and
// docs/architecture.md.
package index
