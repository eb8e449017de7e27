package main

import (
	"context"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/produce"
	"github.com/chronik-go/chronik/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// endTxn answers EndTxn (key 26) v0-v4 through txn.Coordinator.EndTxn,
// which answers NONE only once every COMMIT or ABORT marker is durable
// (waiting up to its completion wait, else CONCURRENT_TRANSACTIONS, which
// clients retry). The wait happens in the dispatcher, so the connection
// reads its next request only after the answer, as Kafka processes one
// request of a connection at a time.
func (b *broker) endTxn(ctx context.Context, hdr wire.RequestHeader, body []byte) (produce.Reply, error) {
	req := kmsg.NewPtrEndTxnRequest()
	if err := decode(hdr, body, req); err != nil {
		return produce.Reply{}, err
	}
	code, _, _ := b.txn.EndTxn(ctx, hdr.APIVersion, req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit)
	if code != errcode.None {
		b.logger.Debug("end txn", "transactional_id", req.TransactionalID, "commit", req.Commit, "code", code)
	}
	resp := kmsg.NewPtrEndTxnResponse()
	resp.ErrorCode = int16(code)
	return respond(hdr, resp), nil
}
