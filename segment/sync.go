package segment

import (
	"context"
	"time"
)

// WaitDurable blocks until HighWatermark() >= offset, that is until an fsync
// covering every byte below offset has completed, asking the syncer for an
// fsync now. One fsync serves every waiter it covers (group commit), and
// appends continue while it runs. It returns the sticky *StorageError if a
// write or fsync failed before offset became durable, ErrClosed if the log
// closed first, and ctx.Err() when ctx is done. An offset beyond the log end
// offset waits for the appends that reach it.
func (l *Log) WaitDurable(ctx context.Context, offset int64) error {
	var w *waiter
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		if l.hw >= offset {
			l.forgetLocked(w)
			return nil
		}
		if l.err != nil {
			l.forgetLocked(w)
			return l.err
		}
		if l.syncStopped {
			l.forgetLocked(w)
			return ErrClosed
		}
		if w == nil {
			w = &waiter{offset: offset}
			l.waiting[w] = struct{}{}
			l.arrived++
		}
		l.syncWanted = true
		ch := l.hwCh
		l.mu.Unlock()
		wake(l.syncKick)
		select {
		case <-ch:
			l.mu.Lock()
		case <-ctx.Done():
			l.mu.Lock()
			l.forgetLocked(w)
			return ctx.Err()
		}
	}
}

// waiter is one WaitDurable call blocked for an fsync. The syncer counts
// the waiters each round releases to size the next round (see syncLoop).
type waiter struct {
	offset int64
}

func (l *Log) forgetLocked(w *waiter) {
	if w != nil {
		delete(l.waiting, w)
	}
}

// releaseLocked removes the waiters the high watermark now covers and
// remembers how many there were.
func (l *Log) releaseLocked() {
	l.cohort, l.arrived = 0, 0
	for w := range l.waiting {
		if w.offset <= l.hw {
			delete(l.waiting, w)
			l.cohort++
		}
	}
}

// Sync makes every batch appended so far durable: it returns once the high
// watermark reached the log end offset seen at the call, or the sticky error.
func (l *Log) Sync() error {
	l.mu.Lock()
	target, closed := l.leo, l.closed
	l.mu.Unlock()
	if closed {
		return ErrClosed
	}
	return l.WaitDurable(context.Background(), target)
}

// maxGather bounds how long the syncer waits for the waiters of the last
// round to come back before starting the next fsync.
const maxGather = 5 * time.Millisecond

// syncLoop is the syncer goroutine: the group commit. It runs an fsync
// round whenever someone waits, FlushBytes accumulated or FlushInterval
// passed since the first unsynced byte, and a last round when stopped.
func (l *Log) syncLoop() {
	defer l.wg.Done()
	defer func() {
		l.mu.Lock()
		l.syncStopped = true
		l.advanceLocked(l.hw)
		l.mu.Unlock()
	}()
	for {
		l.mu.Lock()
		healthy := l.err == nil
		full := l.opts.FlushBytes > 0 && l.unsynced >= int64(l.opts.FlushBytes)
		want := healthy && (l.syncWanted || full)
		var wait time.Duration
		if want && !full && l.arrived < l.cohort {
			// Gather: the waiters the last round released usually append
			// again within microseconds; one fsync for all of them beats
			// one for the first and another for the rest. Wait for them at
			// most half an fsync (and at most maxGather).
			if d := time.Until(l.roundEnd.Add(min(l.lastFsync/2, maxGather))); d > 0 {
				want, wait = false, d
			}
		}
		if !want && healthy && l.unsynced > 0 && l.opts.FlushInterval > 0 {
			d := l.opts.FlushInterval - time.Since(l.firstUnsynced)
			if d <= 0 {
				want = true
			} else if wait == 0 || d < wait {
				wait = d
			}
		}
		l.mu.Unlock()
		if want {
			l.syncOnce()
			continue
		}
		var timer *time.Timer
		var fire <-chan time.Time
		if wait > 0 {
			timer = time.NewTimer(wait)
			fire = timer.C
		}
		select {
		case <-l.syncKick:
		case <-fire:
		case <-l.stopSync:
			if timer != nil {
				timer.Stop()
			}
			l.syncOnce()
			return
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// syncOnce is one group-commit round: snapshot the log end offset and the
// segments with unsynced bytes, fsync the directory (if a segment was
// created) and those segments outside the lock, then raise the high
// watermark to the snapshot. A failure sets the sticky error instead.
func (l *Log) syncOnce() {
	type job struct {
		s    *segment
		size int64
	}
	l.mu.Lock()
	l.syncWanted = false
	if l.err != nil {
		l.mu.Unlock()
		return
	}
	target, dirty := l.leo, l.dirDirty
	var jobs []job
	for _, s := range l.segs {
		if s.synced < s.size {
			s.acquireLocked()
			jobs = append(jobs, job{s, s.size})
		}
	}
	if len(jobs) == 0 && !dirty {
		if target > l.hw {
			l.advanceLocked(target)
		}
		l.mu.Unlock()
		return
	}
	l.dirDirty = false
	started := time.Now()
	l.mu.Unlock()

	var err error
	if dirty {
		if e := l.fs.SyncDir(l.dir); e != nil {
			err = &StorageError{Op: "sync directory", Path: l.dir, Err: e}
		}
	}
	for _, j := range jobs {
		if err == nil {
			if e := j.s.file.Sync(); e != nil {
				err = &StorageError{Op: "sync", Path: j.s.path, Err: e}
			}
		}
		l.release(j.s)
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.failLocked(err)
		return
	}
	for _, j := range jobs {
		l.markSyncedLocked(j.s, j.size)
	}
	if l.unsynced > 0 {
		l.firstUnsynced = started
	}
	l.roundEnd = time.Now()
	l.lastFsync = l.roundEnd.Sub(started)
	l.stats.Syncs++
	if l.err == nil {
		l.advanceLocked(target)
		l.releaseLocked()
	}
}

// markSyncedLocked records that the first size bytes of s are durable.
func (l *Log) markSyncedLocked(s *segment, size int64) {
	if size > s.synced {
		l.unsynced -= size - s.synced
		s.synced = size
	}
}
