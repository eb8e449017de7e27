package segment

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/chronik-go/chronik/internal/vfs"
)

// Open opens the log in dir, creating the directory if needed, and recovers
// it (see the package documentation): index files are loaded where valid
// and rebuilt from the data where not, the active segment (and any segment
// rolled too recently to have index files) is scanned batch by batch from
// its last checkpoint, and a torn or corrupt tail is truncated and reported
// through a TailTruncated event. Appends then continue at the right offset,
// and the high watermark starts at the log end offset.
func Open(dir string, opts Options) (*Log, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	fsys := opts.FS
	_, statErr := fsys.Stat(dir)
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		return nil, &StorageError{Op: "create directory", Path: dir, Err: err}
	}
	if errors.Is(statErr, os.ErrNotExist) {
		if err := fsys.SyncDir(filepath.Dir(dir)); err != nil {
			return nil, &StorageError{Op: "sync directory", Path: filepath.Dir(dir), Err: err}
		}
	}
	l := &Log{
		dir:      dir,
		opts:     opts,
		fs:       fsys,
		hwCh:     make(chan struct{}),
		waiting:  map[*waiter]struct{}{},
		syncKick: make(chan struct{}, 1),
		hkKick:   make(chan struct{}, 1),
		upKick:   make(chan struct{}, 1),
		stopSync: make(chan struct{}),
		stopHK:   make(chan struct{}),
	}
	events, err := l.recover()
	if err != nil {
		for _, s := range l.segs {
			s.file.Close()
		}
		return nil, err
	}
	l.wg.Add(2)
	go l.syncLoop()
	go l.housekeepLoop()
	if opts.Archiver != nil {
		l.upCtx, l.upCancel = context.WithCancel(context.Background())
		l.wg.Add(1)
		go l.uploadLoop()
	}
	l.emit(events)
	if len(l.sealQueue) > 0 {
		wake(l.hkKick)
	}
	return l, nil
}

// loadState says how much of a segment its index files describe.
type loadState int

const (
	loadNone    loadState = iota // no valid files: scan from byte 0
	loadPrefix                   // valid for a prefix: scan the rest
	loadTrusted                  // valid for the whole file: no scan
)

type loadedSegment struct {
	s        *segment
	fileSize int64
	state    loadState
	stale    string // why existing index files were rejected, "" if none existed
}

// recover loads and repairs the segments in l.dir; see Open.
func (l *Log) recover() ([]Event, error) {
	fsys, dir := l.fs, l.dir
	ents, err := fsys.ReadDir(dir)
	if err != nil {
		return nil, &StorageError{Op: "read directory", Path: dir, Err: err}
	}
	var bases []int64
	names := map[string]bool{}
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() {
			continue
		}
		if strings.HasSuffix(name, tmpSuffix) {
			if err := fsys.Remove(filepath.Join(dir, name)); err != nil {
				return nil, &StorageError{Op: "remove", Path: filepath.Join(dir, name), Err: err}
			}
			continue
		}
		names[name] = true
		if base, ok := parseSegmentName(name, LogSuffix); ok {
			bases = append(bases, base)
		}
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })
	for name := range names {
		for _, suffix := range []string{IndexSuffix, TimeIndexSuffix, BloomSuffix} {
			if base, ok := parseSegmentName(name, suffix); ok && !names[SegmentName(base, LogSuffix)] {
				if err := fsys.Remove(filepath.Join(dir, name)); err != nil {
					return nil, &StorageError{Op: "remove", Path: filepath.Join(dir, name), Err: err}
				}
			}
		}
	}

	cp, hasCP := checkpoint{}, false
	if names[checkpointName] {
		if b, err := vfs.ReadFile(fsys, l.checkpointPath()); err != nil {
			return nil, &StorageError{Op: "read", Path: l.checkpointPath(), Err: err}
		} else if cp, err = decodeCheckpoint(b); err != nil {
			l.opts.Logger.Warn("ignoring checkpoint", "path", l.checkpointPath(), "err", err)
		} else {
			hasCP = true
		}
	}
	// With a tier, local segments wholly below the checkpointed log start
	// were deleted by retention, the removal interrupted: finish it.
	if hasCP && l.opts.Archiver != nil {
		for len(bases) > 1 && bases[1] <= cp.logStartOffset {
			if err := removeSegmentFiles(fsys, dir, bases[0]); err != nil {
				return nil, err
			}
			bases = bases[1:]
		}
	}

	now := l.opts.Now()
	var events []Event
	loaded := make([]*loadedSegment, 0, len(bases))
	for _, base := range bases {
		path := segmentPath(dir, base, LogSuffix)
		f, err := fsys.OpenFile(path, os.O_RDWR|os.O_APPEND, 0o644)
		if err != nil {
			return nil, &StorageError{Op: "open", Path: path, Err: err}
		}
		s := newSegment(dir, base, f, l.opts.BloomFalsePositiveRate, now)
		l.segs = append(l.segs, s) // so that recover's caller closes it on error
		st, err := f.Stat()
		if err != nil {
			return nil, &StorageError{Op: "stat", Path: path, Err: err}
		}
		ld := &loadedSegment{s: s, fileSize: st.Size()}
		x, t, b, exist, why := l.loadIndexFiles(base, names)
		switch {
		case !exist:
		case why != "":
			ld.stale = why
		case x.LogSize > ld.fileSize:
			ld.stale = fmt.Sprintf("index files describe %d bytes, the log has %d", x.LogSize, ld.fileSize)
		default:
			s.loadIndexes(x, t, b)
			ld.state = loadPrefix
			if x.LogSize == ld.fileSize {
				ld.state = loadTrusted
			}
		}
		loaded = append(loaded, ld)
	}

	lastTrusted := -1
	for i, ld := range loaded {
		if ld.state == loadTrusted {
			lastTrusted = i
		}
	}
	dropFrom := func(i int) (deleted []int64, bytes int64, err error) {
		for _, ld := range loaded[i:] {
			ld.s.file.Close()
			if err := removeSegmentFiles(fsys, dir, ld.s.base); err != nil {
				return nil, 0, err
			}
			deleted = append(deleted, ld.s.base)
			bytes += ld.fileSize
		}
		loaded = loaded[:i]
		return deleted, bytes, nil
	}
	for i := 0; i < len(loaded); i++ {
		ld := loaded[i]
		s := ld.s
		inTail := i > lastTrusted
		if ld.state != loadTrusted {
			if ld.stale != "" {
				// Stale files must not outlive the rescan: the data they
				// describe may differ from what is appended next.
				for _, suffix := range []string{IndexSuffix, TimeIndexSuffix, BloomSuffix} {
					p := segmentPath(dir, s.base, suffix)
					if err := fsys.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
						return nil, &StorageError{Op: "remove", Path: p, Err: err}
					}
				}
			}
			if ld.stale != "" || i < len(loaded)-1 {
				reason := ld.stale
				if reason == "" {
					reason = "index files missing"
				}
				events = append(events, IndexRebuilt{BaseOffset: s.base, Reason: reason})
			}
			res, err := s.scan(ld.fileSize, l.opts.IndexIntervalBytes)
			if err != nil {
				return nil, err
			}
			if res.corrupt != nil {
				if err := s.file.Truncate(s.size); err != nil {
					return nil, &StorageError{Op: "truncate", Path: s.path, Err: err}
				}
				ev := TailTruncated{Err: res.corrupt, BytesDropped: ld.fileSize - s.size}
				ld.fileSize = s.size
				if inTail && i+1 < len(loaded) {
					deleted, n, err := dropFrom(i + 1)
					if err != nil {
						return nil, err
					}
					ev.DeletedSegments, ev.BytesDropped = deleted, ev.BytesDropped+n
				}
				l.opts.Logger.Warn("truncated corrupt log tail", "err", res.corrupt, "bytes", ev.BytesDropped, "deleted_segments", ev.DeletedSegments)
				events = append(events, ev)
			}
		}
		// Continuity from the last trusted segment on: a segment that does
		// not start where the previous one ends holds nothing acknowledged.
		if i >= lastTrusted && i+1 < len(loaded) && loaded[i+1].s.base != s.next {
			next := loaded[i+1].s
			ce := &CorruptionError{Segment: next.path, Offset: s.next, FilePos: 0,
				Reason: fmt.Sprintf("segment base offset %d does not continue the log at %d", next.base, s.next)}
			deleted, n, err := dropFrom(i + 1)
			if err != nil {
				return nil, err
			}
			l.opts.Logger.Warn("deleted segments after an offset gap", "err", ce, "deleted_segments", deleted)
			events = append(events, TailTruncated{Err: ce, BytesDropped: n, DeletedSegments: deleted})
		}
	}
	l.segs = l.segs[:0]
	for _, ld := range loaded {
		l.segs = append(l.segs, ld.s)
	}

	if len(l.segs) == 0 {
		base := int64(0)
		if hasCP {
			base = cp.logStartOffset
		}
		if l.opts.Archiver != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			remote, err := l.remoteSegments(ctx)
			cancel()
			if err != nil {
				return nil, err
			}
			if n := len(remote); n > 0 {
				base = max(base, remote[n-1].NextOffset)
			}
		}
		path := segmentPath(dir, base, LogSuffix)
		f, err := fsys.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
		if err != nil {
			return nil, &StorageError{Op: "create", Path: path, Err: err}
		}
		s := newSegment(dir, base, f, l.opts.BloomFalsePositiveRate, now)
		l.segs = append(l.segs, s)
		loaded = append(loaded, &loadedSegment{s: s})
		events = append(events, SegmentCreated{BaseOffset: base, Path: path})
	}

	// Make what recovery kept durable: after a crash of the process alone,
	// scanned bytes may still be only in the page cache.
	for i, ld := range loaded {
		s := ld.s
		if ld.state != loadTrusted {
			if err := s.file.Sync(); err != nil {
				return nil, &StorageError{Op: "sync", Path: s.path, Err: err}
			}
		}
		s.synced = s.size
		if i < len(loaded)-1 {
			s.sealed = true
			if ld.state == loadTrusted {
				s.persisted = true
			} else {
				l.sealQueue = append(l.sealQueue, s)
			}
		}
	}
	if err := fsys.SyncDir(dir); err != nil {
		return nil, &StorageError{Op: "sync directory", Path: dir, Err: err}
	}
	active := l.segs[len(l.segs)-1]
	l.leo, l.hw = active.next, active.next
	l.logStart = l.segs[0].base
	if hasCP && cp.logStartOffset < l.logStart {
		l.logStart = cp.logStartOffset
	}
	l.hadCheckpoint = hasCP
	return events, nil
}

// loadIndexFiles decodes the three index files of the segment at base and
// checks that they agree. exist is false when none of them exists; why says
// what is wrong with them ("" when they are usable).
func (l *Log) loadIndexFiles(base int64, names map[string]bool) (x *OffsetIndex, t *TimeIndex, b *Bloom, exist bool, why string) {
	var raw [3][]byte
	missing := 0
	for i, suffix := range []string{IndexSuffix, TimeIndexSuffix, BloomSuffix} {
		if !names[SegmentName(base, suffix)] {
			missing++
			continue
		}
		data, err := vfs.ReadFile(l.fs, segmentPath(l.dir, base, suffix))
		if err != nil {
			return nil, nil, nil, true, fmt.Sprintf("reading %s: %v", suffix, err)
		}
		raw[i] = data
	}
	switch missing {
	case 3:
		return nil, nil, nil, false, ""
	case 0:
	default:
		return nil, nil, nil, true, "some index files missing"
	}
	var err error
	if x, err = DecodeOffsetIndex(raw[0]); err != nil {
		return nil, nil, nil, true, err.Error()
	}
	if t, err = DecodeTimeIndex(raw[1]); err != nil {
		return nil, nil, nil, true, err.Error()
	}
	if b, err = DecodeBloom(raw[2]); err != nil {
		return nil, nil, nil, true, err.Error()
	}
	if x.BaseOffset != base || t.BaseOffset != base || b.BaseOffset != base {
		return nil, nil, nil, true, "index files name another base offset"
	}
	if x.LogSize != t.LogSize || x.LogSize != b.LogSize || x.NextOffset != t.NextOffset || x.NextOffset != b.NextOffset {
		return nil, nil, nil, true, "index files disagree"
	}
	return x, t, b, true, ""
}

func (l *Log) checkpointPath() string { return filepath.Join(l.dir, checkpointName) }

// Close stops accepting appends, fsyncs everything written, writes the
// index files of every rolled segment and of the active one (so the next
// Open reads no data), stops the log's goroutines and closes its files.
// Readers still in flight finish first on their own handles. It returns the
// sticky error if the log had one (then the final fsync was not done).
// Calling Close again returns nil.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	if l.upCancel != nil {
		l.upCancel()
	}
	close(l.stopHK)
	close(l.stopSync)
	l.wg.Wait()

	l.mu.Lock()
	err := l.err
	active := l.segs[len(l.segs)-1]
	segs := append([]*segment(nil), l.segs...)
	start := l.startLocked()
	l.mu.Unlock()
	if err == nil && active.synced == active.size {
		l.sealMu.Lock()
		err = l.writeIndexFiles(active.base, active.offsetIndex().Encode(), active.timeIndex().Encode(), active.bloom.Encode())
		if err == nil && l.opts.Archiver != nil {
			err = l.writeCheckpoint(start)
		}
		l.sealMu.Unlock()
	}
	l.mu.Lock()
	var toClose []*segment
	for _, s := range segs {
		if s.retireLocked() {
			toClose = append(toClose, s)
		}
	}
	l.mu.Unlock()
	for _, s := range toClose {
		s.file.Close()
	}
	return err
}
