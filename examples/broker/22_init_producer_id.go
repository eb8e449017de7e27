package main

import (
	"context"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/produce"
	"github.com/chronik-go/chronik/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// initProducerID answers InitProducerId (key 22) v0-v4 for idempotent
// producers: as Kafka's TransactionCoordinator.handleInitProducerId does
// for a null transactional id, every request gets a fresh producer id with
// epoch 0, whatever id and epoch it carries (v3+). Ids come from blocks of
// 1000 reserved in the MetadataStore (idempotence.IDAllocator), so they are
// never reused, across restarts included. A transactional id needs a
// transaction coordinator, which this broker does not run (FindCoordinator
// says so): such requests get TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
// the answer of a broker that lets no one use transactional ids, which
// clients report instead of retrying.
func (b *broker) initProducerID(ctx context.Context, hdr wire.RequestHeader, body []byte) (produce.Reply, error) {
	req := kmsg.NewPtrInitProducerIDRequest()
	if err := decode(hdr, body, req); err != nil {
		return produce.Reply{}, err
	}
	resp := kmsg.NewPtrInitProducerIDResponse()
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil {
		resp.ErrorCode = int16(errcode.TransactionalIDAuthorizationFailed)
		return respond(hdr, resp), nil
	}
	id, err := b.pids.Next(ctx)
	if err != nil {
		// Kafka answers COORDINATOR_LOAD_IN_PROGRESS (retriable) while it
		// cannot get a block of ids from its controller.
		b.logger.Error("allocate producer id", "err", err)
		resp.ErrorCode = int16(errcode.CoordinatorLoadInProgress)
		return respond(hdr, resp), nil
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return respond(hdr, resp), nil
}
