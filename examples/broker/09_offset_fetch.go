package main

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/produce"
	"github.com/chronik-go/chronik/txn"
	"github.com/chronik-go/chronik/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// offsetFetch answers OffsetFetch (key 9) v0-v8 from the transaction
// coordinator's offsets store (txn.Coordinator.FetchOffsets): the committed
// offset of each requested partition (-1 and empty metadata when none);
// with require_stable (v7+) a partition whose offsets are pending in an
// open transaction gets UNSTABLE_OFFSET_COMMIT, which clients retry
// (KIP-447). A null topic list (v2+) asks for every committed partition.
// v8 batches groups, each with its own error. A group-level error is a
// top-level code from v2 and, before, the code of every requested
// partition (OffsetFetchRequest.getErrorResponse).
func (b *broker) offsetFetch(ctx context.Context, hdr wire.RequestHeader, body []byte) (produce.Reply, error) {
	req := kmsg.NewPtrOffsetFetchRequest()
	if err := decode(hdr, body, req); err != nil {
		return produce.Reply{}, err
	}
	resp := kmsg.NewPtrOffsetFetchResponse()
	if hdr.APIVersion >= 8 {
		for _, g := range req.Groups {
			var asked []askedTopic
			if g.Topics != nil {
				asked = make([]askedTopic, 0, len(g.Topics))
				for _, t := range g.Topics {
					asked = append(asked, askedTopic{t.Topic, t.Partitions})
				}
			}
			got, code := b.groupOffsets(ctx, g.Group, asked, g.Topics == nil, req.RequireStable)
			rg := kmsg.NewOffsetFetchResponseGroup()
			rg.Group, rg.ErrorCode = g.Group, int16(code)
			for _, t := range got {
				rt := kmsg.NewOffsetFetchResponseGroupTopic()
				rt.Topic = t.topic
				for _, p := range t.partitions {
					rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					rp.Partition, rp.Offset, rp.LeaderEpoch = p.partition, p.Offset, p.LeaderEpoch
					rp.Metadata, rp.ErrorCode = kmsg.StringPtr(p.Metadata), int16(p.Code)
					rt.Partitions = append(rt.Partitions, rp)
				}
				rg.Topics = append(rg.Topics, rt)
			}
			resp.Groups = append(resp.Groups, rg)
		}
		return respond(hdr, resp), nil
	}
	asked := make([]askedTopic, 0, len(req.Topics))
	for _, t := range req.Topics {
		asked = append(asked, askedTopic{t.Topic, t.Partitions})
	}
	all := req.Topics == nil && hdr.APIVersion >= 2
	got, code := b.groupOffsets(ctx, req.Group, asked, all, req.RequireStable)
	if code != errcode.None {
		if hdr.APIVersion >= 2 {
			resp.ErrorCode = int16(code)
			return respond(hdr, resp), nil
		}
		got = got[:0]
		for _, t := range asked {
			ft := fetchedTopic{topic: t.topic}
			for _, p := range t.partitions {
				ft.partitions = append(ft.partitions, fetchedOffset{partition: p, PartitionOffset: txn.PartitionOffset{
					OffsetAndMetadata: txn.OffsetAndMetadata{Offset: -1, LeaderEpoch: -1}, Code: code}})
			}
			got = append(got, ft)
		}
	}
	for _, t := range got {
		rt := kmsg.NewOffsetFetchResponseTopic()
		rt.Topic = t.topic
		for _, p := range t.partitions {
			rp := kmsg.NewOffsetFetchResponseTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch = p.partition, p.Offset, p.LeaderEpoch
			rp.Metadata, rp.ErrorCode = kmsg.StringPtr(p.Metadata), int16(p.Code)
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return respond(hdr, resp), nil
}

// askedTopic is one topic of an OffsetFetch request.
type askedTopic struct {
	topic      string
	partitions []int32
}

// fetchedTopic is one topic of an OffsetFetch answer, partitions in
// request order (or ascending for "every partition").
type fetchedTopic struct {
	topic      string
	partitions []fetchedOffset
}

// fetchedOffset is one partition of an OffsetFetch answer.
type fetchedOffset struct {
	partition int32
	txn.PartitionOffset
}

// groupOffsets reads a group's offsets for the asked partitions, in
// request order, or with all every committed partition, sorted.
func (b *broker) groupOffsets(ctx context.Context, group string, asked []askedTopic, all, requireStable bool) ([]fetchedTopic, errcode.Code) {
	var topics map[string][]int32
	if !all {
		topics = make(map[string][]int32, len(asked))
		for _, t := range asked {
			topics[t.topic] = append(topics[t.topic], t.partitions...)
		}
	}
	offs, code := b.txn.FetchOffsets(ctx, group, topics, requireStable)
	if code != errcode.None {
		return nil, code
	}
	var out []fetchedTopic
	if all {
		for t, ps := range offs {
			ft := fetchedTopic{topic: t}
			for p, o := range ps {
				ft.partitions = append(ft.partitions, fetchedOffset{p, o})
			}
			slices.SortFunc(ft.partitions, func(a, b fetchedOffset) int { return cmp.Compare(a.partition, b.partition) })
			out = append(out, ft)
		}
		slices.SortFunc(out, func(a, b fetchedTopic) int { return strings.Compare(a.topic, b.topic) })
		return out, errcode.None
	}
	for _, t := range asked {
		ft := fetchedTopic{topic: t.topic}
		for _, p := range t.partitions {
			ft.partitions = append(ft.partitions, fetchedOffset{p, offs[t.topic][p]})
		}
		out = append(out, ft)
	}
	return out, errcode.None
}
