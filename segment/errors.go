package segment

import (
	"errors"
	"fmt"

	"github.com/chronik-go/chronik/errcode"
)

// ErrClosed is returned by every Log method called after Close.
var ErrClosed = errors.New("segment: log closed")

// CorruptionError describes invalid bytes found in a segment's .log file
// while recovering: a torn or corrupt tail, or a segment that does not
// continue the previous one. Recovery truncates there and reports it in a
// TailTruncated event.
type CorruptionError struct {
	Segment string // path of the .log file
	Offset  int64  // the offset the log expected at FilePos
	FilePos int64  // byte position of the first invalid byte
	Reason  string // what was wrong
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("segment: corrupt data in %s at byte %d (expected offset %d): %s", e.Segment, e.FilePos, e.Offset, e.Reason)
}

// Code returns CORRUPT_MESSAGE.
func (e *CorruptionError) Code() errcode.Code { return errcode.CorruptMessage }

// StorageError is a failed write, fsync or file operation. It makes the log
// refuse every later Append (a sticky error); the produce path answers it
// with KAFKA_STORAGE_ERROR. Reopening the log recovers.
type StorageError struct {
	Op   string // "write", "sync", "create", "seal", ...
	Path string // the file or directory involved
	Err  error  // the cause
}

func (e *StorageError) Error() string {
	return fmt.Sprintf("segment: %s %s: %v", e.Op, e.Path, e.Err)
}

// Unwrap returns the cause.
func (e *StorageError) Unwrap() error { return e.Err }

// Code returns KAFKA_STORAGE_ERROR.
func (e *StorageError) Code() errcode.Code { return errcode.KafkaStorageError }

// OffsetOutOfRangeError is returned by reads of an offset below the log
// start offset or above the log end offset.
type OffsetOutOfRangeError struct {
	Offset      int64 // the offset asked for
	StartOffset int64 // the log start offset at the time
	EndOffset   int64 // the log end offset at the time
}

func (e *OffsetOutOfRangeError) Error() string {
	return fmt.Sprintf("segment: offset %d out of range [%d, %d]", e.Offset, e.StartOffset, e.EndOffset)
}

// Code returns OFFSET_OUT_OF_RANGE.
func (e *OffsetOutOfRangeError) Code() errcode.Code { return errcode.OffsetOutOfRange }

// BatchTooLargeError is returned by Append for a batch larger than
// SegmentBytes: Kafka's RecordListTooLarge check (UnifiedLog.append).
type BatchTooLargeError struct {
	Size         int
	SegmentBytes int64
}

func (e *BatchTooLargeError) Error() string {
	return fmt.Sprintf("segment: batch of %d bytes exceeds segment size %d", e.Size, e.SegmentBytes)
}

// Code returns RECORD_LIST_TOO_LARGE.
func (e *BatchTooLargeError) Code() errcode.Code { return errcode.RecordListTooLarge }

// InvalidBatchError is returned by Append for bytes that are not one whole
// v2 record batch; nothing is written.
type InvalidBatchError struct {
	Reason string
}

func (e *InvalidBatchError) Error() string { return "segment: invalid batch: " + e.Reason }

// Code returns CORRUPT_MESSAGE.
func (e *InvalidBatchError) Code() errcode.Code { return errcode.CorruptMessage }

// RemoteError wraps a failure of the Archiver while serving a read or lookup
// below the local log start.
type RemoteError struct {
	Op  string // the Archiver method
	Err error
}

func (e *RemoteError) Error() string { return "segment: archiver " + e.Op + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *RemoteError) Unwrap() error { return e.Err }

// Code returns KAFKA_STORAGE_ERROR.
func (e *RemoteError) Code() errcode.Code { return errcode.KafkaStorageError }

// FormatError is returned by the Decode functions for bytes that are not a
// valid file of the expected kind.
type FormatError struct {
	File   string // "offset index", "time index", "bloom filter", "checkpoint"
	Reason string
}

func (e *FormatError) Error() string { return "segment: bad " + e.File + ": " + e.Reason }

// BloomVersionError reports a .bloom file written in another format
// version, whose key hashing this version does not share: such a filter
// cannot answer, and its segment may hold any key. Local files of another
// version are rebuilt from the data on open; archived ones are read as
// "may contain".
type BloomVersionError struct {
	Version byte // the file's version
}

func (e *BloomVersionError) Error() string {
	return fmt.Sprintf("segment: bloom filter of format version %d (this version reads %d; they hash keys differently)", e.Version, bloomVersion)
}
