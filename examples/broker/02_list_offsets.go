package main

import (
	"errors"
	"math"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/produce"
	"github.com/chronik-go/chronik/record"
	"github.com/chronik-go/chronik/segment"
	"github.com/chronik-go/chronik/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Special timestamps of a ListOffsets request (ListOffsetsRequest.java).
const (
	latestTimestamp   = -1 // the high watermark, or the LSO for read_committed
	earliestTimestamp = -2 // the log start offset
	maxTimestamp      = -3 // v7+ (KIP-734): the record with the largest timestamp
)

// maxDecodedBatch bounds the decompressed size of a batch read to find one
// record's timestamp.
const maxDecodedBatch = 64 << 20

// listOffsets answers ListOffsets (key 2) v1-v7 per partition: earliest
// (-2) is the log start offset, latest (-1) the high watermark (the last
// stable offset for read_committed, v2+), -3 (introduced with v7; Kafka's log honours it at
// any version) the first record with the largest
// timestamp, and any other timestamp the first record whose timestamp is at
// least it (Kafka's UnifiedLog.fetchOffsetByTimestamp). Lookups see only
// records below that same bound; none found gives offset and timestamp
// -1 with no error, as in Kafka.
func (b *broker) listOffsets(hdr wire.RequestHeader, body []byte) (produce.Reply, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	if err := decode(hdr, body, req); err != nil {
		return produce.Reply{}, err
	}
	resp := kmsg.NewPtrListOffsetsResponse()
	for _, rt := range req.Topics {
		t := kmsg.NewListOffsetsResponseTopic()
		t.Topic = rt.Topic
		topic, topicOK := b.meta.Topic(rt.Topic)
		for _, rp := range rt.Partitions {
			p := kmsg.NewListOffsetsResponseTopicPartition()
			p.Partition = rp.Partition
			switch {
			case !topicOK:
				p.ErrorCode = int16(errcode.UnknownTopicOrPartition)
			default:
				if code := checkLeaderEpoch(&topic, rp.Partition, rp.CurrentLeaderEpoch); code != errcode.None {
					p.ErrorCode = int16(code)
					break
				}
				pi, _ := topic.Partition(rp.Partition)
				p.LeaderEpoch = pi.LeaderEpoch
				b.listPartitionOffset(rt.Topic, req.IsolationLevel, rp, &p)
			}
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return respond(hdr, resp), nil
}

// listPartitionOffset fills p for one partition.
func (b *broker) listPartitionOffset(topic string, isolation int8, rp kmsg.ListOffsetsRequestTopicPartition, p *kmsg.ListOffsetsResponseTopicPartition) {
	l, err := b.handler.Log(topic, rp.Partition)
	if err != nil {
		p.ErrorCode = int16(codeOf(err))
		return
	}
	bound := l.HighWatermark()
	if isolation == wire.ReadCommitted { // v2+: up to the last stable offset
		if bound, err = b.handler.LastStableOffset(topic, rp.Partition); err != nil {
			p.ErrorCode = int16(codeOf(err))
			return
		}
	}
	var off int64
	var found bool
	switch rp.Timestamp {
	case earliestTimestamp:
		p.Offset = l.StartOffset()
		return
	case latestTimestamp:
		p.Offset = bound
		return
	case maxTimestamp:
		off, found, err = offsetOfMaxTimestamp(l, bound)
	default:
		off, found, err = l.OffsetForTime(rp.Timestamp)
		found = found && off < bound
	}
	p.LeaderEpoch = -1 // as Kafka answers when no record matches
	if err == nil && found {
		var ts int64
		var epoch int32
		if ts, epoch, err = recordTimestamp(l, off, bound); err == nil {
			p.Offset, p.Timestamp, p.LeaderEpoch = off, ts, epoch
		}
	}
	if err != nil {
		p.ErrorCode = int16(codeOf(err))
		b.logger.Warn("list offsets failed", "topic", topic, "partition", rp.Partition, "timestamp", rp.Timestamp, "err", err)
	}
}

// offsetOfMaxTimestamp returns the offset of the first record below bound
// that carries the largest timestamp. The log has no running maximum, so
// it binary-searches the timestamp space with OffsetForTime: "some record
// below bound has a timestamp >= t" holds for every t up to the maximum and
// for none above, and each probe costs one time-index lookup. found is
// false for a log with no record below bound.
func offsetOfMaxTimestamp(l *segment.Log, bound int64) (int64, bool, error) {
	has := func(t int64) (bool, error) {
		off, found, err := l.OffsetForTime(t)
		return err == nil && found && off < bound, err
	}
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	ok, err := has(lo)
	if err != nil || !ok {
		return -1, false, err
	}
	if ok, err = has(hi); err != nil {
		return -1, false, err
	}
	if !ok {
		// Invariant: has(lo) && !has(hi).
		for uint64(hi)-uint64(lo) > 1 {
			mid := lo + int64((uint64(hi)-uint64(lo))/2)
			ok, err := has(mid)
			if err != nil {
				return -1, false, err
			}
			if ok {
				lo = mid
			} else {
				hi = mid
			}
		}
		hi = lo
	}
	off, found, err := l.OffsetForTime(hi)
	return off, found && off < bound, err
}

// recordTimestamp returns the timestamp of the record at offset and the
// leader epoch of its batch.
func recordTimestamp(l *segment.Log, offset, bound int64) (int64, int32, error) {
	data, err := l.Read(offset, 1, bound)
	if err != nil {
		return -1, -1, err
	}
	if len(data) < record.HeaderSize {
		return -1, -1, &errcode.Error{Code: errcode.UnknownServerError, Msg: "no batch holds the offset found by timestamp"}
	}
	h := record.ReadHeader(data)
	ts := int64(-1)
	errFound := errors.New("found")
	_, err = record.WalkBatch(data, &h, nil, maxDecodedBatch, func(_ int, r *record.Record) error {
		if h.Offset(r) == offset {
			ts = h.Timestamp(r)
			return errFound
		}
		return nil
	})
	if err != nil && !errors.Is(err, errFound) {
		return -1, -1, err
	}
	return ts, h.PartitionLeaderEpoch, nil
}
