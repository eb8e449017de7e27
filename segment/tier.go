package segment

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/chronik-go/chronik/record"
)

// uploadLoop is the uploader goroutine, run only with an Archiver: it lists
// the remote segments once, then archives sealed segments oldest first,
// retrying failures with exponential backoff. It exits when Close cancels
// l.upCtx.
func (l *Log) uploadLoop() {
	defer l.wg.Done()
	ctx := l.upCtx
	backoff := l.opts.ArchiveRetryMin
	for {
		if _, err := l.remoteSegments(ctx); err == nil {
			break
		} else {
			l.opts.Logger.Warn("listing archived segments", "dir", l.dir, "err", err, "retry_in", backoff)
		}
		if !sleepCtx(ctx, backoff) {
			return
		}
		backoff = min(2*backoff, l.opts.ArchiveRetryMax)
	}
	backoff = l.opts.ArchiveRetryMin
	attempts := 0
	for {
		s := l.nextToArchive()
		if s == nil {
			select {
			case <-l.upKick:
				continue
			case <-ctx.Done():
				return
			}
		}
		seg := s.sealedSegment(l.dir, l.fs)
		attempts++
		err := l.opts.Archiver.Archive(ctx, seg)
		l.release(s)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			l.opts.Logger.Warn("archiving segment", "dir", l.dir, "base_offset", seg.BaseOffset, "attempt", attempts, "err", err, "retry_in", backoff)
			l.emit([]Event{ArchiveFailed{BaseOffset: seg.BaseOffset, Attempt: attempts, Err: err, RetryIn: backoff}})
			if !sleepCtx(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, l.opts.ArchiveRetryMax)
			continue
		}
		l.mu.Lock()
		s.archived = true
		l.mu.Unlock()
		l.addRemote(seg.Remote())
		l.emit([]Event{SegmentArchived{Segment: seg.Remote(), Attempts: attempts}})
		attempts, backoff = 0, l.opts.ArchiveRetryMin
		wake(l.hkKick)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// nextToArchive returns, with a reference held, the oldest sealed segment
// whose index files are written and which is not archived yet.
func (l *Log) nextToArchive() *segment {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.segs {
		if s.sealed && s.persisted && !s.archived && !s.retired {
			s.acquireLocked()
			return s
		}
	}
	return nil
}

// addRemote inserts r into the cached remote list, keeping offset order.
func (l *Log) addRemote(r RemoteSegment) {
	l.remoteMu.Lock()
	defer l.remoteMu.Unlock()
	i := sort.Search(len(l.remote), func(i int) bool { return l.remote[i].BaseOffset >= r.BaseOffset })
	if i < len(l.remote) && l.remote[i].BaseOffset == r.BaseOffset {
		l.remote[i] = r
		return
	}
	l.remote = append(l.remote, RemoteSegment{})
	copy(l.remote[i+1:], l.remote[i:])
	l.remote[i] = r
}

// remoteSegments returns the archived segments, listing them through the
// Archiver the first time. The first listing also marks the local segments
// it holds as archived and, without a checkpoint, sets the log start offset.
func (l *Log) remoteSegments(ctx context.Context) ([]RemoteSegment, error) {
	l.remoteMu.Lock()
	if l.remoteListed {
		out := append([]RemoteSegment(nil), l.remote...)
		l.remoteMu.Unlock()
		return out, nil
	}
	l.remoteMu.Unlock()
	list, err := l.opts.Archiver.Segments(ctx)
	if err != nil {
		return nil, &RemoteError{Op: "Segments", Err: err}
	}
	list = append([]RemoteSegment(nil), list...)
	sort.Slice(list, func(i, j int) bool { return list[i].BaseOffset < list[j].BaseOffset })
	l.remoteMu.Lock()
	if !l.remoteListed {
		for _, r := range l.remote { // archived meanwhile by this process
			i := sort.Search(len(list), func(i int) bool { return list[i].BaseOffset >= r.BaseOffset })
			if i == len(list) || list[i].BaseOffset != r.BaseOffset {
				list = append(list[:i], append([]RemoteSegment{r}, list[i:]...)...)
			}
		}
		l.remote, l.remoteListed = list, true
	}
	out := append([]RemoteSegment(nil), l.remote...)
	l.remoteMu.Unlock()

	l.mu.Lock()
	byBase := make(map[int64]RemoteSegment, len(out))
	for _, r := range out {
		byBase[r.BaseOffset] = r
	}
	for _, s := range l.segs {
		if r, ok := byBase[s.base]; ok && s.sealed && r.NextOffset == s.next {
			s.archived = true
		}
	}
	if !l.hadCheckpoint && len(out) > 0 && out[0].BaseOffset < l.logStart {
		l.logStart = out[0].BaseOffset
	}
	l.hadCheckpoint = true
	l.mu.Unlock()
	return out, nil
}

// readRemote reads from the archived segment holding offset (or the first
// one after it), keeping batches below upTo. With no bytes to return it
// gives the offset to continue from (the end of the segment it tried, or
// upTo when no archived segment lies at or after offset).
func (l *Log) readRemote(ctx context.Context, offset int64, maxBytes int, upTo int64) ([]byte, int64, error) {
	segs, err := l.remoteSegments(ctx)
	if err != nil {
		return nil, 0, err
	}
	i := sort.Search(len(segs), func(i int) bool { return segs[i].NextOffset > offset })
	if i == len(segs) || segs[i].BaseOffset >= upTo {
		return nil, upTo, nil
	}
	seg := segs[i]
	data, err := l.opts.Archiver.Read(ctx, seg, max(offset, seg.BaseOffset), maxBytes)
	if err != nil {
		return nil, 0, &RemoteError{Op: "Read", Err: err}
	}
	if data, err = trimBatches(data, upTo); err != nil {
		return nil, 0, &RemoteError{Op: "Read", Err: err}
	}
	if len(data) == 0 {
		return nil, seg.NextOffset, nil
	}
	return data, 0, nil
}

// trimBatches returns the leading whole batches of data whose last offset is
// below upTo.
func trimBatches(data []byte, upTo int64) ([]byte, error) {
	p := 0
	for p < len(data) {
		if len(data)-p < record.HeaderSize {
			return nil, fmt.Errorf("%d trailing bytes after %d bytes of batches", len(data)-p, p)
		}
		h := record.ReadHeader(data[p:])
		if why := checkFraming(&h, int64(p), int64(len(data))); why != "" {
			return nil, fmt.Errorf("batch at byte %d: %s", p, why)
		}
		if h.LastOffset() >= upTo {
			break
		}
		p += h.Size()
	}
	return data[:p:p], nil
}

// remoteOffsetForTime searches the archived segments between start and
// localStart in offset order.
func (l *Log) remoteOffsetForTime(ctx context.Context, ts, start, localStart int64) (int64, bool, error) {
	segs, err := l.remoteSegments(ctx)
	if err != nil {
		return 0, false, err
	}
	for _, r := range segs {
		if r.NextOffset <= start || r.BaseOffset >= localStart || r.MaxTimestamp < ts {
			continue
		}
		off, found, err := l.opts.Archiver.OffsetForTime(ctx, r, ts)
		if err != nil {
			return 0, false, &RemoteError{Op: "OffsetForTime", Err: err}
		}
		if found {
			return off, true, nil
		}
	}
	return 0, false, nil
}
