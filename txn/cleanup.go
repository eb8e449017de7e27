package txn

import (
	"time"

	"github.com/chronik-go/chronik/errcode"
)

// run is the cleanup goroutine, owned by the Coordinator and stopped by
// Close: every AbortTimedOutInterval it aborts the transactions past their
// timeout, every ExpirationCheckInterval it removes expired transactional
// ids.
func (c *Coordinator) run() {
	defer c.wg.Done()
	abort := time.NewTicker(c.opts.AbortTimedOutInterval)
	defer abort.Stop()
	expire := time.NewTicker(c.opts.ExpirationCheckInterval)
	defer expire.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-abort.C:
			c.abortTimedOut()
		case <-expire.C:
			c.expireIDs()
		}
	}
}

// candidates returns the ids whose record satisfies ok and that have no
// transition in flight. A stale record is a candidate too: the transition
// reloads it and checks again.
func (c *Coordinator) candidates(ok func(*record) bool) []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var ids []string
	for id, e := range c.txns {
		if e.rec != nil && e.pending == noState && ok(e.rec) {
			ids = append(ids, id)
		}
	}
	return ids
}

// abortTimedOut fences and aborts every Ongoing transaction whose start
// plus timeout is in the past, as Kafka's
// TransactionCoordinator.abortTimedOutTransactions: epoch+1 and
// PrepareAbort stored, then the ABORT markers with the new epoch, so the
// open transaction no longer holds back the last stable offset and the old
// producer's next request is fenced. Ids with a transition in flight are
// left for the next round.
func (c *Coordinator) abortTimedOut() {
	now := c.nowMs()
	timedOut := func(r *record) bool {
		return r.state == Ongoing && r.startMs+int64(r.timeoutMs) < now
	}
	for _, id := range c.candidates(timedOut) {
		var was *record
		rec, code := c.transition(c.ctx, id, false, false, func(cur *record, pending State) decision {
			if cur == nil || pending != noState || !timedOut(cur) {
				return decision{code: errcode.None}
			}
			was = cur
			return decision{next: fence(cur, now), pending: PrepareEpochFence}
		})
		switch {
		case code != errcode.None:
			c.opts.Logger.Warn("txn: aborting a timed-out transaction", "transactional_id", id, "code", code)
		case was != nil && rec != nil && rec.state == PrepareAbort:
			c.opts.Logger.Info("txn: aborting a timed-out transaction", "transactional_id", id,
				"producer_id", rec.producerID, "fenced_epoch", was.epoch, "epoch", rec.epoch,
				"timeout_ms", rec.timeoutMs)
		}
	}
}

// expireIDs removes the transactional ids with no transaction in progress
// whose last transition is older than TransactionalIDExpiration (Kafka's
// removeExpiredTransactionalIds: pending state Dead, tombstone, removal).
// A later InitProducerId of the id starts afresh with a new producer id.
func (c *Coordinator) expireIDs() {
	limit := c.nowMs() - c.opts.TransactionalIDExpiration.Milliseconds()
	expired := func(r *record) bool { return r.state.completed() && r.updateMs <= limit }
	for _, id := range c.candidates(expired) {
		removed := false
		_, code := c.transition(c.ctx, id, false, false, func(cur *record, pending State) decision {
			if cur == nil || pending != noState || !expired(cur) {
				return decision{code: errcode.None}
			}
			removed = true
			return decision{remove: true, pending: Dead}
		})
		switch {
		case code != errcode.None:
			c.opts.Logger.Warn("txn: expiring a transactional id", "transactional_id", id, "code", code)
		case removed:
			c.opts.Logger.Info("txn: transactional id expired", "transactional_id", id)
		}
	}
}
