package txn

import (
	"context"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/metadata"
)

// AddOffsets answers AddOffsetsToTxn (key 25) v0-v4: it adds consumer group
// groupID to the transaction through exactly the AddPartitions logic
// (kafka-semantics.md §4.4), where Kafka adds the group's
// __consumer_offsets partition. Offsets the group then commits with
// TxnOffsetCommit become visible when the transaction commits. PRODUCER_FENCED
// is sent as INVALID_PRODUCER_EPOCH below v2.
func (c *Coordinator) AddOffsets(ctx context.Context, version int16, txnID string, producerID int64, epoch int16, groupID string) errcode.Code {
	if version < 0 || version > MaxAddOffsetsVersion {
		return errcode.UnsupportedVersion
	}
	if txnID == "" || len(txnID) > metadata.MaxKeyLen {
		return errcode.InvalidRequest
	}
	if len(groupID) > maxStringLen {
		return errcode.InvalidGroupID
	}
	req := addRequest{producerID: producerID, epoch: epoch, nowMs: c.nowMs(),
		present: func(r *record) bool { return r.hasGroup(groupID) },
		extend:  func(next *record) { next.groups = next.withGroup(groupID) },
	}
	_, code := c.transition(ctx, txnID, false, false, req.decide)
	return fencedForVersion(code, version, 2)
}
