package main

import (
	"context"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/produce"
	"github.com/chronik-go/chronik/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// initProducerID answers InitProducerId (key 22) v0-v5 through the
// transaction coordinator (txn.Coordinator.InitProducerID, Kafka's
// TransactionCoordinator.handleInitProducerId): an idempotent producer (no
// transactional id) gets a fresh producer id with epoch 0, whatever id and
// epoch it carries (v3+); a transactional producer gets its id's producer
// id with the next epoch, fencing any older producer of the same id and
// aborting its open transaction. Producer ids come from blocks of 1000
// reserved in the MetadataStore (idempotence.IDAllocator), so they are
// never reused, across restarts included.
//
// With transactions disabled a transactional id gets
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED, the answer of a broker that lets
// no one use transactional ids, which clients report instead of retrying.
func (b *broker) initProducerID(ctx context.Context, hdr wire.RequestHeader, body []byte) (produce.Reply, error) {
	req := kmsg.NewPtrInitProducerIDRequest()
	if err := decode(hdr, body, req); err != nil {
		return produce.Reply{}, err
	}
	resp := kmsg.NewPtrInitProducerIDResponse()
	if req.TransactionalID != nil && !b.cfg.Handler.EnableTransactions {
		resp.ErrorCode, resp.ProducerID, resp.ProducerEpoch = int16(errcode.TransactionalIDAuthorizationFailed), -1, -1
		return respond(hdr, resp), nil
	}
	pid, epoch, code := b.txn.InitProducerID(ctx, hdr.APIVersion, req.TransactionalID, req.TransactionTimeoutMillis, req.ProducerID, req.ProducerEpoch)
	if code != errcode.None {
		b.logger.Debug("init producer id refused", "transactional_id", strPtrOr(req.TransactionalID, ""), "code", code)
	}
	resp.ErrorCode, resp.ProducerID, resp.ProducerEpoch = int16(code), pid, epoch
	return respond(hdr, resp), nil
}

// strPtrOr returns *s, or def when s is nil.
func strPtrOr(s *string, def string) string {
	if s == nil {
		return def
	}
	return *s
}
