package index

import (
	"strconv"
	"strings"
)

// Document is one Kafka record to index: where it lives in the log and what
// it holds. The index keeps only what searching needs; hits read the record
// back from the log by (Partition, Offset).
type Document struct {
	Offset    int64    // the record's offset in its partition
	Timestamp int64    // the record's timestamp, Unix milliseconds
	Key       []byte   // nil for a null key
	Headers   []Header // record headers, in order
	Value     []byte   // nil for a null value
}

// Header is one record header; a nil Value is a null header value.
type Header struct {
	Key   string
	Value []byte
}

// DocID returns a record's document id, "<partition>-<offset>": unique
// within a topic and stable across re-indexing.
func DocID(partition int32, offset int64) string {
	b := make([]byte, 0, 24)
	b = strconv.AppendInt(b, int64(partition), 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, offset, 10)
	return string(b)
}

// ParseDocID splits a document id made by DocID; ok is false for anything
// else.
func ParseDocID(id string) (partition int32, offset int64, ok bool) {
	p, o, found := strings.Cut(id, "-")
	if !found {
		return 0, 0, false
	}
	pn, err := strconv.ParseInt(p, 10, 32)
	if err != nil || pn < 0 {
		return 0, 0, false
	}
	on, err := strconv.ParseInt(o, 10, 64)
	if err != nil || on < 0 {
		return 0, 0, false
	}
	return int32(pn), on, true
}
