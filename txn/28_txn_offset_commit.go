package txn

import (
	"context"

	"github.com/chronik-go/chronik/errcode"
)

// TxnOffsetCommit answers TxnOffsetCommit (key 28) v0-v4: it stores offsets
// for group as pending offsets of the transaction of txnID, invisible to
// FetchOffsets until the transaction commits (then they become the group's
// committed offsets) and dropped if it aborts (kafka-semantics.md §4.4).
// One code per partition:
//   - INVALID_GROUP_ID for the empty group id, on every partition;
//   - UNKNOWN_TOPIC_OR_PARTITION, OFFSET_METADATA_TOO_LARGE per partition;
//   - for the rest, the transaction check Kafka applies to the offsets
//     write (the produce-side verification, §4.8, mapped as the group
//     coordinator maps it): INVALID_PRODUCER_ID_MAPPING for an unknown id
//     or another producer id, INVALID_PRODUCER_EPOCH for another epoch,
//     COORDINATOR_NOT_AVAILABLE (retriable) while the transaction is being
//     ended, INVALID_TXN_STATE (TRANSACTION_ABORTABLE from v4) when the
//     transaction is not Ongoing or the group was not added with
//     AddOffsets; else NONE once stored.
//
// Generation and member id are not checked here: chronik keeps no group
// membership; a host running a group coordinator checks them first.
func (c *Coordinator) TxnOffsetCommit(ctx context.Context, version int16, txnID string, producerID int64, epoch int16, group string, offsets map[string]map[int32]OffsetAndMetadata) map[string]map[int32]errcode.Code {
	if version < 0 || version > MaxTxnOffsetCommitVersion || group == "" {
		code := errcode.UnsupportedVersion
		if group == "" && version >= 0 && version <= MaxTxnOffsetCommitVersion {
			// GroupCoordinator.isValidGroupId: only OffsetCommit and
			// OffsetFetch accept the empty group id.
			code = errcode.InvalidGroupID
		}
		out := make(map[string]map[int32]errcode.Code, len(offsets))
		for t, ps := range offsets {
			out[t] = make(map[int32]errcode.Code, len(ps))
			for p := range ps {
				out[t][p] = code
			}
		}
		return out
	}
	out, valid := c.checkOffsets(offsets)
	if len(valid) == 0 {
		return out
	}
	notInTxn := errcode.InvalidTxnState
	if version >= 4 {
		notInTxn = errcode.TransactionAbortable
	}
	_, code := c.transition(ctx, txnID, false, false, func(cur *record, pending State) decision {
		switch {
		case cur == nil || cur.producerID != producerID:
			return decision{code: errcode.InvalidProducerIDMapping}
		case epoch != effectiveEpoch(cur, pending):
			return decision{code: errcode.InvalidProducerEpoch}
		case pending != noState, cur.state.preparing():
			return decision{code: errcode.CoordinatorNotAvailable}
		case cur.state != Ongoing || !cur.hasGroup(group):
			return decision{code: notInTxn}
		}
		// Hold the id while writing, so the transaction cannot end between
		// this check and the write (Kafka's verification guard).
		return decision{pending: Ongoing, action: func(ctx context.Context) errcode.Code {
			err := c.updateGroup(ctx, group, func(g *groupRecord) bool {
				g.seq++
				if g.pending == nil {
					g.pending = make(map[int64]offsetMap)
				}
				m := g.pending[producerID]
				mergeOffsets(&m, valid, g.seq)
				g.pending[producerID] = m
				return true
			})
			if err != nil {
				c.logGroupError(group, err)
			}
			return offsetStoreCode(err)
		}}
	})
	return setCodes(out, valid, code)
}
