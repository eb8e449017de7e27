package main

import (
	"context"

	"github.com/chronik-go/chronik/produce"
	"github.com/chronik-go/chronik/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// addOffsetsToTxn answers AddOffsetsToTxn (key 25) v0-v4 through
// txn.Coordinator.AddOffsets: the consumer group joins the transaction, so
// that its TxnOffsetCommit offsets become visible when it commits.
func (b *broker) addOffsetsToTxn(ctx context.Context, hdr wire.RequestHeader, body []byte) (produce.Reply, error) {
	req := kmsg.NewPtrAddOffsetsToTxnRequest()
	if err := decode(hdr, body, req); err != nil {
		return produce.Reply{}, err
	}
	resp := kmsg.NewPtrAddOffsetsToTxnResponse()
	resp.ErrorCode = int16(b.txn.AddOffsets(ctx, hdr.APIVersion, req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group))
	return respond(hdr, resp), nil
}
