package txn

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/metadata"
)

// EndTxn answers EndTxn (key 26) v0-v4 (transaction protocol v1) and
// returns the code with the producer id and epoch to use next (those of
// the transaction; EndTxn v5 would carry them).
//
// Validation is Kafka's (kafka-semantics.md §4.5): INVALID_REQUEST for an
// empty id, INVALID_PRODUCER_ID_MAPPING for an unknown id or another
// producer id, PRODUCER_FENCED for another epoch (INVALID_PRODUCER_EPOCH
// below v2), CONCURRENT_TRANSACTIONS while a transition is in flight, then
// by state: Ongoing moves to PrepareCommit or PrepareAbort; a repeat of a
// completed commit or abort is NONE; anything else (an Empty transaction,
// or committing an aborted one) is INVALID_TXN_STATE.
//
// Unlike Kafka, which answers once the Prepare state is stored, EndTxn
// answers NONE only after every marker is durable and the Complete state is
// stored. If that takes longer than the request context or
// Options.CompletionWait allows, it answers CONCURRENT_TRANSACTIONS and the
// markers keep being written in the background: the code every client
// retries EndTxn on without looking for another coordinator, and the one
// Kafka itself gives the retry while markers are pending. The retry finds
// the Prepare state and waits again; once the Complete state is stored it
// gets NONE.
func (c *Coordinator) EndTxn(ctx context.Context, version int16, txnID string, producerID int64, epoch int16, commit bool) (errcode.Code, int64, int16) {
	fail := func(code errcode.Code) (errcode.Code, int64, int16) {
		return fencedForVersion(code, version, 2), noProducerID, noEpoch
	}
	if version < 0 || version > MaxEndTxnVersion {
		return fail(errcode.UnsupportedVersion)
	}
	if txnID == "" || len(txnID) > metadata.MaxKeyLen {
		return fail(errcode.InvalidRequest)
	}
	req := endRequest{producerID: producerID, epoch: epoch, commit: commit, nowMs: c.nowMs()}
	rec, code := c.transition(ctx, txnID, false, false, req.decide)
	switch {
	case code == errcode.None && rec != nil && rec.state.preparing(),
		code == errcode.ConcurrentTransactions && req.join:
		code = c.await(ctx, txnID, producerID, epoch, commit)
	}
	if code != errcode.None {
		return fail(code)
	}
	return errcode.None, producerID, epoch
}

// endRequest is one EndTxn.
type endRequest struct {
	producerID int64
	epoch      int16
	commit     bool
	nowMs      int64
	join       bool // set by decide: the same end is already in progress; wait for it
}

// decide follows TransactionCoordinator.endTransaction for protocol v1.
func (r *endRequest) decide(cur *record, pending State) decision {
	switch {
	case cur == nil || cur.producerID != r.producerID:
		return decision{code: errcode.InvalidProducerIDMapping}
	case r.epoch != effectiveEpoch(cur, pending):
		return decision{code: errcode.ProducerFenced}
	case pending != noState:
		return decision{code: errcode.ConcurrentTransactions}
	}
	prepare, complete := PrepareAbort, CompleteAbort
	if r.commit {
		prepare, complete = PrepareCommit, CompleteCommit
	}
	switch cur.state {
	case Ongoing:
		next := cur.clone()
		next.state = prepare
		next.lastPID = cur.producerID
		next.updateMs = r.nowMs
		return decision{next: next, pending: prepare}
	case complete:
		return decision{code: errcode.None}
	case prepare:
		r.join = true
		return decision{code: errcode.ConcurrentTransactions}
	}
	return decision{code: errcode.InvalidTxnState}
}

// await waits, within ctx and Options.CompletionWait, for the completion
// of txnID's transaction at producerID/epoch in the Prepare state of
// commit (it may have finished already). It answers NONE once the Complete state is stored,
// CONCURRENT_TRANSACTIONS when time runs out, and NOT_COORDINATOR when the
// completion stopped (fenced by a newer coordinator, or Close).
func (c *Coordinator) await(ctx context.Context, txnID string, producerID int64, epoch int16, commit bool) errcode.Code {
	prepare, complete := PrepareAbort, CompleteAbort
	if commit {
		prepare, complete = PrepareCommit, CompleteCommit
	}
	c.mu.RLock()
	var comp *completion
	var rec *record
	if e := c.txns[txnID]; e != nil {
		rec, comp = e.rec, e.comp
	}
	c.mu.RUnlock()
	switch {
	case rec == nil || rec.producerID != producerID || rec.epoch != epoch:
		return errcode.ConcurrentTransactions
	case rec.state == complete:
		return errcode.None
	case comp == nil || comp.rec.state != prepare || comp.rec.producerID != producerID || comp.rec.epoch != epoch:
		return errcode.ConcurrentTransactions
	}
	timer := time.NewTimer(c.opts.CompletionWait)
	defer timer.Stop()
	select {
	case <-comp.done:
		return comp.code
	case <-ctx.Done():
	case <-timer.C:
	}
	return errcode.ConcurrentTransactions
}

// startCompletion starts writing the markers of e's Prepare record unless
// a completion is already running or Close has begun. c.mu must be held.
func (c *Coordinator) startCompletion(id string, e *entry) {
	if c.closed || (e.comp != nil && !e.comp.finished) {
		return
	}
	comp := &completion{rec: e.rec, done: make(chan struct{})}
	e.comp = comp
	c.wg.Add(1)
	go c.complete(id, e, comp)
}

// complete is the goroutine that finishes rec, a Prepare record of id:
// every marker durable, the offsets of its groups applied or discarded,
// then the Complete state stored (Kafka's
// TransactionMarkerChannelManager and completeTransaction). It retries
// failures until it succeeds, a marker says this coordinator is fenced, or
// Close.
func (c *Coordinator) complete(id string, e *entry, comp *completion) {
	defer c.wg.Done()
	rec := comp.rec
	code := c.writeMarkers(id, rec)
	if code == errcode.None {
		code = c.finishGroups(id, rec)
	}
	if code == errcode.None {
		code = c.storeComplete(id, rec)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	comp.code, comp.finished = code, true
	close(comp.done)
	switch {
	case code == errcode.NotCoordinator && !c.closed:
		// Fenced: forget what we knew; the next request reloads the record.
		e.stale = true
	case c.txns[id] == e && e.rec != nil && e.rec.state.preparing() && !equalIdentity(e.rec, rec):
		// Another coordinator moved the id to a new Prepare state meanwhile.
		c.startCompletion(id, e)
	}
}

// completeState is the Complete state that follows rec's Prepare state.
func completeState(rec *record) State {
	if rec.state == PrepareCommit {
		return CompleteCommit
	}
	return CompleteAbort
}

// completed returns the Complete record that follows rec, a Prepare record.
func completed(rec *record, nowMs int64) *record {
	next := rec.clone()
	next.state = completeState(rec)
	next.partitions, next.groups = nil, nil
	next.lastPID = rec.producerID
	next.updateMs = nowMs
	return next
}

// storeComplete stores the Complete state after rec, retrying store
// failures with backoff until Close.
func (c *Coordinator) storeComplete(id string, rec *record) errcode.Code {
	b := c.newBackoff()
	for {
		_, code := c.transition(c.ctx, id, false, true, func(cur *record, _ State) decision {
			switch {
			case equalIdentity(cur, rec):
				return decision{next: completed(rec, c.nowMs()), pending: completeState(rec)}
			case cur != nil && cur.producerID == rec.producerID && cur.epoch == rec.epoch &&
				cur.state == completeState(rec):
				return decision{code: errcode.None} // another coordinator completed it
			}
			return decision{code: errcode.NotCoordinator} // replaced by something else meanwhile
		})
		switch code {
		case errcode.None, errcode.NotCoordinator:
			return code
		}
		c.opts.Logger.Warn("txn: storing the end of a transaction", "transactional_id", id, "code", code)
		if !b.wait(c.ctx) {
			return errcode.NotCoordinator
		}
	}
}

// errFenced reports a marker refused because a newer producer epoch or
// coordinator epoch reached the partition.
var errFenced = errors.New("txn: fenced by a newer producer or coordinator epoch")

type markerTarget struct {
	topic     string
	partition int32
}

// writeMarkers makes rec's marker durable on every partition of the
// transaction, at most Options.MarkerConcurrency calls at a time across
// the coordinator. It returns NONE, or NOT_COORDINATOR when fenced or
// closed.
func (c *Coordinator) writeMarkers(id string, rec *record) errcode.Code {
	var targets []markerTarget
	for _, t := range sortedKeys(rec.partitions) {
		for _, p := range rec.partitions[t] {
			targets = append(targets, markerTarget{t, p})
		}
	}
	if len(targets) == 0 {
		return errcode.None
	}
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	var next atomic.Int64
	var fenced atomic.Bool
	var wg sync.WaitGroup
	for range min(len(targets), c.opts.MarkerConcurrency) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(len(targets)) {
					return
				}
				err := c.writeMarker(ctx, id, rec, targets[i])
				if errors.Is(err, errFenced) {
					fenced.Store(true)
					cancel()
				}
				if err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	if fenced.Load() || c.ctx.Err() != nil {
		return errcode.NotCoordinator
	}
	return errcode.None
}

// writeMarker writes one marker, retrying with backoff. It returns nil once
// the marker is durable or the partition is skipped, errFenced, or
// errClosed when ctx ends.
func (c *Coordinator) writeMarker(ctx context.Context, id string, rec *record, t markerTarget) error {
	commit := rec.state == PrepareCommit
	b := c.newBackoff()
	for attempt := 1; ; attempt++ {
		if !c.opts.PartitionExists(t.topic, t.partition) {
			// Kafka skips partitions without a leader: most likely deleted.
			c.opts.Logger.Info("txn: skipping the marker of a partition that no longer exists",
				"transactional_id", id, "topic", t.topic, "partition", t.partition)
			return nil
		}
		select {
		case c.markerSlots <- struct{}{}:
		case <-ctx.Done():
			return errClosed
		}
		err := c.markers.WriteMarker(ctx, t.topic, t.partition, rec.producerID, rec.epoch, c.coordinatorEpoch, commit)
		<-c.markerSlots
		if err == nil {
			return nil
		}
		var ke *errcode.Error
		if errors.As(err, &ke) {
			switch ke.Code {
			case errcode.InvalidProducerEpoch, errcode.TransactionCoordinatorFenced:
				c.opts.Logger.Error("txn: marker refused, this coordinator is fenced",
					"transactional_id", id, "topic", t.topic, "partition", t.partition, "err", err)
				return errFenced
			case errcode.UnsupportedForMessageFormat, errcode.UnsupportedVersion:
				c.opts.Logger.Warn("txn: partition cannot take markers, dropped from the transaction",
					"transactional_id", id, "topic", t.topic, "partition", t.partition, "err", err)
				return nil
			}
		}
		if ctx.Err() != nil {
			return errClosed
		}
		level := c.opts.Logger.Debug
		if attempt == 1 {
			level = c.opts.Logger.Warn
		}
		level("txn: marker write failed, retrying", "transactional_id", id, "topic", t.topic,
			"partition", t.partition, "attempt", attempt, "err", err)
		if !b.wait(ctx) {
			return errClosed
		}
	}
}

// backoff is an exponential delay between retries, bounded by
// Options.MarkerRetryBackoff and MarkerRetryBackoffMax.
type backoff struct {
	next, max time.Duration
}

func (c *Coordinator) newBackoff() *backoff {
	return &backoff{next: c.opts.MarkerRetryBackoff, max: c.opts.MarkerRetryBackoffMax}
}

// wait sleeps for the next delay and reports false if ctx ended first.
func (b *backoff) wait(ctx context.Context) bool {
	t := time.NewTimer(b.next)
	defer t.Stop()
	b.next = min(2*b.next, b.max)
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
