package segment

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/chronik-go/chronik/internal/vfs"
	"github.com/chronik-go/chronik/record"
)

// Log is the durable append-only log of one topic-partition. It is safe for
// concurrent use: appends are serialized internally, reads run in parallel
// with them. See the package documentation for its goroutines and locks.
type Log struct {
	dir  string
	opts Options
	fs   vfs.FS

	// retMu serializes retention passes. Taken before sealMu.
	retMu sync.Mutex
	// sealMu serializes whole-file rewrites: index files and the checkpoint.
	// Taken before mu, never while holding it.
	sealMu sync.Mutex

	// mu guards everything below up to the next blank line, and the
	// "guarded by Log.mu" fields of every segment.
	mu            sync.Mutex
	segs          []*segment // local segments in offset order; the last is active
	leo           int64      // log end offset
	hw            int64      // every offset below is covered by an fsync
	hwCh          chan struct{}
	err           error // sticky
	closed        bool
	syncStopped   bool                 // the syncer has exited: nothing becomes durable any more
	logStart      int64                // the log start offset when an Archiver is set
	hadCheckpoint bool                 // logStart came from log.checkpoint or a remote listing
	dirDirty      bool                 // a file was created in dir since the last directory sync
	syncWanted    bool                 // someone waits for an fsync
	waiting       map[*waiter]struct{} // blocked in WaitDurable, not yet released
	cohort        int                  // waiters the last fsync round released
	arrived       int                  // waiters registered since that round
	roundEnd      time.Time
	lastFsync     time.Duration // duration of the last fsync round
	unsynced      int64         // bytes written and not yet fsynced
	firstUnsynced time.Time
	sealQueue     []*segment // rolled, index files not yet written
	stats         Stats

	// remoteMu guards the cached list of archived segments. Never held
	// together with mu.
	remoteMu     sync.Mutex
	remote       []RemoteSegment
	remoteListed bool

	syncKick, hkKick, upKick chan struct{} // wake a goroutine (capacity 1)
	stopSync, stopHK         chan struct{}
	upCtx                    context.Context
	upCancel                 context.CancelFunc
	wg                       sync.WaitGroup
}

// AppendInfo is what the caller already learned about a batch while
// validating it.
type AppendInfo struct {
	// MaxTimestamp is the batch's maxTimestamp as validated. The log indexes
	// the header field (which recovery reads back); a non-zero value that
	// differs from it makes Append fail with InvalidBatchError.
	MaxTimestamp int64
	// CRCChecked says the caller verified the batch's CRC (or computed it)
	// after its last change to the bytes the CRC covers; Append then checks
	// the framing only, instead of computing the CRC a second time.
	CRCChecked bool
	// Keys are the record keys, for the bloom filter (null keys may be nil
	// entries or left out). A nil slice means "not collected": the log then
	// walks the batch itself, decompressing it if needed. A non-nil empty
	// slice means the batch has no keys.
	Keys [][]byte
}

// KeyRecord is one record found by LookupKey.
type KeyRecord struct {
	Offset    int64
	Timestamp int64
	Key       []byte
	Value     []byte // nil for a null value
	Headers   []RecordHeader
}

// RecordHeader is one record header (a nil Value is a null value).
type RecordHeader = record.RecordHeader

// LookupStats tells how much LookupKey read.
type LookupStats struct {
	SegmentsScanned int // segments whose records were read
	SegmentsSkipped int // segments whose bloom filter excluded the key
}

// Stats is a snapshot of the log's state and counters.
type Stats struct {
	Segments       int   // local segments, the active one included
	Bytes          int64 // bytes of local .log files
	RemoteSegments int   // archived segments known (0 without an Archiver)
	RemoteBytes    int64 // their bytes
	StartOffset    int64
	NextOffset     int64
	HighWatermark  int64
	UnsyncedBytes  int64 // written, not yet covered by an fsync
	PendingArchive int   // sealed local segments not yet archived
	Appends        int64 // successful Append calls since Open
	Syncs          int64 // fsync rounds of the group commit since Open
	Rolls          int64 // segments rolled since Open
	Deleted        int64 // local segments deleted by retention since Open
}

// Append writes batch, one complete v2 record batch (or control batch)
// already validated by the caller, at the log end offset. It sets the
// batch's baseOffset field in place to that offset, writes the batch to the
// active segment (into the page cache: once Append returns, the bytes
// survive the death of the process, not of the machine; see WaitDurable),
// advances the log end offset by lastOffsetDelta+1 and updates the indexes
// and the bloom filter. It returns the batch's base offset.
//
// Errors: InvalidBatchError (nothing written), BatchTooLargeError (Kafka's
// RECORD_LIST_TOO_LARGE), the sticky *StorageError after any failed write
// or fsync, ErrClosed.
func (l *Log) Append(batch []byte, info AppendInfo) (int64, error) {
	h, err := checkAppend(batch, !info.CRCChecked)
	if err != nil {
		return -1, err
	}
	if info.MaxTimestamp != 0 && info.MaxTimestamp != h.MaxTimestamp {
		return -1, &InvalidBatchError{fmt.Sprintf("AppendInfo.MaxTimestamp %d differs from the batch's maxTimestamp %d", info.MaxTimestamp, h.MaxTimestamp)}
	}
	if int64(len(batch)) > l.opts.SegmentBytes {
		return -1, &BatchTooLargeError{Size: len(batch), SegmentBytes: l.opts.SegmentBytes}
	}
	keys, keysKnown := info.Keys, true
	if keys == nil && !h.Control() {
		if keys, err = batchKeys(batch, &h); err != nil {
			return -1, &InvalidBatchError{fmt.Sprintf("reading record keys: %v", err)}
		}
	}

	var events []Event
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return -1, ErrClosed
	}
	if l.err != nil {
		err := l.err
		l.mu.Unlock()
		return -1, err
	}
	if reason := l.rollReason(len(batch), int64(h.LastOffsetDelta)); reason != "" {
		if events, err = l.rollLocked(reason); err != nil {
			l.mu.Unlock()
			l.emit(events)
			return -1, err
		}
	}
	seg := l.segs[len(l.segs)-1]
	base := l.leo
	record.SetBaseOffset(batch, base)
	h.BaseOffset = base
	pos := seg.size
	if _, err := seg.file.Write(batch); err != nil {
		err = l.failLocked(&StorageError{Op: "write", Path: seg.path, Err: err})
		l.mu.Unlock()
		l.emit(events)
		return -1, err
	}
	seg.track(pos, &h, keys, keysKnown, l.opts.IndexIntervalBytes)
	l.leo = seg.next
	l.stats.Appends++
	if l.unsynced == 0 {
		l.firstUnsynced = time.Now()
	}
	l.unsynced += int64(len(batch))
	kick := l.unsynced == int64(len(batch)) || (l.opts.FlushBytes > 0 && l.unsynced >= int64(l.opts.FlushBytes))
	l.mu.Unlock()
	if kick {
		wake(l.syncKick)
	}
	l.emit(events)
	return base, nil
}

// checkAppend checks that b is exactly one v2 batch, with a valid CRC when
// checkCRC is set.
func checkAppend(b []byte, checkCRC bool) (record.Header, error) {
	if len(b) < record.HeaderSize {
		return record.Header{}, &InvalidBatchError{fmt.Sprintf("%d bytes, shorter than a batch header", len(b))}
	}
	h := record.ReadHeader(b)
	if why := checkFraming(&h, 0, int64(len(b))); why != "" {
		return h, &InvalidBatchError{why}
	}
	if h.Size() != len(b) {
		return h, &InvalidBatchError{fmt.Sprintf("batch length says %d bytes, got %d", h.Size(), len(b))}
	}
	if checkCRC && !record.CRCValid(b) {
		return h, &InvalidBatchError{"CRC mismatch"}
	}
	return h, nil
}

// rollReason says why the active segment must be rolled before appending a
// batch of n bytes with the given lastOffsetDelta, or "" (Kafka's
// LogSegment.shouldRoll).
func (l *Log) rollReason(n int, lastDelta int64) string {
	s := l.segs[len(l.segs)-1]
	if s.size == 0 {
		return ""
	}
	switch {
	case s.size+int64(n) > l.opts.SegmentBytes:
		return "size"
	case l.leo+lastDelta-s.base > maxSegmentBytes:
		return "offset range"
	}
	if !s.firstTsKnown {
		// A segment loaded from its index files: read its first batch's
		// timestamp once, as Kafka's LogSegment.timeWaitedForRoll does.
		var hdr [record.HeaderSize]byte
		if err := readFull(s.file, hdr[:], 0); err == nil {
			h := record.ReadHeader(hdr[:])
			s.firstTs = h.MaxTimestamp
		}
		s.firstTsKnown = true
	}
	since := s.created.UnixMilli()
	if s.firstTs >= 0 {
		since = s.firstTs
	}
	if l.opts.Now().UnixMilli()-since > l.opts.SegmentAge.Milliseconds() {
		return "age"
	}
	return ""
}

// rollLocked seals the active segment and starts a new one at the log end
// offset. The new file's directory entry becomes durable with the next
// fsync round, before the high watermark passes any of its data.
func (l *Log) rollLocked(reason string) ([]Event, error) {
	old := l.segs[len(l.segs)-1]
	path := segmentPath(l.dir, l.leo, LogSuffix)
	f, err := l.fs.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if err != nil {
		return nil, l.failLocked(&StorageError{Op: "create", Path: path, Err: err})
	}
	old.sealed = true
	l.sealQueue = append(l.sealQueue, old)
	s := newSegment(l.dir, l.leo, f, l.opts.BloomFalsePositiveRate, l.opts.Now())
	l.segs = append(l.segs, s)
	l.dirDirty = true
	l.stats.Rolls++
	wake(l.hkKick)
	return []Event{
		SegmentRolled{BaseOffset: old.base, NextOffset: old.next, Size: old.size, Reason: reason},
		SegmentCreated{BaseOffset: s.base, Path: s.path},
	}, nil
}

// failLocked sets the sticky error (the first one wins) and wakes every
// waiter; it returns the sticky error.
func (l *Log) failLocked(err error) error {
	if l.err == nil {
		l.err = err
		l.opts.Logger.Error("log failed; appends refused until reopened", "dir", l.dir, "err", err)
		l.advanceLocked(l.hw)
	}
	return l.err
}

// advanceLocked raises the high watermark to hw (never lowers it) and wakes
// every waiter.
func (l *Log) advanceLocked(hw int64) {
	if hw > l.hw {
		l.hw = hw
	}
	close(l.hwCh)
	l.hwCh = make(chan struct{})
}

func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (l *Log) emit(events []Event) {
	if l.opts.OnEvent == nil {
		return
	}
	for _, e := range events {
		l.opts.OnEvent(e)
	}
}

// NextOffset returns the log end offset (LEO): the offset the next appended
// batch gets.
func (l *Log) NextOffset() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.leo
}

// HighWatermark returns the end of the durable data: every offset below it
// is covered by a completed fsync. It only moves forward. Consumers read
// below it.
func (l *Log) HighWatermark() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.hw
}

// StartOffset returns the log start offset: the first offset still
// readable, remote tier included. It moves forward with retention.
func (l *Log) StartOffset() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.startLocked()
}

func (l *Log) startLocked() int64 {
	local := l.segs[0].base
	if l.opts.Archiver != nil && l.logStart < local {
		return l.logStart
	}
	return local
}

// Err returns the sticky error, or nil while the log is healthy.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Stats returns a snapshot of the log's state and counters.
func (l *Log) Stats() Stats {
	l.mu.Lock()
	st := l.stats
	st.Segments = len(l.segs)
	for _, s := range l.segs {
		st.Bytes += s.size
		if s.sealed && !s.archived && l.opts.Archiver != nil {
			st.PendingArchive++
		}
	}
	st.StartOffset = l.startLocked()
	st.NextOffset = l.leo
	st.HighWatermark = l.hw
	st.UnsyncedBytes = l.unsynced
	l.mu.Unlock()
	l.remoteMu.Lock()
	st.RemoteSegments = len(l.remote)
	for _, r := range l.remote {
		st.RemoteBytes += r.Size
	}
	l.remoteMu.Unlock()
	return st
}

// acquireLocked takes a reference on s so its file stays open.
func (s *segment) acquireLocked() { s.refs++ }

// release drops a reference taken by acquireLocked.
func (l *Log) release(s *segment) {
	l.mu.Lock()
	s.refs--
	closeNow := s.retired && s.refs == 0
	l.mu.Unlock()
	if closeNow {
		s.file.Close()
	}
}

// retireLocked removes nothing from l.segs itself; it marks s so that its
// file is closed once no reader holds it. It reports whether the caller
// must close it now.
func (s *segment) retireLocked() bool {
	s.retired = true
	return s.refs == 0
}

// segmentForLocked returns the index in l.segs of the local segment that
// holds offset or, in a gap, the first one after it; -1 when offset is below
// the first local segment.
func (l *Log) segmentForLocked(offset int64) int {
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].base > offset }) - 1
	if i < 0 {
		return -1
	}
	if offset >= l.segs[i].next && i+1 < len(l.segs) {
		return i + 1
	}
	return i
}

// Read returns whole batches starting with the batch containing offset,
// copied into a new slice: only batches ending below upTo (pass the high
// watermark, or the last stable offset for read_committed; it is clamped to
// the log end offset), at most maxBytes bytes but always the first batch
// whole (Kafka's fetch rule, KIP-74), all from one segment as Kafka's
// LogSegment.read serves them. Offsets below the local segments are read
// from the Archiver. It returns no bytes when offset == upTo, and an
// *OffsetOutOfRangeError below the log start offset or above the log end.
func (l *Log) Read(offset int64, maxBytes int, upTo int64) ([]byte, error) {
	return l.ReadContext(context.Background(), offset, maxBytes, upTo)
}

// ReadContext is Read with a context bounding calls to the Archiver.
func (l *Log) ReadContext(ctx context.Context, offset int64, maxBytes int, upTo int64) ([]byte, error) {
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return nil, ErrClosed
		}
		start, leo := l.startLocked(), l.leo
		if offset < start || offset > leo {
			l.mu.Unlock()
			return nil, &OffsetOutOfRangeError{Offset: offset, StartOffset: start, EndOffset: leo}
		}
		upTo = min(upTo, leo)
		if offset >= upTo {
			l.mu.Unlock()
			return nil, nil
		}
		i := l.segmentForLocked(offset)
		if i < 0 {
			localStart := l.segs[0].base
			l.mu.Unlock()
			data, next, err := l.readRemote(ctx, offset, maxBytes, min(upTo, localStart))
			if err != nil || len(data) > 0 || next <= offset {
				return data, err
			}
			offset = next // a remote gap up to next: read on from there
			continue
		}
		s := l.segs[i]
		s.acquireLocked()
		size, base, entries := s.size, s.base, s.index
		l.mu.Unlock()
		data, err := readBatches(s.file, size, base, entries, max(offset, base), maxBytes, upTo)
		l.release(s)
		if err != nil {
			if ce, ok := err.(*CorruptionError); ok {
				ce.Segment = s.path
			}
			return nil, err
		}
		return data, nil
	}
}

// OffsetForTime returns the offset of the first record whose timestamp is at
// least ts (maxTimestamp for LogAppendTime batches), searching the whole log
// up to the log end offset, remote tier included: Kafka's ListOffsets by
// timestamp (UnifiedLog.fetchOffsetByTimestamp). found is false when every
// record is older. The caller compares the result with the high watermark
// or last stable offset it serves.
func (l *Log) OffsetForTime(ts int64) (offset int64, found bool, err error) {
	return l.OffsetForTimeContext(context.Background(), ts)
}

// OffsetForTimeContext is OffsetForTime with a context bounding calls to
// the Archiver.
func (l *Log) OffsetForTimeContext(ctx context.Context, ts int64) (int64, bool, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return 0, false, ErrClosed
	}
	start, localStart := l.startLocked(), l.segs[0].base
	l.mu.Unlock()
	if start < localStart {
		off, found, err := l.remoteOffsetForTime(ctx, ts, start, localStart)
		if err != nil || found {
			return off, found, err
		}
	}
	l.mu.Lock()
	segs := append([]*segment(nil), l.segs...)
	l.mu.Unlock()
	for _, s := range segs {
		l.mu.Lock()
		if s.retired || s.maxTs < ts {
			l.mu.Unlock()
			continue
		}
		s.acquireLocked()
		size, base, entries, tentries := s.size, s.base, s.index, s.tindex
		l.mu.Unlock()
		off, found, err := offsetForTime(s.file, size, base, entries, tentries, ts)
		l.release(s)
		if err != nil || found {
			return off, found, err
		}
	}
	return 0, false, nil
}
