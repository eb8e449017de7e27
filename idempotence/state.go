// Package idempotence keeps the producer state of one partition and decides,
// for every batch that carries a producer id, whether it is new, a retry of
// a batch already written (answered with the original offset), or invalid.
//
// It follows Apache Kafka's ProducerStateManager, ProducerAppendInfo and
// ProducerStateEntry (kafka-semantics.md §3): per producer id an epoch and
// the metadata of the last five batches; duplicates are exact matches of
// (first sequence, last sequence) among those five; a lower epoch is
// INVALID_PRODUCER_EPOCH; a gap is OUT_OF_ORDER_SEQUENCE_NUMBER; an unknown
// producer may start at any sequence (Kafka 2.5+, KIP-360).
//
// A State is not safe for concurrent use: the partition's append lock
// guards it, so that checking a batch, assigning its offset, writing it and
// recording it are one atomic step.
package idempotence

import (
	"fmt"
	"math"
	"sort"

	"github.com/chronik-go/chronik/errcode"
)

// MaxCachedBatches is how many batches per producer Kafka remembers for
// duplicate detection (ProducerStateEntry.NUM_BATCHES_TO_RETAIN).
const MaxCachedBatches = 5

// BatchMeta describes one written batch of a producer.
type BatchMeta struct {
	FirstSeq    int32
	LastSeq     int32
	FirstOffset int64
	LastOffset  int64
	Timestamp   int64 // the batch's max timestamp
}

// Entry is the state of one producer id on one partition.
type Entry struct {
	ProducerID       int64
	Epoch            int16 // -1 when unknown
	CoordinatorEpoch int32 // from the last COMMIT/ABORT marker, -1 if none
	LastTimestamp    int64 // max timestamp of the last batch or marker, for expiry
	// TxnFirstOffset is the first offset of the producer's open
	// transaction on this partition, or -1 when none is open.
	TxnFirstOffset int64
	// Batches holds the last written batches, oldest first, at most
	// MaxCachedBatches.
	Batches []BatchMeta
}

func (e *Entry) lastSeq() int32 {
	if len(e.Batches) == 0 {
		return -1
	}
	return e.Batches[len(e.Batches)-1].LastSeq
}

// Batch is what the checks need to know of an incoming batch.
type Batch struct {
	ProducerID    int64
	Epoch         int16
	BaseSequence  int32
	LastSequence  int32 // BaseSequence + LastOffsetDelta, wrapping after MaxInt32
	OffsetDelta   int32 // the batch's lastOffsetDelta
	MaxTimestamp  int64
	Transactional bool
}

// Verdict is the outcome of checking a batch.
type Verdict struct {
	// Code is NONE for a batch to append (or a duplicate), otherwise the
	// Kafka error to answer with.
	Code errcode.Code
	Msg  string
	// Duplicate is set for an exact retry of a cached batch: append
	// nothing and answer success with Original's offsets.
	Duplicate bool
	Original  BatchMeta
}

// State is the producer state of one partition.
type State struct {
	producers map[int64]*Entry
}

// New returns an empty State.
func New() *State { return &State{producers: make(map[int64]*Entry)} }

// Len returns the number of producers tracked.
func (s *State) Len() int { return len(s.producers) }

// Entry returns a copy of the producer's entry.
func (s *State) Entry(pid int64) (Entry, bool) {
	e, ok := s.producers[pid]
	if !ok {
		return Entry{}, false
	}
	c := *e
	c.Batches = append([]BatchMeta(nil), e.Batches...)
	return c, true
}

// Check decides what to do with a batch from a client, without changing
// the state (kafka-semantics.md §3.2 steps 1, 3, 4 and 5).
func (s *State) Check(b Batch) Verdict {
	e := s.producers[b.ProducerID]
	if e == nil {
		// Unknown producer (new, or expired): any sequence is accepted
		// (Kafka >= 2.5, KIP-360); UNKNOWN_PRODUCER_ID is never sent.
		return Verdict{}
	}
	// 1. Duplicate short-circuit: same epoch and an exact cached match.
	if b.Epoch == e.Epoch {
		for _, m := range e.Batches {
			if m.FirstSeq == b.BaseSequence && m.LastSeq == b.LastSequence {
				return Verdict{Duplicate: true, Original: m}
			}
		}
	}
	// 3. Epoch fencing.
	if b.Epoch < e.Epoch {
		return Verdict{Code: errcode.InvalidProducerEpoch, Msg: fmt.Sprintf(
			"epoch %d of producer %d is older than the current epoch %d", b.Epoch, b.ProducerID, e.Epoch)}
	}
	// 4. Sequence (ProducerAppendInfo.checkSequence).
	if b.Epoch != e.Epoch {
		if e.Epoch != -1 && b.BaseSequence != 0 {
			return Verdict{Code: errcode.OutOfOrderSequenceNumber, Msg: fmt.Sprintf(
				"producer %d moved to epoch %d but its first sequence is %d, not 0", b.ProducerID, b.Epoch, b.BaseSequence)}
		}
	} else if e.Epoch != -1 && !inSequence(e.lastSeq(), b.BaseSequence) {
		return Verdict{Code: errcode.OutOfOrderSequenceNumber, Msg: fmt.Sprintf(
			"out of order sequence for producer %d at epoch %d: expected %d, got %d",
			b.ProducerID, e.Epoch, nextSeq(e.lastSeq()), b.BaseSequence)}
	}
	// 5. Transaction consistency.
	if !b.Transactional && e.TxnFirstOffset >= 0 {
		return Verdict{Code: errcode.InvalidTxnState, Msg: fmt.Sprintf(
			"producer %d has an open transaction on this partition; a non-transactional batch is not allowed", b.ProducerID)}
	}
	return Verdict{}
}

// inSequence reports whether next follows last, wrapping after MaxInt32
// to 0 (ProducerAppendInfo.inSequence).
func inSequence(last, next int32) bool {
	return next == nextSeq(last)
}

func nextSeq(last int32) int32 {
	if last == math.MaxInt32 {
		return 0
	}
	return last + 1
}

// Apply records a batch that was written at firstOffset (§3.2 step 6): an
// epoch change clears the cache; the batch joins the cache, dropping the
// oldest beyond MaxCachedBatches; a transactional batch opens the
// producer's transaction on this partition if none is open. It is also
// how the state is rebuilt from the log, without checks, on recovery.
func (s *State) Apply(b Batch, firstOffset int64) {
	e := s.producers[b.ProducerID]
	if e == nil {
		e = &Entry{ProducerID: b.ProducerID, Epoch: b.Epoch, CoordinatorEpoch: -1, TxnFirstOffset: -1}
		s.producers[b.ProducerID] = e
	}
	if b.Epoch != e.Epoch {
		e.Epoch = b.Epoch
		e.Batches = e.Batches[:0]
	}
	m := BatchMeta{
		FirstSeq: b.BaseSequence, LastSeq: b.LastSequence,
		FirstOffset: firstOffset, LastOffset: firstOffset + int64(b.OffsetDelta),
		Timestamp: b.MaxTimestamp,
	}
	if len(e.Batches) == MaxCachedBatches {
		copy(e.Batches, e.Batches[1:])
		e.Batches = e.Batches[:MaxCachedBatches-1]
	}
	e.Batches = append(e.Batches, m)
	e.LastTimestamp = b.MaxTimestamp
	if b.Transactional && e.TxnFirstOffset < 0 {
		e.TxnFirstOffset = firstOffset
	}
}

// CompletedTxn is a transaction closed by a marker on this partition.
type CompletedTxn struct {
	ProducerID   int64
	FirstOffset  int64
	MarkerOffset int64
	Aborted      bool
}

// CheckMarker validates a COMMIT/ABORT marker written by the transaction
// coordinator (§3.4): an older producer epoch is INVALID_PRODUCER_EPOCH, an
// older coordinator epoch TRANSACTION_COORDINATOR_FENCED.
func (s *State) CheckMarker(pid int64, epoch int16, coordinatorEpoch int32) Verdict {
	e := s.producers[pid]
	if e == nil {
		return Verdict{}
	}
	if epoch < e.Epoch {
		return Verdict{Code: errcode.InvalidProducerEpoch, Msg: fmt.Sprintf(
			"marker epoch %d of producer %d is older than the current epoch %d", epoch, pid, e.Epoch)}
	}
	if coordinatorEpoch < e.CoordinatorEpoch {
		return Verdict{Code: errcode.TransactionCoordinatorFenced, Msg: fmt.Sprintf(
			"marker coordinator epoch %d is older than %d", coordinatorEpoch, e.CoordinatorEpoch)}
	}
	return Verdict{}
}

// ApplyMarker records a marker written at offset: it closes the producer's
// open transaction on this partition, and a higher epoch resets the
// sequence cache (the next batch must start at 0). It returns the
// completed transaction, or false when the producer had none open here.
func (s *State) ApplyMarker(pid int64, epoch int16, coordinatorEpoch int32, offset, timestamp int64, commit bool) (CompletedTxn, bool) {
	e := s.producers[pid]
	if e == nil {
		e = &Entry{ProducerID: pid, Epoch: epoch, TxnFirstOffset: -1}
		s.producers[pid] = e
	}
	if epoch > e.Epoch {
		e.Epoch = epoch
		e.Batches = e.Batches[:0]
	}
	e.CoordinatorEpoch = coordinatorEpoch
	e.LastTimestamp = timestamp
	if e.TxnFirstOffset < 0 {
		return CompletedTxn{}, false
	}
	c := CompletedTxn{ProducerID: pid, FirstOffset: e.TxnFirstOffset, MarkerOffset: offset, Aborted: !commit}
	e.TxnFirstOffset = -1
	return c, true
}

// OpenTransactions returns the producers with an open transaction on this
// partition and its first offset, ordered by first offset.
func (s *State) OpenTransactions() []Entry {
	var out []Entry
	for _, e := range s.producers {
		if e.TxnFirstOffset >= 0 {
			out = append(out, Entry{ProducerID: e.ProducerID, Epoch: e.Epoch, TxnFirstOffset: e.TxnFirstOffset})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TxnFirstOffset < out[j].TxnFirstOffset })
	return out
}

// Expire removes producers without an open transaction whose last
// timestamp is older than cutoff (ms), as Kafka's removeExpiredProducers
// does after producer.id.expiration.ms. It returns how many it removed.
func (s *State) Expire(cutoff int64) int {
	n := 0
	for pid, e := range s.producers {
		if e.TxnFirstOffset < 0 && e.LastTimestamp < cutoff {
			delete(s.producers, pid)
			n++
		}
	}
	return n
}

// Producers returns copies of every entry, ordered by producer id.
func (s *State) Producers() []Entry {
	out := make([]Entry, 0, len(s.producers))
	for pid := range s.producers {
		e, _ := s.Entry(pid)
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ProducerID < out[j].ProducerID })
	return out
}

// Restore installs an entry, replacing any for the same producer (used
// when loading a snapshot).
func (s *State) Restore(e Entry) {
	c := e
	if len(c.Batches) > MaxCachedBatches {
		c.Batches = c.Batches[len(c.Batches)-MaxCachedBatches:]
	}
	c.Batches = append([]BatchMeta(nil), c.Batches...)
	s.producers[e.ProducerID] = &c
}
