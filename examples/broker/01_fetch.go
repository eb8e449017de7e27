package main

import (
	"context"
	"errors"
	"time"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/internal/membudget"
	"github.com/chronik-go/chronik/metadata"
	"github.com/chronik-go/chronik/produce"
	"github.com/chronik-go/chronik/record"
	"github.com/chronik-go/chronik/segment"
	"github.com/chronik-go/chronik/wire"
)

// Fetch error codes package errcode does not name.
const (
	codeFetchSessionIDNotFound   errcode.Code = 70
	codeInvalidFetchSessionEpoch errcode.Code = 71
	codeFencedLeaderEpoch        errcode.Code = 74
	codeUnknownLeaderEpoch       errcode.Code = 75
)

// fetchPoll is how often a waiting fetch re-checks the readable ends (high
// watermark or last stable offset) of its partitions. Produce requests wake
// waiting fetches as they complete (notifier); the poll catches the ends
// moving later: a background group commit covering acks=0 and acks=1 data,
// or a transaction marker.
const fetchPoll = 5 * time.Millisecond

// maxFetchWait caps a fetch's max_wait_ms. A long poll keeps its
// connection's writer busy even after the client went away (the broker
// learns of that only when it writes), so the wait is bounded; clients ask
// for 0.5 s (librdkafka, sarama) to 5 s (franz-go).
const maxFetchWait = 30 * time.Second

// fetch answers Fetch (key 1) v4-v12 from the partition logs. The request
// is decoded now (a malformed one closes the connection) and answered when
// the connection's writer waits on the Reply, so that a long poll does not
// stop the connection from reading its next requests; responses still go
// out in request order. ctx is the connection's: when the broker shuts
// down, a waiting fetch answers with what it has.
func (b *broker) fetch(ctx context.Context, hdr wire.RequestHeader, body []byte) (produce.Reply, error) {
	req, err := wire.DecodeFetchRequest(hdr.APIVersion, body)
	if err != nil {
		return produce.Reply{}, &decodeError{hdr.APIKey, hdr.APIVersion, err}
	}
	flexible := wire.ResponseHeaderFlexible(hdr.APIKey, hdr.APIVersion)
	return produce.Reply{Wait: func(context.Context) ([]byte, bool) {
		resp, held := b.fetchWait(ctx, req)
		out := wire.AppendResponseHeader(nil, hdr.CorrelationID, flexible)
		out = resp.AppendTo(out)
		// The records are copied into the response: the reads are no
		// longer held.
		held.release()
		return out, false
	}}, nil
}

// fetchWait reads the requested partitions, and while they hold fewer than
// min_bytes and no partition failed, waits for more data up to max_wait_ms
// (Kafka's DelayedFetch), then reads them again. It returns the response
// and the fetch memory its records hold, which the caller releases once it
// has encoded them.
func (b *broker) fetchWait(ctx context.Context, req *wire.FetchRequest) (*wire.FetchResponse, *fetchReservation) {
	if code := sessionError(req); code != errcode.None {
		// This broker keeps no fetch sessions (KIP-227): it answers every
		// fetch in full with session id 0, which tells a client that no
		// session was created, so a session-continuing request is unknown.
		return &wire.FetchResponse{Version: req.Version, ErrorCode: code, Topics: []wire.FetchTopicResponse{}}, &fetchReservation{}
	}
	deadline := time.Now().Add(min(durationMs(req.MaxWaitMs), maxFetchWait))
	for {
		wake := b.data.wait() // before reading, so a produce completing meanwhile wakes us
		resp, n, failed, bounds, held := b.readFetch(ctx, req)
		if n >= int(req.MinBytes) || failed || !time.Now().Before(deadline) || ctx.Err() != nil {
			return resp, held
		}
		held.release() // this read is dropped
		b.waitForData(ctx, req, bounds, wake, deadline)
	}
}

// waitForData returns once a partition's readable end moved past what the
// last read saw, at deadline, or when ctx is done.
func (b *broker) waitForData(ctx context.Context, req *wire.FetchRequest, bounds []int64, wake <-chan struct{}, deadline time.Time) {
	timer := time.NewTimer(fetchPoll)
	defer timer.Stop()
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return
		}
		// Since Go 1.23 Reset discards a pending expiry: no drain needed.
		timer.Reset(min(left, fetchPoll))
		select {
		case <-ctx.Done():
			return
		case <-wake:
			wake = b.data.wait()
		case <-timer.C:
		}
		if b.boundsMoved(req, bounds) {
			return
		}
	}
}

// boundsMoved reports whether any partition's readable end differs from
// the one recorded by readFetch.
func (b *broker) boundsMoved(req *wire.FetchRequest, bounds []int64) bool {
	i := 0
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			if bounds[i] >= 0 {
				if b.readableEnd(req, t.Name, p.Partition) != bounds[i] {
					return true
				}
			}
			i++
		}
	}
	return false
}

// readableEnd returns what a fetch of the partition may read up to: the
// high watermark, or the last stable offset for read_committed; -1 when
// the partition cannot be read.
func (b *broker) readableEnd(req *wire.FetchRequest, topic string, partition int32) int64 {
	if req.IsolationLevel == wire.ReadCommitted {
		lso, err := b.handler.LastStableOffset(topic, partition)
		if err != nil {
			return -1
		}
		return lso
	}
	l, err := b.handler.Log(topic, partition)
	if err != nil {
		return -1
	}
	return l.HighWatermark()
}

// sessionError checks the fetch session fields (v7+) against a broker that
// never creates sessions (Kafka's FetchMetadata rules).
func sessionError(req *wire.FetchRequest) errcode.Code {
	switch {
	case req.Version < 7:
		return errcode.None
	case req.SessionEpoch == -1 || req.SessionEpoch == 0 && req.SessionID == 0:
		// sessionless full fetch, or a request for a new session
		return errcode.None
	case req.SessionID == 0:
		return codeInvalidFetchSessionEpoch
	default:
		return codeFetchSessionIDNotFound
	}
}

// readFetch reads every requested partition once. It returns the response,
// its record bytes, whether a partition failed, the readable end of each
// partition (-1 for a failed one), in request order, and the fetch memory
// the records hold.
//
// Limits follow Kafka (KIP-74): partitions are read in request order while
// the response is below max_bytes, each at most partition_max_bytes, except
// that the first batch of the first partition with data is returned whole
// even when it exceeds both limits, so that a consumer always progresses.
// The broker's fetch memory caps max_bytes too (as Kafka's broker config
// fetch.max.bytes does), and is reserved for the response's bytes before
// the first partition with data is read.
func (b *broker) readFetch(ctx context.Context, req *wire.FetchRequest) (resp *wire.FetchResponse, n int, failed bool, bounds []int64, held *fetchReservation) {
	resp = &wire.FetchResponse{Version: req.Version, Topics: make([]wire.FetchTopicResponse, len(req.Topics))}
	budget := int(req.MaxBytes)
	if budget <= 0 {
		budget = 1 << 30
	}
	held = &fetchReservation{mem: b.cfg.fetchMem}
	if held.mem != nil {
		// max_bytes is a bound, not a need: a response never asks the
		// fetch memory for more than all of it.
		budget = int(min(int64(budget), held.mem.Limit()))
	}
	held.want = int64(budget)
	for i, t := range req.Topics {
		rt := &resp.Topics[i]
		rt.Name = t.Name
		rt.Partitions = make([]wire.FetchPartitionResponse, len(t.Partitions))
		topic, topicOK := b.meta.Topic(t.Name)
		for j, p := range t.Partitions {
			pr := &rt.Partitions[j]
			bound := b.readPartition(ctx, req, &topic, topicOK, p, pr, n, budget-n, held)
			if pr.ErrorCode != errcode.None {
				failed = true
			}
			n += len(pr.Records)
			bounds = append(bounds, bound)
		}
	}
	held.settle(int64(n))
	return resp, n, failed, bounds, held
}

// fetchReservation is the room one read of a fetch holds in the broker's
// fetch memory (nil mem: unbounded). It is reserved when the first
// partition with data is about to be read, so a fetch waits for room only
// while it holds no records and fetches never wait on each other while
// holding memory; waiting fetches are served in arrival order.
type fetchReservation struct {
	mem      *membudget.Budget
	want     int64 // the response's byte limit, at most the budget's: what is reserved
	reserved int64
}

// reserve reserves the response's room unless it already is; it reports
// false when ctx ended first.
func (r *fetchReservation) reserve(ctx context.Context) bool {
	if r.mem == nil || r.reserved > 0 {
		return true
	}
	if err := r.mem.Acquire(ctx, r.want); err != nil {
		return false
	}
	r.reserved = r.want
	return true
}

// settle trims the reservation to the n bytes the response holds, or
// extends it when a first batch larger than the limit made n larger.
func (r *fetchReservation) settle(n int64) {
	if r.mem == nil || r.reserved == 0 {
		return
	}
	if n > r.reserved {
		r.mem.Take(n - r.reserved)
	} else {
		r.mem.Release(r.reserved - n)
	}
	r.reserved = n
}

// release returns the whole reservation.
func (r *fetchReservation) release() {
	if r.mem != nil {
		r.mem.Release(r.reserved)
	}
	r.reserved = 0
}

// readPartition fills pr for one partition with at most limit bytes (see
// readFetch for the first-batch rule; have is the response's bytes so far)
// and returns the partition's readable end, or -1 if it failed. Before
// reading records it makes sure held has room reserved.
func (b *broker) readPartition(ctx context.Context, req *wire.FetchRequest, topic *metadata.Topic, topicOK bool, p wire.FetchPartition, pr *wire.FetchPartitionResponse, have, limit int, held *fetchReservation) int64 {
	*pr = wire.FetchPartitionResponse{
		Partition: p.Partition, HighWatermark: -1, LastStableOffset: -1, LogStartOffset: -1,
		PreferredReadReplica: -1, Records: []byte{},
	}
	if !topicOK {
		pr.ErrorCode = errcode.UnknownTopicOrPartition
		return -1
	}
	if code := checkLeaderEpoch(topic, p.Partition, p.CurrentLeaderEpoch); code != errcode.None {
		pr.ErrorCode = code
		return -1
	}
	l, err := b.handler.Log(topic.Name, p.Partition)
	if err != nil {
		pr.ErrorCode = codeOf(err)
		return -1
	}
	// The high watermark is the durable end; the last stable offset ends
	// what read_committed may see (kafka-semantics.md §4.10). It is read
	// first: both only grow, so the answer never shows LSO > HW.
	lso, err := b.handler.LastStableOffset(topic.Name, p.Partition)
	if err != nil {
		pr.ErrorCode = codeOf(err)
		return -1
	}
	hw := l.HighWatermark()
	pr.HighWatermark, pr.LastStableOffset, pr.LogStartOffset = hw, lso, l.StartOffset()
	bound := hw
	if req.IsolationLevel == wire.ReadCommitted {
		bound = lso
		pr.AbortedTransactions = []wire.AbortedTransaction{}
	}
	if limit > int(p.PartitionMaxBytes) {
		limit = int(p.PartitionMaxBytes)
	}
	if have > 0 && limit <= 0 {
		return bound
	}
	if p.FetchOffset >= pr.LogStartOffset && p.FetchOffset < bound && !held.reserve(ctx) {
		return bound // shutting down: answer with what the response has
	}
	data, err := l.Read(p.FetchOffset, max(limit, 0), bound)
	if err != nil {
		var oor *segment.OffsetOutOfRangeError
		if errors.As(err, &oor) {
			pr.ErrorCode = errcode.OffsetOutOfRange
		} else {
			pr.ErrorCode = codeOf(err)
			b.logger.Warn("fetch read failed", "topic", topic.Name, "partition", p.Partition, "offset", p.FetchOffset, "err", err)
		}
		return -1
	}
	if have > 0 && len(data) > limit {
		// Only the response's first batch may exceed the limits.
		return bound
	}
	if len(data) == 0 {
		return bound
	}
	pr.Records = data
	if req.IsolationLevel == wire.ReadCommitted {
		// The aborted transactions overlapping the returned batches, so
		// that the consumer drops their records (FetchResponse
		// aborted_transactions).
		aborted, err := b.handler.AbortedTransactions(topic.Name, p.Partition, p.FetchOffset, batchesEnd(data))
		if err != nil {
			*pr = wire.FetchPartitionResponse{Partition: p.Partition, ErrorCode: codeOf(err), HighWatermark: -1, LastStableOffset: -1, LogStartOffset: -1, PreferredReadReplica: -1, Records: []byte{}}
			return -1
		}
		for _, a := range aborted {
			pr.AbortedTransactions = append(pr.AbortedTransactions, wire.AbortedTransaction{ProducerID: a.ProducerID, FirstOffset: a.FirstOffset})
		}
	}
	return bound
}

// batchesEnd returns one past the last offset of the whole batches in data.
func batchesEnd(data []byte) int64 {
	end := int64(-1)
	for len(data) >= record.HeaderSize {
		h := record.ReadHeader(data)
		if h.Size() > len(data) || h.Size() < record.HeaderSize {
			break
		}
		end = h.LastOffset() + 1
		data = data[h.Size():]
	}
	return end
}

// checkLeaderEpoch compares a client's current_leader_epoch (v9+ of Fetch,
// v4+ of ListOffsets; -1 = not given) with the partition's, as Kafka's
// Partition.getLocalLog does: older is FENCED_LEADER_EPOCH, newer
// UNKNOWN_LEADER_EPOCH.
func checkLeaderEpoch(t *metadata.Topic, partition, epoch int32) errcode.Code {
	pi, ok := t.Partition(partition)
	if !ok {
		return errcode.UnknownTopicOrPartition
	}
	switch {
	case epoch < 0 || epoch == pi.LeaderEpoch:
		return errcode.None
	case epoch < pi.LeaderEpoch:
		return codeFencedLeaderEpoch
	default:
		return codeUnknownLeaderEpoch
	}
}
