package segment

import "time"

// Event is something that happened to the log, delivered to
// Options.OnEvent: one of SegmentCreated, SegmentRolled, TailTruncated,
// IndexRebuilt, SegmentArchived, ArchiveFailed, SegmentDeleted,
// RemoteSegmentDeleted. Events are delivered outside the log's locks,
// possibly from several goroutines at once; a handler must not block long.
type Event interface{ isEvent() }

// SegmentCreated reports a new segment file.
type SegmentCreated struct {
	BaseOffset int64
	Path       string
}

// SegmentRolled reports that the active segment was sealed and a new one
// started.
type SegmentRolled struct {
	BaseOffset int64  // the sealed segment
	NextOffset int64  // one past its last offset
	Size       int64  // its bytes
	Reason     string // "size", "age" or "offset range"
}

// TailTruncated reports that recovery dropped invalid bytes at Err.FilePos
// of Err.Segment, and deleted DeletedSegments later segment files.
type TailTruncated struct {
	Err             *CorruptionError
	BytesDropped    int64
	DeletedSegments []int64 // base offsets of later segments removed with it
}

// IndexRebuilt reports that a segment's index files were missing, invalid
// or stale and were rebuilt from the data.
type IndexRebuilt struct {
	BaseOffset int64
	Reason     string
}

// SegmentArchived reports that the Archiver confirmed a segment's upload.
type SegmentArchived struct {
	Segment  RemoteSegment
	Attempts int
}

// ArchiveFailed reports a failed upload; it will be retried after RetryIn.
type ArchiveFailed struct {
	BaseOffset int64
	Attempt    int
	Err        error
	RetryIn    time.Duration
}

// SegmentDeleted reports that a local segment's files were deleted.
type SegmentDeleted struct {
	BaseOffset int64
	NextOffset int64
	Reason     string // "retention.bytes", "retention.ms", "local.retention.bytes", "local.retention.ms", "below log start"
}

// RemoteSegmentDeleted reports that a remote segment was deleted by
// retention, moving the log start offset to NewStartOffset.
type RemoteSegmentDeleted struct {
	Segment        RemoteSegment
	Reason         string
	NewStartOffset int64
}

func (SegmentCreated) isEvent()       {}
func (SegmentRolled) isEvent()        {}
func (TailTruncated) isEvent()        {}
func (IndexRebuilt) isEvent()         {}
func (SegmentArchived) isEvent()      {}
func (ArchiveFailed) isEvent()        {}
func (SegmentDeleted) isEvent()       {}
func (RemoteSegmentDeleted) isEvent() {}
