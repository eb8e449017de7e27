package txn

import (
	"context"
	"slices"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/metadata"
)

// AddPartitions answers AddPartitionsToTxn (key 24) v0-v3, the client form,
// as Kafka does (kafka-semantics.md §4.3), with one code per requested
// partition:
//   - partitions that do not exist (Options.PartitionExists) get
//     UNKNOWN_TOPIC_OR_PARTITION and all others OPERATION_NOT_ATTEMPTED,
//     and nothing is added;
//   - otherwise one code for all: INVALID_REQUEST for an empty id,
//     INVALID_PRODUCER_ID_MAPPING for an unknown id or another producer id,
//     PRODUCER_FENCED for another epoch (INVALID_PRODUCER_EPOCH below v2),
//     CONCURRENT_TRANSACTIONS while the transaction is being ended or a
//     transition is in flight, else NONE once the transaction is Ongoing
//     with the partitions added and stored.
func (c *Coordinator) AddPartitions(ctx context.Context, version int16, txnID string, producerID int64, epoch int16, partitions map[string][]int32) map[string]map[int32]errcode.Code {
	out := make(map[string]map[int32]errcode.Code, len(partitions))
	all := func(code errcode.Code) map[string]map[int32]errcode.Code {
		for t, ps := range partitions {
			m := make(map[int32]errcode.Code, len(ps))
			for _, p := range ps {
				m[p] = code
			}
			out[t] = m
		}
		return out
	}
	if version < 0 || version > MaxAddPartitionsVersion {
		return all(errcode.UnsupportedVersion)
	}
	missing := false
	for t, ps := range partitions {
		for _, p := range ps {
			if !c.opts.PartitionExists(t, p) {
				missing = true
			}
		}
	}
	if missing {
		all(errcode.OperationNotAttempted)
		for t, ps := range partitions {
			for _, p := range ps {
				if !c.opts.PartitionExists(t, p) {
					out[t][p] = errcode.UnknownTopicOrPartition
				}
			}
		}
		return out
	}
	if txnID == "" || len(txnID) > metadata.MaxKeyLen {
		return all(errcode.InvalidRequest)
	}
	add := make(map[string][]int32, len(partitions))
	for t, ps := range partitions {
		if len(ps) > 0 {
			s := slices.Clone(ps)
			slices.Sort(s)
			add[t] = slices.Compact(s)
		}
	}
	if len(add) == 0 {
		return out
	}
	req := addRequest{producerID: producerID, epoch: epoch, nowMs: c.nowMs(),
		present: func(r *record) bool { return r.containsAll(add) },
		extend:  func(next *record) { next.partitions = next.withPartitions(add) },
	}
	_, code := c.transition(ctx, txnID, false, false, req.decide)
	return all(fencedForVersion(code, version, 2))
}

// addRequest is one AddPartitionsToTxn or AddOffsetsToTxn.
type addRequest struct {
	producerID int64
	epoch      int16
	nowMs      int64
	present    func(*record) bool // whether everything requested is already in the transaction
	extend     func(next *record) // adds what was requested to next
}

// decide follows TransactionCoordinator.handleAddPartitionsToTransaction.
func (r addRequest) decide(cur *record, pending State) decision {
	switch {
	case cur == nil || cur.producerID != r.producerID:
		return decision{code: errcode.InvalidProducerIDMapping}
	case r.epoch != effectiveEpoch(cur, pending):
		return decision{code: errcode.ProducerFenced}
	case pending != noState, cur.state.preparing():
		return decision{code: errcode.ConcurrentTransactions}
	case cur.state == Ongoing && r.present(cur):
		return decision{code: errcode.None}
	}
	// prepareAddPartitions: the transaction starts now unless it is
	// already Ongoing.
	next := cur.clone()
	if cur.state != Ongoing {
		next.startMs = r.nowMs
		next.partitions, next.groups = nil, nil
	}
	r.extend(next)
	next.state = Ongoing
	next.lastPID = cur.producerID
	next.updateMs = r.nowMs
	return decision{next: next, pending: Ongoing}
}

// Verify reports whether topic/partition is part of the ongoing transaction
// of txnID at producerID and epoch: the check a partition leader makes
// before the first transactional batch of a producer on a partition
// (KIP-890 part 1, kafka-semantics.md §4.8), answered from memory without
// I/O. The code is already mapped for the producer as Kafka's
// AddPartitionsToTxnManager maps it:
//   - NONE: the partition is in the Ongoing transaction;
//   - INVALID_PRODUCER_ID_MAPPING: no such transactional id, or another
//     producer id;
//   - INVALID_PRODUCER_EPOCH: another epoch (PRODUCER_FENCED, mapped);
//   - NOT_ENOUGH_REPLICAS (retriable): the transaction is being ended, or
//     the coordinator is closed (CONCURRENT_TRANSACTIONS and
//     COORDINATOR_NOT_AVAILABLE, mapped);
//   - INVALID_TXN_STATE: the partition is not in the transaction, the
//     answer for produce v10 and older; produce v11+ answers
//     TRANSACTION_ABORTABLE instead.
//
// Markers are written only after the end of the transaction is stored and
// visible here, so a caller that runs Verify and its append under the
// partition's append serialisation (which markers also go through) never
// appends a batch of a transaction after that transaction's marker.
func (c *Coordinator) Verify(txnID string, producerID int64, epoch int16, topic string, partition int32) errcode.Code {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return errcode.NotEnoughReplicas
	}
	e := c.txns[txnID]
	if e == nil || e.rec == nil || e.rec.producerID != producerID {
		return errcode.InvalidProducerIDMapping
	}
	rec := e.rec
	switch {
	case epoch != effectiveEpoch(rec, e.pending):
		return errcode.InvalidProducerEpoch
	case rec.state.preparing(), e.pending != noState && e.pending != Ongoing:
		return errcode.NotEnoughReplicas
	case rec.state == Ongoing && rec.hasPartition(topic, partition):
		return errcode.None
	}
	return errcode.InvalidTxnState
}
