package main

import (
	"context"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/produce"
	"github.com/chronik-go/chronik/txn"
	"github.com/chronik-go/chronik/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// offsetCommit answers OffsetCommit (key 8) v0-v8 in Kafka's order
// (KafkaApis.handleOffsetCommitRequest, GroupCoordinator.handleCommitOffsets):
// partitions that do not exist get UNKNOWN_TOPIC_OR_PARTITION; the group
// coordinator checks the member and generation of the rest
// (groupCoordinator.validateCommit: generation -1 with no member id is a
// commit from outside group management); then the transaction coordinator,
// which keeps every group's committed offsets in the metadata store,
// stores them (OFFSET_METADATA_TOO_LARGE per partition, or the store's
// failure). v1's commit timestamp and v2-v4's retention time are accepted
// and ignored: committed offsets do not expire on this broker.
func (b *broker) offsetCommit(ctx context.Context, hdr wire.RequestHeader, body []byte) (produce.Reply, error) {
	req := kmsg.NewPtrOffsetCommitRequest()
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
		if group = b.groups.validateCommit(req.Group, req.MemberID, req.Generation, false); group == errcode.None {
			stored = b.txn.CommitOffsets(ctx, req.Group, valid)
		}
	}
	resp := kmsg.NewPtrOffsetCommitResponse()
	for _, t := range req.Topics {
		rt := kmsg.NewOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetCommitResponseTopicPartition()
			rp.Partition = p.Partition
			rp.ErrorCode = int16(commitCode(valid, stored, group, t.Topic, p.Partition))
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return respond(hdr, resp), nil
}

// addOffset adds one partition's offset to an offsets map; a null metadata
// string is stored empty, as Kafka stores OffsetAndMetadata.NoMetadata.
func addOffset(m map[string]map[int32]txn.OffsetAndMetadata, topic string, partition int32, offset int64, leaderEpoch int32, metadata *string) {
	if m[topic] == nil {
		m[topic] = make(map[int32]txn.OffsetAndMetadata)
	}
	m[topic][partition] = txn.OffsetAndMetadata{Offset: offset, LeaderEpoch: leaderEpoch, Metadata: strPtrOr(metadata, "")}
}

// commitCode is one partition's answer to an offset commit: unknown
// partitions are UNKNOWN_TOPIC_OR_PARTITION, a membership error applies to
// every other partition, else the store's code.
func commitCode(valid map[string]map[int32]txn.OffsetAndMetadata, stored map[string]map[int32]errcode.Code, group errcode.Code, topic string, partition int32) errcode.Code {
	if _, ok := valid[topic][partition]; !ok {
		return errcode.UnknownTopicOrPartition
	}
	if group != errcode.None {
		return group
	}
	return stored[topic][partition]
}
