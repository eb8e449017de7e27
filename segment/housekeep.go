package segment

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/chronik-go/chronik/internal/vfs"
)

// housekeepLoop is the housekeeper goroutine: it seals rolled segments and
// runs retention after each roll or upload and every
// RetentionCheckInterval. When stopped it seals what is queued and exits.
func (l *Log) housekeepLoop() {
	defer l.wg.Done()
	tick := time.NewTicker(l.opts.RetentionCheckInterval)
	defer tick.Stop()
	for {
		select {
		case <-l.hkKick:
		case <-tick.C:
		case <-l.stopHK:
			l.sealPending()
			return
		}
		l.sealPending()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := l.EnforceRetention(ctx); err != nil && !errors.Is(err, ErrClosed) {
			l.opts.Logger.Warn("retention", "dir", l.dir, "err", err)
		}
		cancel()
	}
}

// sealPending writes the index files of every rolled segment, oldest first:
// fsync its .log (so the files never describe data a crash could lose),
// then the three files, then the directory. A failure is a sticky error.
func (l *Log) sealPending() {
	for {
		l.mu.Lock()
		if len(l.sealQueue) == 0 || l.err != nil {
			l.mu.Unlock()
			return
		}
		s := l.sealQueue[0]
		s.acquireLocked()
		needSync := s.synced < s.size
		l.mu.Unlock()

		err := l.seal(s, needSync)
		l.release(s)

		l.mu.Lock()
		if err != nil {
			l.failLocked(err)
			l.mu.Unlock()
			return
		}
		l.sealQueue = l.sealQueue[1:]
		s.persisted = true
		l.mu.Unlock()
		if l.opts.Archiver != nil {
			wake(l.upKick)
		}
	}
}

// seal persists a sealed (hence frozen) segment.
func (l *Log) seal(s *segment, needSync bool) error {
	if needSync {
		if err := s.file.Sync(); err != nil {
			return &StorageError{Op: "sync", Path: s.path, Err: err}
		}
		l.mu.Lock()
		l.markSyncedLocked(s, s.size)
		l.mu.Unlock()
	}
	l.sealMu.Lock()
	defer l.sealMu.Unlock()
	return l.writeIndexFiles(s.base, s.offsetIndex().Encode(), s.timeIndex().Encode(), s.bloom.Encode())
}

// writeIndexFiles atomically replaces the three index files of the segment
// at base: each is written to a .tmp file, fsynced and renamed; then the
// directory is fsynced. The caller holds sealMu.
func (l *Log) writeIndexFiles(base int64, index, timeIndex, bloom []byte) error {
	for _, f := range []struct {
		suffix string
		data   []byte
	}{{IndexSuffix, index}, {TimeIndexSuffix, timeIndex}, {BloomSuffix, bloom}} {
		if err := l.replaceFile(segmentPath(l.dir, base, f.suffix), f.data); err != nil {
			return err
		}
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		return &StorageError{Op: "sync directory", Path: l.dir, Err: err}
	}
	return nil
}

// replaceFile writes data to path through a .tmp file and a rename. The
// directory is not synced.
func (l *Log) replaceFile(path string, data []byte) error {
	tmp := path + tmpSuffix
	if err := vfs.WriteFile(l.fs, tmp, data, 0o644); err != nil {
		return &StorageError{Op: "write", Path: tmp, Err: err}
	}
	if err := l.fs.Rename(tmp, path); err != nil {
		return &StorageError{Op: "rename", Path: tmp, Err: err}
	}
	return nil
}

// writeCheckpoint persists the log start offset. The caller holds sealMu.
func (l *Log) writeCheckpoint(start int64) error {
	if err := l.replaceFile(l.checkpointPath(), checkpoint{logStartOffset: start}.encode()); err != nil {
		return err
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		return &StorageError{Op: "sync directory", Path: l.dir, Err: err}
	}
	return nil
}

// retentionItem is one segment as retention sees it, oldest first.
type retentionItem struct {
	local  *segment       // nil for a remote-only segment
	remote *RemoteSegment // the archived copy, if any
	base   int64
	next   int64
	size   int64
	maxTs  int64 // -1 when unknown
}

// EnforceRetention deletes the whole segments retention no longer keeps,
// oldest first and never the active one (Kafka's
// UnifiedLog.deleteOldSegments): a segment goes when the log stays at least
// RetentionBytes without it, or when its newest batch is older than
// RetentionAge. With an Archiver those limits cover remote and local
// segments together (remote copies are deleted through Archiver.Delete,
// which moves the log start offset), LocalRetentionBytes/Age bound the
// local copies, and no local segment is deleted before Archive confirmed
// it. The housekeeper calls it after each roll and upload and every
// RetentionCheckInterval; calling it directly is safe.
func (l *Log) EnforceRetention(ctx context.Context) error {
	l.retMu.Lock()
	defer l.retMu.Unlock()
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return ErrClosed
	}
	nowMs := l.opts.Now().UnixMilli()
	if l.opts.Archiver == nil {
		return l.localRetention(ctx, nowMs, l.opts.RetentionBytes, l.opts.RetentionAge, false, "retention")
	}
	remote, err := l.remoteSegments(ctx)
	if err != nil {
		return err
	}
	if err := l.totalRetention(ctx, nowMs, remote); err != nil {
		return err
	}
	return l.localRetention(ctx, nowMs, l.opts.LocalRetentionBytes, l.opts.LocalRetentionAge, true, "local.retention")
}

// breach says why the segment must go, or "".
func breach(prefix string, it retentionItem, total, limitBytes int64, limitAge time.Duration, nowMs int64) string {
	if limitAge > 0 && it.maxTs >= 0 && nowMs-it.maxTs > limitAge.Milliseconds() {
		return prefix + ".ms"
	}
	if limitBytes >= 0 && total-it.size >= limitBytes {
		return prefix + ".bytes"
	}
	return ""
}

// localItems returns the sealed local segments (never the active one),
// oldest first, and the local byte total. A segment without timestamps
// ages by its file's modification time, as Kafka's does.
func (l *Log) localItems() ([]retentionItem, int64) {
	l.mu.Lock()
	var items []retentionItem
	var total int64
	for i, s := range l.segs {
		total += s.size
		if i < len(l.segs)-1 && s.persisted {
			items = append(items, retentionItem{local: s, base: s.base, next: s.next, size: s.size, maxTs: s.maxTs})
		}
	}
	l.mu.Unlock()
	for i := range items {
		if items[i].maxTs < 0 {
			if st, err := l.fs.Stat(items[i].local.path); err == nil {
				items[i].maxTs = st.ModTime().UnixMilli()
			}
		}
	}
	return items, total
}

// localRetention deletes local segments, oldest first, while they breach
// the limits; with archived set only segments the Archiver confirmed.
func (l *Log) localRetention(ctx context.Context, nowMs, limitBytes int64, limitAge time.Duration, archived bool, prefix string) error {
	if limitBytes < 0 && limitAge <= 0 {
		return nil
	}
	items, total := l.localItems()
	for _, it := range items {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		reason := breach(prefix, it, total, limitBytes, limitAge, nowMs)
		if reason == "" {
			return nil
		}
		if archived && !l.isArchived(it.local) {
			return nil
		}
		if err := l.deleteLocal(it.local, reason); err != nil {
			return err
		}
		total -= it.size
	}
	return nil
}

func (l *Log) isArchived(s *segment) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return s.archived
}

// totalRetention applies RetentionBytes/Age to remote and local segments
// together. Remote segments wholly below the log start offset are leftovers
// of an interrupted deletion and go first.
func (l *Log) totalRetention(ctx context.Context, nowMs int64, remote []RemoteSegment) error {
	if l.opts.RetentionBytes < 0 && l.opts.RetentionAge <= 0 && len(remote) == 0 {
		return nil
	}
	locals, localTotal := l.localItems()
	l.mu.Lock()
	localStart := l.segs[0].base
	start := l.startLocked()
	l.mu.Unlock()

	var items []retentionItem
	total := localTotal
	for i := range remote {
		r := &remote[i]
		if r.NextOffset <= start {
			if err := l.deleteRemote(ctx, *r, "below log start", start); err != nil {
				return err
			}
			continue
		}
		if r.BaseOffset < localStart {
			items = append(items, retentionItem{remote: r, base: r.BaseOffset, next: r.NextOffset, size: r.Size, maxTs: r.MaxTimestamp})
			total += r.Size
		}
	}
	byBase := map[int64]*RemoteSegment{}
	for i := range remote {
		byBase[remote[i].BaseOffset] = &remote[i]
	}
	for _, it := range locals {
		if r := byBase[it.base]; r != nil && r.NextOffset == it.next {
			it.remote = r
		}
		items = append(items, it)
	}
	if l.opts.RetentionBytes < 0 && l.opts.RetentionAge <= 0 {
		return nil
	}
	for _, it := range items {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		reason := breach("retention", it, total, l.opts.RetentionBytes, l.opts.RetentionAge, nowMs)
		if reason == "" {
			return nil
		}
		if it.local != nil && !l.isArchived(it.local) {
			return nil // never delete data the tier does not hold yet
		}
		if it.remote != nil {
			if err := l.deleteRemote(ctx, *it.remote, reason, it.next); err != nil {
				return err
			}
		}
		if it.local != nil {
			if err := l.deleteLocal(it.local, reason); err != nil {
				return err
			}
		}
		total -= it.size
	}
	return nil
}

// deleteRemote deletes an archived segment and moves the log start offset to
// newStart (checkpointed) when that is forward.
func (l *Log) deleteRemote(ctx context.Context, r RemoteSegment, reason string, newStart int64) error {
	if err := l.opts.Archiver.Delete(ctx, r); err != nil {
		return &RemoteError{Op: "Delete", Err: err}
	}
	l.remoteMu.Lock()
	for i := range l.remote {
		if l.remote[i].BaseOffset == r.BaseOffset {
			l.remote = append(l.remote[:i:i], l.remote[i+1:]...)
			break
		}
	}
	l.remoteMu.Unlock()
	l.sealMu.Lock()
	l.mu.Lock()
	moved := newStart > l.logStart
	if moved {
		l.logStart = newStart
	}
	start := l.startLocked()
	l.mu.Unlock()
	var err error
	if moved {
		err = l.writeCheckpoint(start)
	}
	l.sealMu.Unlock()
	l.emit([]Event{RemoteSegmentDeleted{Segment: r, Reason: reason, NewStartOffset: start}})
	return err
}

// deleteLocal removes the oldest local segment s from the log and deletes
// its files. Readers holding it keep reading the unlinked file.
func (l *Log) deleteLocal(s *segment, reason string) error {
	l.mu.Lock()
	if len(l.segs) < 2 || l.segs[0] != s {
		l.mu.Unlock()
		return nil
	}
	l.segs = l.segs[1:]
	closeNow := s.retireLocked()
	l.stats.Deleted++
	l.mu.Unlock()
	if closeNow {
		s.file.Close()
	}
	errs := []error{removeSegmentFiles(l.fs, l.dir, s.base)}
	if err := l.fs.SyncDir(l.dir); err != nil {
		errs = append(errs, &StorageError{Op: "sync directory", Path: l.dir, Err: err})
	}
	l.emit([]Event{SegmentDeleted{BaseOffset: s.base, NextOffset: s.next, Reason: reason}})
	return errors.Join(errs...)
}

// removeSegmentFiles deletes every file of the segment at base.
func removeSegmentFiles(fsys vfs.FS, dir string, base int64) error {
	var errs []error
	for _, suffix := range []string{IndexSuffix, TimeIndexSuffix, BloomSuffix, LogSuffix} {
		p := segmentPath(dir, base, suffix)
		if err := fsys.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, &StorageError{Op: "remove", Path: p, Err: err})
		}
	}
	return errors.Join(errs...)
}
