package main

import (
	"context"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/produce"
	"github.com/chronik-go/chronik/txn"
	"github.com/chronik-go/chronik/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// txnOffsetCommit answers TxnOffsetCommit (key 28) v0-v4 in Kafka's order
// (KafkaApis.handleTxnOffsetCommitRequest,
// GroupCoordinator.handleTxnCommitOffsets): partitions that do not exist
// get UNKNOWN_TOPIC_OR_PARTITION; from v3 the group coordinator checks the
// member id and generation of the rest, as for OffsetCommit (older
// versions carry neither, and a group it does not know is created);
// then txn.Coordinator.TxnOffsetCommit stores them as offsets pending in
// the producer's transaction, visible once it commits.
func (b *broker) txnOffsetCommit(ctx context.Context, hdr wire.RequestHeader, body []byte) (produce.Reply, error) {
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	if err := decode(hdr, body, req); err != nil {
		return produce.Reply{}, err
	}
	valid := make(map[string]map[int32]txn.OffsetAndMetadata)
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			if b.partitionExists(t.Topic, p.Partition) {
				addOffset(valid, t.Topic, p.Partition, p.Offset, p.LeaderEpoch, p.Metadata)
			}
		}
	}
	group := errcode.None
	var stored map[string]map[int32]errcode.Code
	if len(valid) > 0 {
		if req.Group != "" { // the empty group id is the coordinator's INVALID_GROUP_ID
			group = b.groups.validateCommit(req.Group, req.MemberID, req.Generation, true)
		}
		if group == errcode.None {
			stored = b.txn.TxnOffsetCommit(ctx, hdr.APIVersion, req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group, valid)
		}
	}
	resp := kmsg.NewPtrTxnOffsetCommitResponse()
	for _, t := range req.Topics {
		rt := kmsg.NewTxnOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			rp.Partition = p.Partition
			rp.ErrorCode = int16(commitCode(valid, stored, group, t.Topic, p.Partition))
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return respond(hdr, resp), nil
}
