package produce

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/idempotence"
	"github.com/chronik-go/chronik/internal/vfs"
	"github.com/chronik-go/chronik/record"
	"github.com/chronik-go/chronik/segment"
)

// partition is one open topic-partition this node leads.
type partition struct {
	topic string
	index int32
	label string // "<topic>-<index>", as Kafka names a partition in messages
	dir   string
	fs    vfs.FS
	log   *segment.Log

	// mu serializes appends to the partition, so that the producer-state
	// checks, offset assignment, the write and the state update are one
	// atomic step. It guards producers and lastExpiry.
	mu         sync.Mutex
	producers  *idempotence.State // nil when idempotence is off
	lastExpiry time.Time
	aborted    *abortIndex // nil when idempotence is off
	// completed holds transactions whose marker may still be above the
	// high watermark: they bound the last stable offset until it passes.
	completed []idempotence.CompletedTxn

	// rolled is set by the log's SegmentRolled event; the next append
	// snapshots the producer state (Kafka snapshots on every roll).
	rolled atomic.Bool
}

const snapshotSuffix = ".snapshot"

func snapshotName(offset int64) string { return fmt.Sprintf("%020d%s", offset, snapshotSuffix) }

// loadProducerState rebuilds the producer state: the newest snapshot at or
// below the log end offset, then every batch after it replayed without
// checks, as Kafka's ProducerStateManager does on load (kafka-semantics.md
// §3.6). Damaged snapshots are deleted and an older one (or the whole log)
// is used instead.
func (p *partition) loadProducerState() error {
	end := p.log.NextOffset()
	ix, existed, err := openAbortIndex(p.fs, p.dir, end)
	if err != nil {
		return fmt.Errorf("opening the aborted-transaction index: %w", err)
	}
	p.aborted = ix
	state, from := idempotence.New(), p.log.StartOffset()
	snapshots := p.snapshots()
	if !existed {
		// Without its index, every abort marker must be seen again:
		// replay the whole log instead of starting at a snapshot.
		snapshots = nil
	}
	for _, off := range snapshots {
		path := filepath.Join(p.dir, snapshotName(off))
		if off > end {
			p.fs.Remove(path) // reflects data lost in a crash
			continue
		}
		b, err := vfs.ReadFile(p.fs, path)
		if err != nil {
			return err
		}
		s, at, err := idempotence.LoadSnapshot(b)
		if err != nil {
			p.fs.Remove(path)
			continue
		}
		state, from = s, max(at, p.log.StartOffset())
		break
	}
	var scratch []byte
	for off := from; off < end; {
		data, err := p.log.Read(off, 1<<20, end)
		if err != nil {
			return fmt.Errorf("replaying producer state from offset %d: %w", off, err)
		}
		if len(data) == 0 {
			break
		}
		for len(data) >= record.HeaderSize {
			h := record.ReadHeader(data)
			if h.Size() > len(data) {
				break
			}
			b := data[:h.Size()]
			data = data[h.Size():]
			off = h.LastOffset() + 1
			if h.ProducerID < 0 {
				continue
			}
			if !h.Control() {
				state.Apply(batchOf(&h), h.BaseOffset)
				continue
			}
			scratch, err = record.WalkBatch(b, &h, scratch, 1<<20, func(_ int, r *record.Record) error {
				typ, coordEpoch, err := record.ParseMarker(r)
				if err != nil || (typ != record.ControlAbort && typ != record.ControlCommit) {
					return nil
				}
				c, ok := state.ApplyMarker(h.ProducerID, h.ProducerEpoch, coordEpoch, h.BaseOffset, h.MaxTimestamp, typ == record.ControlCommit)
				if ok && c.Aborted {
					return ix.add(AbortedTxn{ProducerID: c.ProducerID, FirstOffset: c.FirstOffset, MarkerOffset: c.MarkerOffset})
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("replaying marker at offset %d: %w", h.BaseOffset, err)
			}
		}
	}
	p.producers = state
	return p.writeSnapshot()
}

// snapshots lists the offsets of the snapshot files, newest first.
func (p *partition) snapshots() []int64 {
	ents, _ := p.fs.ReadDir(p.dir)
	var offs []int64
	for _, e := range ents {
		digits, ok := strings.CutSuffix(e.Name(), snapshotSuffix)
		if !ok || len(digits) != 20 {
			continue
		}
		if off, err := strconv.ParseInt(digits, 10, 64); err == nil {
			offs = append(offs, off)
		}
	}
	sort.Slice(offs, func(i, j int) bool { return offs[i] > offs[j] })
	return offs
}

// writeSnapshot writes the producer state as of the log end offset and
// keeps the two newest snapshots. The file is written whole and synced under
// a temporary name and then renamed, so a crash leaves the old snapshot or
// the new one, never a torn one (a torn one would also fail its CRC and be
// skipped). Called with mu held (or before the partition is shared).
func (p *partition) writeSnapshot() error {
	if p.producers == nil {
		return nil
	}
	end := p.log.NextOffset()
	path := filepath.Join(p.dir, snapshotName(end))
	tmp := path + ".tmp"
	if err := vfs.WriteFile(p.fs, tmp, p.producers.AppendSnapshot(nil, end), 0o644); err != nil {
		return err
	}
	if err := p.fs.Rename(tmp, path); err != nil {
		return err
	}
	for i, off := range p.snapshots() {
		if i >= 2 {
			p.fs.Remove(filepath.Join(p.dir, snapshotName(off)))
		}
	}
	return nil
}

// batchOf describes a batch header for the producer-state checks.
func batchOf(h *record.Header) idempotence.Batch {
	return idempotence.Batch{
		ProducerID:    h.ProducerID,
		Epoch:         h.ProducerEpoch,
		BaseSequence:  h.BaseSequence,
		LastSequence:  h.LastSequence(),
		OffsetDelta:   h.LastOffsetDelta,
		MaxTimestamp:  h.MaxTimestamp,
		Transactional: h.Transactional(),
	}
}

// appendResult is the outcome of appending one batch.
type appendResult struct {
	base      int64 // first offset of the batch (of the original for a duplicate)
	end       int64 // one past the last offset
	duplicate bool
	timestamp int64 // the original's max timestamp, for a duplicate
}

// append checks the batch against the producer state and appends it, as
// one step under the partition lock (kafka-semantics.md §2.2 steps 10-13).
//
// verify, when set, is asked whether a transactional batch that opens a
// transaction on this partition belongs to an ongoing transaction of its
// producer (KIP-890 verification, kafka-semantics.md §4.8).
func (p *partition) append(b []byte, h *record.Header, info segment.AppendInfo, expiry time.Duration, now time.Time, verify func(pid int64, epoch int16) errcode.Code) (appendResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var pb idempotence.Batch
	tracked := p.producers != nil && h.ProducerID >= 0
	if tracked {
		pb = batchOf(h)
		v := p.producers.Check(pb)
		if v.Duplicate {
			return appendResult{base: v.Original.FirstOffset, end: v.Original.LastOffset + 1, duplicate: true, timestamp: v.Original.Timestamp}, nil
		}
		if v.Code != errcode.None {
			return appendResult{}, &errcode.Error{Code: v.Code, Msg: v.Msg}
		}
		if pb.Transactional && verify != nil {
			if e, ok := p.producers.Entry(pb.ProducerID); !ok || e.TxnFirstOffset < 0 {
				if code := verify(pb.ProducerID, pb.Epoch); code != errcode.None {
					return appendResult{}, &errcode.Error{Code: code, Msg: "the partition is not part of an ongoing transaction of the producer"}
				}
			}
		}
	}
	base, err := p.log.Append(b, info)
	if err != nil {
		return appendResult{}, err
	}
	if tracked {
		p.producers.Apply(pb, base)
	}
	if p.producers != nil {
		if p.rolled.Swap(false) {
			if err := p.writeSnapshot(); err != nil {
				// The snapshot only shortens replay: keep serving.
				p.rolled.Store(true)
			}
		}
		if expiry > 0 && now.Sub(p.lastExpiry) >= expiryCheckInterval(expiry) {
			p.lastExpiry = now
			p.producers.Expire(now.Add(-expiry).UnixMilli())
		}
	}
	return appendResult{base: base, end: base + int64(h.LastOffsetDelta) + 1}, nil
}

// expiryCheckInterval is how often idle producers are looked for: Kafka's
// producer.id.expiration.check.interval.ms (10 minutes), or more often
// when the expiration itself is shorter.
func expiryCheckInterval(expiry time.Duration) time.Duration {
	return min(10*time.Minute, expiry/2)
}

// close snapshots the producer state and closes the log.
func (p *partition) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	if p.log.Err() == nil {
		errs = append(errs, p.writeSnapshot())
	}
	errs = append(errs, p.log.Close())
	if p.aborted != nil {
		errs = append(errs, p.aborted.close())
	}
	return errors.Join(errs...)
}

// lastStableOffset is the offset below which every transaction is decided
// and replicated (kafka-semantics.md §4.10): the high watermark, lowered to
// the first offset of the oldest open transaction and of the oldest
// completed one whose marker is not yet below the high watermark.
func (p *partition) lastStableOffset() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	hw := p.log.HighWatermark()
	if p.producers == nil {
		return hw
	}
	lso := hw
	if open := p.producers.OpenTransactions(); len(open) > 0 {
		lso = min(lso, open[0].TxnFirstOffset) // ordered by first offset
	}
	kept := p.completed[:0]
	for _, c := range p.completed {
		if c.MarkerOffset >= hw {
			kept = append(kept, c)
			lso = min(lso, c.FirstOffset)
		}
	}
	p.completed = kept
	return lso
}

// writeMarker appends a COMMIT or ABORT marker for a producer and records
// the transaction's end; an abort's index entry is durable before this
// returns. It returns the marker's offset.
func (p *partition) writeMarker(b []byte, pid int64, epoch int16, coordinatorEpoch int32, commit bool, ts int64) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.producers == nil {
		return -1, &errcode.Error{Code: errcode.InvalidTxnState, Msg: "transactions need idempotence"}
	}
	if v := p.producers.CheckMarker(pid, epoch, coordinatorEpoch); v.Code != errcode.None {
		return -1, &errcode.Error{Code: v.Code, Msg: v.Msg}
	}
	off, err := p.log.Append(b, segment.AppendInfo{MaxTimestamp: ts})
	if err != nil {
		return -1, err
	}
	c, ok := p.producers.ApplyMarker(pid, epoch, coordinatorEpoch, off, ts, commit)
	if !ok {
		return off, nil
	}
	p.completed = append(p.completed, c)
	if c.Aborted {
		if err := p.aborted.add(AbortedTxn{ProducerID: pid, FirstOffset: c.FirstOffset, MarkerOffset: off}); err != nil {
			return -1, &errcode.Error{Code: errcode.KafkaStorageError, Msg: err.Error()}
		}
	}
	return off, nil
}
