package main

import (
	"context"
	"sync"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/metadata"
	"github.com/chronik-go/chronik/produce"
	"github.com/chronik-go/chronik/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// producerIDBlock is how many producer ids the broker reserves from the
// MetadataStore at a time, as a Kafka broker asks its controller for
// blocks of 1000 (AllocateProducerIds, KIP-730). Ids of a block not handed
// out before a restart are never used.
const producerIDBlock = 1000

// producerIDs hands out producer ids from blocks reserved in the store.
type producerIDs struct {
	meta metadata.Store
	mu   sync.Mutex // guards next and end
	next int64      // next id to hand out
	end  int64      // one past the current block
}

// allocate returns a producer id never handed out before, by this broker or
// any other sharing the store.
func (p *producerIDs) allocate(ctx context.Context) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.next >= p.end {
		first, err := p.meta.AllocateProducerIDs(ctx, producerIDBlock)
		if err != nil {
			return -1, err
		}
		p.next, p.end = first, first+producerIDBlock
	}
	id := p.next
	p.next++
	return id, nil
}

// initProducerID answers InitProducerId (key 22) v0-v4 for idempotent
// producers: as Kafka's TransactionCoordinator.handleInitProducerId does
// for a null transactional id, every request gets a fresh producer id with
// epoch 0, whatever id and epoch it carries (v3+). A transactional id needs
// a transaction coordinator, which this broker does not run (it offers no
// FindCoordinator): such requests get TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
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
	id, err := b.pids.allocate(ctx)
	if err != nil {
		b.logger.Error("allocate producer id", "err", err)
		resp.ErrorCode = int16(metadata.ErrorCode(err))
		return respond(hdr, resp), nil
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return respond(hdr, resp), nil
}
