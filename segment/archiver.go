package segment

import (
	"context"

	"github.com/chronik-go/chronik/internal/vfs"
)

// Archiver is the optional remote tier for sealed segments.
//
// The Log calls it from its background uploader (Archive), from reads and
// offset lookups below the local log start (Read, OffsetForTime), from
// LookupKey (MayContainKey, Read) and from retention (Segments, Delete).
// Implementations must be safe for concurrent use. Every method honours ctx:
// once ctx is done a pending call returns ctx.Err() (possibly wrapped) and
// leaves the remote state as if it had not been called, or as if it had
// completed; never half done.
type Archiver interface {
	// Archive stores the segment's data, offset index, time index and bloom
	// filter, read from seg.FS at the given paths. It returns nil only once
	// all of them are durably stored remotely. It is idempotent: archiving a
	// segment already stored (same BaseOffset and NextOffset) succeeds. The
	// Log deletes its local copy only after Archive returned nil, and retries
	// a failed Archive with exponential backoff. The files stay unchanged and
	// present until Archive returns.
	Archive(ctx context.Context, seg SealedSegment) error

	// Segments lists the archived segments in offset order.
	Segments(ctx context.Context) ([]RemoteSegment, error)

	// Read returns whole batches of seg, starting with the batch containing
	// offset (or the first batch after it), as Log.Read does within one
	// segment: at least one batch even if larger than maxBytes, otherwise no
	// more than maxBytes, byte-exact as archived. An offset at or beyond
	// seg.NextOffset returns no bytes and no error.
	Read(ctx context.Context, seg RemoteSegment, offset int64, maxBytes int) ([]byte, error)

	// OffsetForTime returns the offset of the first record of seg whose
	// timestamp is at least ts, as Log.OffsetForTime does within one segment,
	// or found == false when every record of seg is older.
	OffsetForTime(ctx context.Context, seg RemoteSegment, ts int64) (offset int64, found bool, err error)

	// MayContainKey consults seg's archived bloom filter (DecodeBloom): false
	// means no record of seg has this key.
	MayContainKey(ctx context.Context, seg RemoteSegment, key []byte) (bool, error)

	// Delete removes every remote object of seg. Deleting a segment that is
	// not stored is not an error.
	Delete(ctx context.Context, seg RemoteSegment) error
}

// SealedSegment describes a local segment that will never change again:
// its files are complete and fsynced when it is handed to Archive.
type SealedSegment struct {
	BaseOffset   int64 // offset of its first batch, also its file name
	NextOffset   int64 // one past the last offset it holds
	MaxTimestamp int64 // largest batch maxTimestamp, -1 when it has none
	Size         int64 // bytes in the .log file

	FS            vfs.FS // where the four files below live
	LogPath       string // raw batches (see docs: the .log format)
	IndexPath     string // sparse offset index (DecodeOffsetIndex)
	TimeIndexPath string // time index (DecodeTimeIndex)
	BloomPath     string // key bloom filter (DecodeBloom)
}

// RemoteSegment describes an archived segment, as listed by Segments.
type RemoteSegment struct {
	BaseOffset   int64 // offset of its first batch
	NextOffset   int64 // one past the last offset it holds
	MaxTimestamp int64 // largest batch maxTimestamp, -1 when it has none
	Size         int64 // bytes of batch data
}

// Remote returns the RemoteSegment that describes s once archived.
func (s SealedSegment) Remote() RemoteSegment {
	return RemoteSegment{BaseOffset: s.BaseOffset, NextOffset: s.NextOffset, MaxTimestamp: s.MaxTimestamp, Size: s.Size}
}
