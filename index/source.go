package index

import (
	"context"
	"errors"
	"fmt"

	"github.com/chronik-go/chronik/produce"
	"github.com/chronik-go/chronik/record"
	"github.com/chronik-go/chronik/segment"
)

// Logs gives access to partition logs; produce.Handler implements it. Log
// fails for partitions this node does not lead.
type Logs interface {
	Log(topic string, partition int32) (*segment.Log, error)
}

// TransactionalLogs is the optional ability of Logs to tell what a
// read_committed consumer may see; produce.Handler implements it. With it
// the pipeline indexes only committed data (up to the last stable offset,
// without aborted transactions), as a read_committed consumer reads it;
// without it, everything up to the high watermark.
type TransactionalLogs interface {
	LastStableOffset(topic string, partition int32) (int64, error)
	AbortedTransactions(topic string, partition int32, from, to int64) ([]produce.AbortedTxn, error)
}

// SourceReader reads records back for search hits, so the index need not
// store them.
type SourceReader interface {
	// ReadRecords calls fn with each record of the partition whose offset
	// is listed (ascending). Offsets no longer (or not yet) readable are
	// skipped. fn's Document is valid only during the call.
	ReadRecords(ctx context.Context, topic string, partition int32, offsets []int64, fn func(*Document)) error
	// StartOffset returns the partition's first readable offset; records
	// below it were removed by retention.
	StartOffset(topic string, partition int32) (int64, error)
}

// LogSource is the SourceReader over partition logs.
type LogSource struct {
	Logs Logs
	// MaxDecompressedBytes caps one batch's decompressed size (default
	// 64 MiB, the produce path's default limit).
	MaxDecompressedBytes int
}

var _ SourceReader = (*LogSource)(nil)

// StartOffset implements SourceReader.
func (s *LogSource) StartOffset(topic string, partition int32) (int64, error) {
	l, err := s.Logs.Log(topic, partition)
	if err != nil {
		return 0, err
	}
	return l.StartOffset(), nil
}

// ReadRecords implements SourceReader: one log read per batch holding a
// wanted offset.
func (s *LogSource) ReadRecords(ctx context.Context, topic string, partition int32, offsets []int64, fn func(*Document)) error {
	if len(offsets) == 0 {
		return nil
	}
	l, err := s.Logs.Log(topic, partition)
	if err != nil {
		return err
	}
	hw := l.HighWatermark()
	var dec batchDecoder
	dec.limit = s.MaxDecompressedBytes
	i := 0
	for i < len(offsets) {
		if err := ctx.Err(); err != nil {
			return err
		}
		o := offsets[i]
		if o >= hw {
			break
		}
		data, err := l.ReadContext(ctx, o, 1, hw)
		var oor *segment.OffsetOutOfRangeError
		if errors.As(err, &oor) {
			i++ // removed by retention meanwhile
			continue
		}
		if err != nil {
			return err
		}
		if len(data) < record.HeaderSize {
			break
		}
		h := record.ReadHeader(data)
		if h.Size() > len(data) || h.Control() {
			i++
			continue
		}
		last := h.LastOffset()
		err = dec.walk(data[:h.Size()], &h, func(d *Document) bool {
			for i < len(offsets) && offsets[i] < d.Offset {
				i++
			}
			if i < len(offsets) && offsets[i] == d.Offset {
				fn(d)
				i++
			}
			return i < len(offsets)
		})
		if err != nil {
			return err
		}
		for i < len(offsets) && offsets[i] <= last {
			i++
		}
	}
	return nil
}

// batchDecoder turns stored batches into Documents.
type batchDecoder struct {
	limit int
	doc   Document
	hdrs  []Header
}

// errStop ends a walk early without error.
var errStop = errors.New("stop")

// walk calls fn with each record of the v2 batch b as a Document that
// aliases b (or a fresh decompression buffer, kept alive by the
// Document). fn returns false to stop.
func (d *batchDecoder) walk(b []byte, h *record.Header, fn func(*Document) bool) error {
	limit := d.limit
	if limit <= 0 {
		limit = 64 << 20
	}
	_, err := record.WalkBatch(b, h, nil, limit, func(_ int, r *record.Record) error {
		doc := &d.doc
		*doc = Document{Offset: h.Offset(r), Timestamp: h.Timestamp(r), Key: r.Key, Value: r.Value}
		d.hdrs = d.hdrs[:0]
		if r.NumHeaders > 0 {
			if err := r.ForEachHeader(func(k, v []byte) error {
				d.hdrs = append(d.hdrs, Header{Key: string(k), Value: v})
				return nil
			}); err != nil {
				return err
			}
			doc.Headers = d.hdrs
		}
		if !fn(doc) {
			return errStop
		}
		return nil
	})
	if err != nil && err != errStop {
		return fmt.Errorf("index: decode batch at offset %d: %w", h.BaseOffset, err)
	}
	return nil
}

// abortedBatch reports whether a transactional batch belongs to an
// aborted transaction: Kafka's read_committed rule, a batch of producer P
// at offset o is dropped when an aborted transaction of P spans o
// (first offset <= o < marker offset).
func abortedBatch(h *record.Header, aborted []produce.AbortedTxn) bool {
	if !h.Transactional() {
		return false
	}
	for _, a := range aborted {
		if a.ProducerID == h.ProducerID && a.FirstOffset <= h.BaseOffset && h.BaseOffset < a.MarkerOffset {
			return true
		}
	}
	return false
}
