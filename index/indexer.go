package index

import (
	"context"
	"errors"
	"fmt"
)

// Indexer is the search index plug-in: it stores what is needed to find
// records and answers searches with (partition, offset) hits. The pipeline
// feeds it; the search API reads it. Memory and Bluge implement it, and
// indextest.Run checks any implementation.
//
// Every method is safe for concurrent use, except that Index calls for one
// partition must not run concurrently with each other (the pipeline runs
// one at a time per partition). After Close every method returns an error
// wrapping ErrClosed, and Close returns nil.
type Indexer interface {
	// Index adds b.Docs to the index of b.Topic and sets the partition's
	// checkpoint to b.Next, atomically: after a crash at any moment the
	// index holds either all of the batch and the new checkpoint or none
	// of it and the old one. Documents below the partition's current
	// checkpoint are already indexed and are skipped, and the checkpoint
	// never moves back, so repeating a batch (or overlapping an earlier
	// one) indexes each record once. A batch whose offsets are not
	// ascending or reach b.Next is refused with a *BatchError, changing
	// nothing. If ctx is done before the write starts Index returns
	// ctx.Err() having changed nothing; once started the write completes.
	// Storage failures are returned wrapped (*StorageError for Bluge).
	Index(ctx context.Context, b *Batch) error

	// Search runs req over the documents of topic that are indexed now
	// (near real time: everything a completed Index call added). A topic
	// with nothing indexed gives an empty result. An invalid request or
	// query is a *QueryError. ctx bounds the search: when it is done the
	// search stops with ctx.Err().
	Search(ctx context.Context, topic string, req *Request) (*Result, error)

	// Checkpoint returns the partition's checkpoint: the offset below
	// which every record has been indexed, 0 for a partition never
	// indexed. It is what a restarted pipeline resumes from.
	Checkpoint(topic string, partition int32) (int64, error)

	// Stats returns the topic's document counts and checkpoints; a topic
	// with no index has no partitions and zero documents.
	Stats(topic string) (TopicStats, error)

	// Topics lists the topics that have an index, sorted.
	Topics() ([]string, error)

	// DeleteTopic removes the topic's documents and checkpoints, durably,
	// so that indexing starts again from offset 0. Deleting a topic that
	// has no index does nothing. The caller must not run Index for the
	// topic concurrently.
	DeleteTopic(ctx context.Context, topic string) error

	// Close makes what was indexed durable and releases everything. It is
	// idempotent.
	Close() error
}

// Batch is what one Index call adds: records of one partition in
// ascending offset order and the checkpoint that follows them.
type Batch struct {
	Topic     string
	Partition int32
	Docs      []Document
	// Next is the partition's checkpoint once the batch is indexed: the
	// next offset to index. It may lie beyond the last document (offsets
	// of control batches and skipped records are covered too).
	Next int64
	// Fields is the topic's search.fields: when non-empty only these
	// fields of record values are indexed (a name covers the fields under
	// it: "user" covers "user.id"); record metadata (_key, _timestamp,
	// _offset, _partition, _headers.*) is always indexed.
	Fields []string
}

// Request is one search.
type Request struct {
	// Query selects documents; nil matches every document.
	Query Query
	// From is how many hits to skip, Size how many to return (0 returns
	// none, only the total). From+Size may not exceed MaxResultWindow.
	From, Size int
	// Sort orders the hits; empty sorts by score, highest first. Ties are
	// broken by partition, then by index order within a partition.
	Sort []SortField
	// MinOffsets holds, per partition, the first offset still in the log:
	// documents below it belong to records removed by retention and are
	// ignored (they neither match nor count).
	MinOffsets map[int32]int64
}

// MaxResultWindow bounds From+Size, as Elasticsearch's
// index.max_result_window does by default.
const MaxResultWindow = 10000

// SortField is one sort key.
type SortField struct {
	// Field is "_score", "_offset", "_timestamp", "_partition", a field
	// holding numbers or dates, or a keyword field ("<field>.keyword",
	// "_key"). Documents without a value sort last.
	Field string
	Desc  bool
}

// Result is what Search found.
type Result struct {
	// Total is the exact number of matching documents.
	Total int64
	// MaxScore is the highest score among all matches (0 without
	// matches).
	MaxScore float64
	Hits     []Hit
}

// Hit is one matching document.
type Hit struct {
	Partition int32
	Offset    int64
	Score     float64
	// Sort holds the hit's sort values when the request sorts by fields:
	// float64 for numbers and scores, int64 epoch milliseconds for dates
	// and _timestamp, int64 for _offset and _partition, string for
	// keywords, nil when the document has no value.
	Sort []any
}

// TopicStats describes one topic's index.
type TopicStats struct {
	Docs       int64
	Partitions map[int32]PartitionStats
}

// PartitionStats describes one partition's index.
type PartitionStats struct {
	Docs       int64
	Checkpoint int64
}

// ErrClosed is returned (wrapped) by every Indexer method after Close.
var ErrClosed = errors.New("index: closed")

// BatchError is a batch that Index refuses: its documents are not in
// ascending offset order below Next.
type BatchError struct {
	Topic     string
	Partition int32
	Offset    int64 // the first offending document's offset
	Reason    string
}

func (e *BatchError) Error() string {
	return fmt.Sprintf("index: invalid batch for %s-%d at offset %d: %s", e.Topic, e.Partition, e.Offset, e.Reason)
}

// QueryError is a request or query that cannot be run: malformed,
// unsupported or out of range. The HTTP API answers it with status 400 and
// an Elasticsearch error of type Type.
type QueryError struct {
	Type   string // Elasticsearch's error type, e.g. "parsing_exception"
	Reason string
}

func (e *QueryError) Error() string { return "index: " + e.Type + ": " + e.Reason }

func parsingError(format string, args ...any) *QueryError {
	return &QueryError{Type: "parsing_exception", Reason: fmt.Sprintf(format, args...)}
}

func illegalArgument(format string, args ...any) *QueryError {
	return &QueryError{Type: "illegal_argument_exception", Reason: fmt.Sprintf(format, args...)}
}

// checkBatch validates b's shape (shared by the implementations).
func checkBatch(b *Batch) error {
	prev := int64(-1)
	for i := range b.Docs {
		o := b.Docs[i].Offset
		switch {
		case o < 0:
			return &BatchError{b.Topic, b.Partition, o, "negative offset"}
		case o <= prev:
			return &BatchError{b.Topic, b.Partition, o, "offsets not ascending"}
		case o >= b.Next:
			return &BatchError{b.Topic, b.Partition, o, fmt.Sprintf("offset not below Next %d", b.Next)}
		}
		prev = o
	}
	if b.Partition < 0 {
		return &BatchError{b.Topic, b.Partition, -1, "negative partition"}
	}
	if b.Topic == "" {
		return &BatchError{b.Topic, b.Partition, -1, "empty topic"}
	}
	return nil
}

// checkRequest validates the paging and sort of a request.
func checkRequest(req *Request) error {
	if req.From < 0 {
		return illegalArgument("[from] parameter cannot be negative, found [%d]", req.From)
	}
	if req.Size < 0 {
		return illegalArgument("[size] parameter cannot be negative, found [%d]", req.Size)
	}
	if req.From+req.Size > MaxResultWindow {
		return illegalArgument("Result window is too large, from + size must be less than or equal to: [%d] but was [%d]",
			MaxResultWindow, req.From+req.Size)
	}
	for _, s := range req.Sort {
		if s.Field == "" {
			return illegalArgument("sort field name is empty")
		}
	}
	return nil
}
