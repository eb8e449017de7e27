package main

import (
	"context"
	"slices"

	"github.com/chronik-go/chronik/produce"
	"github.com/chronik-go/chronik/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// addPartitionsToTxn answers AddPartitionsToTxn (key 24) v0-v3, the
// client form, through txn.Coordinator.AddPartitions: one code per
// partition, in the request's topic order. v4+ (the broker-to-broker
// verification form) is not served: the produce handler asks the
// coordinator in process (txn.Coordinator.Verify).
func (b *broker) addPartitionsToTxn(ctx context.Context, hdr wire.RequestHeader, body []byte) (produce.Reply, error) {
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	if err := decode(hdr, body, req); err != nil {
		return produce.Reply{}, err
	}
	parts := make(map[string][]int32, len(req.Topics))
	var topics []string // request order, once each
	for _, t := range req.Topics {
		if _, ok := parts[t.Topic]; !ok {
			topics = append(topics, t.Topic)
		}
		for _, p := range t.Partitions {
			if !slices.Contains(parts[t.Topic], p) {
				parts[t.Topic] = append(parts[t.Topic], p)
			}
		}
	}
	codes := b.txn.AddPartitions(ctx, hdr.APIVersion, req.TransactionalID, req.ProducerID, req.ProducerEpoch, parts)
	resp := kmsg.NewPtrAddPartitionsToTxnResponse()
	for _, t := range topics {
		rt := kmsg.NewAddPartitionsToTxnResponseTopic()
		rt.Topic = t
		for _, p := range parts[t] {
			rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p, int16(codes[t][p])
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return respond(hdr, resp), nil
}
