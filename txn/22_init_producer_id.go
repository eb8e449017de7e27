package txn

import (
	"context"
	"time"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/metadata"
)

// InitProducerID answers InitProducerId (key 22) v0-v5 as Kafka's
// TransactionCoordinator.handleInitProducerId does (kafka-semantics.md
// §4.2). producerID and epoch are the request's KIP-360 fields (v3+; -1
// and -1 when absent or for older versions). On success it returns the
// producer id and epoch the client must use; on error -1, -1 and the code,
// with PRODUCER_FENCED sent as INVALID_PRODUCER_EPOCH below v4.
//
// A nil transactionalID is an idempotent producer: a fresh producer id
// with epoch 0, whatever the request carries. With a transactional id the
// id's state is created or advanced and stored before the answer:
//   - Empty, CompleteCommit, CompleteAbort: epoch+1 (or the same epoch for
//     a retry of a bump whose answer was lost, KIP-360), or a new producer
//     id with epoch 0 once the epoch is exhausted;
//   - Ongoing: the transaction is fenced (epoch+1, PrepareAbort, markers
//     written in the background) and the answer is CONCURRENT_TRANSACTIONS,
//     so the client retries and gets the next epoch;
//   - PrepareCommit, PrepareAbort, or a transition in flight:
//     CONCURRENT_TRANSACTIONS.
func (c *Coordinator) InitProducerID(ctx context.Context, version int16, transactionalID *string, timeoutMs int32, producerID int64, epoch int16) (int64, int16, errcode.Code) {
	fail := func(code errcode.Code) (int64, int16, errcode.Code) {
		return noProducerID, noEpoch, fencedForVersion(code, version, 4)
	}
	if version < 0 || version > MaxInitProducerIDVersion {
		return fail(errcode.UnsupportedVersion)
	}
	if c.isClosed() {
		return fail(errcode.NotCoordinator)
	}
	if transactionalID == nil {
		pid, err := c.ids.Next(ctx)
		if err != nil {
			c.opts.Logger.Warn("txn: allocating a producer id", "err", err)
			return fail(pidCode(err))
		}
		return pid, 0, errcode.None
	}
	id := *transactionalID
	switch {
	case id == "" || len(id) > metadata.MaxKeyLen:
		return fail(errcode.InvalidRequest)
	case timeoutMs <= 0 || time.Duration(timeoutMs)*time.Millisecond > c.opts.MaxTransactionTimeout:
		return fail(errcode.InvalidTransactionTimeout)
	case (producerID == noProducerID) != (epoch == noEpoch):
		// KafkaApis.handleInitProducerIdRequest: both or neither.
		return fail(errcode.InvalidRequest)
	}
	req := initRequest{timeoutMs: timeoutMs, nowMs: c.nowMs(), expected: producerID != noProducerID,
		producerID: producerID, epoch: epoch}
	rec, code := c.transition(ctx, id, true, false, req.decide)
	if code != errcode.None {
		return fail(code)
	}
	return rec.producerID, rec.epoch, errcode.None
}

// initRequest is one transactional InitProducerId.
type initRequest struct {
	timeoutMs  int32
	nowMs      int64
	expected   bool // the request names the producer id and epoch it last had (KIP-360)
	producerID int64
	epoch      int16
}

// validProducerID is Kafka's TransactionCoordinator.isValidProducerId: the
// expected producer id is acceptable when the stored epoch is unknown, when
// it is the current id, or when it is the previous id and the expected
// epoch is exhausted (a retry after a producer id rotation).
func (r initRequest) validProducerID(cur *record) bool {
	return cur.epoch == noEpoch || r.producerID == cur.producerID ||
		(r.producerID == cur.lastPID && epochExhausted(r.epoch))
}

func (r initRequest) decide(cur *record, pending State) decision {
	if cur == nil {
		// Unknown id: a new producer id, then the bump from "epoch -1"
		// gives epoch 0 (putTransactionStateIfNotExists + the Empty path).
		next := &record{state: Empty, epoch: 0, lastPID: noProducerID, lastEpoch: noEpoch,
			timeoutMs: r.timeoutMs, startMs: noTimestamp, updateMs: r.nowMs}
		return decision{next: next, pending: Empty, newPID: true}
	}
	switch {
	case pending != noState:
		return decision{code: errcode.ConcurrentTransactions}
	case r.expected && !r.validProducerID(cur):
		return decision{code: errcode.ProducerFenced}
	case cur.state.preparing():
		return decision{code: errcode.ConcurrentTransactions}
	case cur.state == Ongoing:
		// Fence and abort with the bumped epoch; the epoch is never
		// returned: the client's retry bumps once more (or rotates the
		// producer id if this fence exhausted the epoch).
		return decision{code: errcode.ConcurrentTransactions, next: fence(cur, r.nowMs), pending: PrepareEpochFence}
	}
	next := &record{state: Empty, producerID: cur.producerID, lastPID: cur.producerID,
		timeoutMs: r.timeoutMs, startMs: noTimestamp, updateMs: r.nowMs}
	if epochExhausted(cur.epoch) && (!r.expected || r.epoch == cur.epoch) {
		// prepareProducerIdRotation: a new producer id at epoch 0; the old
		// epoch is kept as lastEpoch only when the client named it, so
		// that its retry is recognised.
		next.lastPID, next.epoch, next.lastEpoch = cur.producerID, 0, noEpoch
		if r.expected {
			next.lastEpoch = cur.epoch
		}
		return decision{next: next, pending: Empty, newPID: true}
	}
	// prepareIncrementProducerEpoch.
	switch {
	case !r.expected:
		next.epoch, next.lastEpoch = cur.epoch+1, noEpoch
	case cur.epoch == noEpoch || r.epoch == cur.epoch:
		next.epoch, next.lastEpoch = cur.epoch+1, cur.epoch
	case r.epoch == cur.lastEpoch:
		// A retry of a bump whose response was lost: same epoch again.
		next.epoch, next.lastEpoch = cur.epoch, cur.lastEpoch
	default:
		return decision{code: errcode.ProducerFenced}
	}
	return decision{next: next, pending: Empty}
}

func (c *Coordinator) isClosed() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.closed
}
