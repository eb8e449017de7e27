package produce

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/chronik-go/chronik/compress"
	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/metadata"
	"github.com/chronik-go/chronik/record"
	"github.com/chronik-go/chronik/segment"
	"github.com/chronik-go/chronik/wire"
)

// job is the state of one requested partition while a request runs.
type job struct {
	topic   *metadata.Topic
	part    *partition
	resp    *wire.ProducePartitionResponse
	records []byte
	done    bool  // answered: no further step touches it
	end     int64 // log end offset after the append, for acks=all
}

// internalTopics may be written only by a client whose id is
// "__admin_client" (Kafka's ReplicaManager.appendToLocalLog).
var internalTopics = map[string]bool{"__consumer_offsets": true, "__transaction_state": true}

// Pending is a produce request whose records are appended (or refused) and
// whose acks=all durability wait, if any, has not been done yet. Conn uses
// it to append a connection's requests strictly in order while their fsync
// waits overlap, so that pipelined requests share group commits.
type Pending struct {
	h       *Handler
	req     *wire.ProduceRequest
	resp    *wire.ProduceResponse
	durable []*job
	held    int64 // buffer memory to release
	start   time.Time
	once    sync.Once
}

// Begin runs every check and appends the request's batches, without waiting
// for durability. The caller must call Wait exactly once.
func (h *Handler) Begin(ctx context.Context, info RequestInfo, req *wire.ProduceRequest) (*Pending, error) {
	h.mu.RLock()
	closed := h.closed
	h.mu.RUnlock()
	if closed {
		return nil, ErrClosed
	}
	pd := &Pending{h: h, req: req, start: h.now()}
	resp := &wire.ProduceResponse{Version: req.Version, Topics: make([]wire.ProduceTopicResponse, len(req.Topics))}
	pd.resp = resp
	n := 0
	for i := range req.Topics {
		n += len(req.Topics[i].Partitions)
	}
	backing := make([]job, 0, n) // one allocation for every job
	jobs := make([]*job, 0, n)
	var total int64
	for i := range req.Topics {
		rt := &req.Topics[i]
		tr := &resp.Topics[i]
		tr.Name = rt.Name
		tr.Partitions = make([]wire.ProducePartitionResponse, len(rt.Partitions))
		for j := range rt.Partitions {
			pr := &tr.Partitions[j]
			*pr = wire.ProducePartitionResponse{Partition: rt.Partitions[j].Partition, BaseOffset: -1, LogAppendTimeMs: -1, LogStartOffset: -1}
			backing = append(backing, job{resp: pr, records: rt.Partitions[j].Records})
			jobs = append(jobs, &backing[len(backing)-1])
			total += int64(len(rt.Partitions[j].Records))
		}
	}

	// Memory: the request's record bytes count against BufferMemory until
	// the response is built. A request that cannot fit waits, bounded by
	// its timeout, and then fails retriably with nothing appended. Under
	// ServeConn with Handler.ConnConfig the whole frame is already charged
	// (it was, before it was read), so nothing is charged twice.
	if total > h.cfg.BufferMemory {
		answerAll(jobs, errcode.MessageTooLarge, fmt.Sprintf("request holds %d record bytes, more than the broker's buffer memory %d", total, h.cfg.BufferMemory))
		return pd, nil
	}
	if !frameCharged(ctx, h.mem) {
		if !h.mem.TryAcquire(total) {
			waitCtx, cancel := context.WithTimeout(ctx, h.waitBound(req))
			err := h.mem.Acquire(waitCtx, total)
			cancel()
			if err != nil {
				answerAll(jobs, errcode.RequestTimedOut, "timed out waiting for broker buffer memory")
				return pd, nil
			}
		}
		pd.held = total
	}

	h.checkRequest(info, req, jobs)
	sp := scratchPool.Get().(*[]byte)
	scratch := *sp
	for _, j := range jobs {
		if j.done {
			continue
		}
		scratch = h.appendJob(info, req, j, scratch)
		j.records = nil // appended: the request's bytes are not read again
		if !j.done && req.Acks == -1 {
			pd.durable = append(pd.durable, j)
		}
	}
	if cap(scratch) <= maxPooledScratch {
		*sp = scratch[:0]
		scratchPool.Put(sp)
	}
	return pd, nil
}

// scratchPool holds the buffers Begin decompresses batches into (one per
// request, reused by its partitions), so that a stream of compressed
// requests does not allocate and zero one per request. A buffer grown
// past maxPooledScratch by a large batch is left to the collector.
var scratchPool = sync.Pool{New: func() any { return new([]byte) }}

const maxPooledScratch = 1 << 20

// Wait completes the request: for acks=all it waits for durability (and
// replication), bounded by the request's timeout; then it releases the
// request's buffer memory and returns the response.
func (pd *Pending) Wait(ctx context.Context) *wire.ProduceResponse {
	pd.once.Do(func() {
		if len(pd.durable) > 0 {
			pd.h.awaitDurable(ctx, pd.req, pd.durable)
		}
		if pd.held > 0 {
			pd.h.mem.Release(pd.held)
		}
		m := pd.h.metrics
		for i := range pd.resp.Topics {
			for j := range pd.resp.Topics[i].Partitions {
				m.observeError(pd.resp.Topics[i].Partitions[j].ErrorCode)
			}
		}
		m.observeLatency(pd.req.Acks, pd.h.now().Sub(pd.start))
	})
	return pd.resp
}

// waitBound is how long a request may wait: its own timeout_ms when
// positive, never more than Config.RequestTimeout.
func (h *Handler) waitBound(req *wire.ProduceRequest) time.Duration {
	d := h.cfg.RequestTimeout
	if t := time.Duration(req.TimeoutMs) * time.Millisecond; t > 0 && t < d {
		d = t
	}
	return d
}

// checkRequest runs the request-level checks in Kafka's order
// (kafka-semantics.md §1.3 steps 1-5): transactional authorization, topic
// existence and the record-format rules per partition, one producer id per
// transactional request, and the acks value.
func (h *Handler) checkRequest(info RequestInfo, req *wire.ProduceRequest, jobs []*job) {
	// 1. Transactional batches need a transactional id (and transactions on).
	txnPID := int64(-1)
	multiPID := false
	for _, j := range jobs {
		b := j.records
		if req.Version < 3 || len(b) < record.HeaderSize || int8(b[16]) != 2 {
			continue
		}
		hd := record.ReadHeader(b)
		if !hd.Transactional() {
			continue
		}
		if txnPID >= 0 && hd.ProducerID != txnPID {
			multiPID = true
		}
		txnPID = hd.ProducerID
		if req.TransactionalID == nil || !h.cfg.EnableTransactions {
			answerAll(jobs, errcode.TransactionalIDAuthorizationFailed, "")
			return
		}
	}

	// 2. Per partition: the topic-partition exists; the v3+ format rules.
	for i := range req.Topics {
		t, ok := h.meta.Topic(req.Topics[i].Name)
		h.forTopic(jobs, req, i, func(j *job) {
			if !ok || j.resp.Partition < 0 || int(j.resp.Partition) >= len(t.Partitions) {
				answer(j, errcode.UnknownTopicOrPartition, "")
				return
			}
			j.topic = &t
			records, code, _ := checkFormat(req.Version, j.records)
			if code != errcode.None {
				// Request-level errors carry no message (§1.4).
				answer(j, code, "")
				return
			}
			j.records = records
		})
	}

	// 3. All transactional batches of one request must share one producer id.
	if multiPID {
		answerPending(jobs, errcode.InvalidProducerIDMapping, "")
		return
	}

	// 5. acks must be -1, 0 or 1.
	if req.Acks != -1 && req.Acks != 0 && req.Acks != 1 {
		answerPending(jobs, errcode.InvalidRequiredAcks, "")
	}
}

// forTopic calls fn for the pending jobs of request topic i. Jobs are laid
// out topic by topic in request order.
func (h *Handler) forTopic(jobs []*job, req *wire.ProduceRequest, i int, fn func(*job)) {
	first := 0
	for k := 0; k < i; k++ {
		first += len(req.Topics[k].Partitions)
	}
	for _, j := range jobs[first : first+len(req.Topics[i].Partitions)] {
		if !j.done {
			fn(j)
		}
	}
}

// checkFormat applies the record-format rules of
// ProduceRequest.validateRecords (kafka-semantics.md §1.2) through
// record.CheckProduceRecords: from v3 a partition must carry exactly one
// complete magic-2 batch (a trailing partial batch is trimmed, as Kafka's
// batch iterator does), and zstd needs v7. Null records are INVALID_RECORD
// at every version. It returns the records to validate.
func checkFormat(version int16, b []byte) ([]byte, errcode.Code, error) {
	if b == nil {
		return nil, errcode.InvalidRecord, errors.New("null records")
	}
	if version < 3 {
		return b, errcode.None, nil
	}
	batch, err := record.CheckProduceRecords(b, version >= 7)
	if err != nil {
		return nil, record.ErrorCode(err), err
	}
	return batch, errcode.None, nil
}

// appendJob validates one partition's batch, assigns its offsets and appends
// it (kafka-semantics.md §1.3 step 6 and §2). scratch is a reusable buffer
// for decompressed records; the possibly grown buffer is returned.
func (h *Handler) appendJob(info RequestInfo, req *wire.ProduceRequest, j *job, scratch []byte) []byte {
	t := j.topic
	if internalTopics[t.Name] && info.ClientID != "__admin_client" {
		answer(j, errcode.InvalidTopicException, "cannot append to internal topic "+t.Name)
		return scratch
	}
	if t.Partitions[j.resp.Partition].Leader != h.cfg.NodeID {
		answer(j, errcode.NotLeaderOrFollower, "")
		return scratch
	}
	p, err := h.partition(t, j.resp.Partition)
	if err != nil {
		answerErr(j, err)
		return scratch
	}
	j.part = p
	if err := p.log.Err(); err != nil {
		answer(j, errcode.KafkaStorageError, err.Error())
		return scratch
	}
	if req.Acks == -1 && h.inSyncReplicas(t.Name, j.resp.Partition) < t.Config.MinInsyncReplicas {
		answer(j, errcode.NotEnoughReplicas, "")
		return scratch
	}

	vv := h.validator(t, p)
	v := &vv
	var res record.BatchResult
	legacy := req.Version < 3 && !isV2(j.records)
	if legacy {
		// A legacy message's attributes byte follows its offset, size,
		// CRC and magic; its codec is the wrapper's for "producer".
		wrapper := compress.None
		if len(j.records) > 17 {
			wrapper = compress.Codec(j.records[17] & record.AttrCodecMask)
		}
		res, _, scratch, err = v.UpConvert(nil, j.records, h.targetCodec(t, wrapper), 0, scratch)
		if err == nil && res.Batch == nil && len(res.Errors) == 0 {
			err = &errcode.Error{Code: errcode.InvalidRecord, Msg: "no complete message in the message set"}
		}
	} else {
		res, scratch, err = v.ValidateBatch(j.records, scratch)
	}
	if err != nil {
		answerValidation(j, p, err)
		return scratch
	}
	if len(res.Errors) > 0 {
		answerRecordErrors(j, p, res.Errors)
		return scratch
	}
	var b []byte
	b, err = h.prepare(&res, t, scratch, v)
	if err != nil {
		answerValidation(j, p, err)
		return scratch
	}
	// The leader stamps its epoch on every batch it appends; the field is
	// outside the CRC (kafka-semantics.md §2.5).
	record.SetPartitionLeaderEpoch(b, t.Partitions[j.resp.Partition].LeaderEpoch)

	var verify func(int64, int16) errcode.Code
	if h.verifier != nil && req.TransactionalID != nil {
		txnID, topic, index := *req.TransactionalID, t.Name, j.resp.Partition
		verify = func(pid int64, epoch int16) errcode.Code {
			return h.verifier.Verify(txnID, pid, epoch, topic, index)
		}
	}
	// Every batch here has a valid CRC: validated as received, or
	// recomputed by Rebuild or SetMaxTimestamp after a change.
	ai := segment.AppendInfo{MaxTimestamp: record.ReadHeader(b).MaxTimestamp, Keys: res.Keys, CRCChecked: true}
	r, err := p.append(b, &res.Header, ai,
		h.cfg.ProducerIDExpiration, h.now(), verify)
	if err != nil {
		answerValidation(j, p, err)
		return scratch
	}
	j.end = r.end
	j.resp.BaseOffset = r.base
	j.resp.LogStartOffset = p.log.StartOffset()
	if r.duplicate {
		// Kafka answers a duplicate with the original batch's offset and
		// timestamp, even for CreateTime topics (§1.4).
		j.resp.LogAppendTimeMs = r.timestamp
		h.metrics.duplicateRecords.Add(float64(res.Records))
		return scratch
	}
	if v.LogAppendTime {
		j.resp.LogAppendTimeMs = v.Now
	}
	h.metrics.observeAppend(res.Records, len(b))
	// The ratio of v2 batches only: an up-converted legacy set's records
	// never exist uncompressed in the v2 format, so there is no raw size
	// to compare with.
	if stored := record.ReadHeader(b); stored.Codec() != compress.None && !legacy {
		raw := len(scratch)
		if res.Header.Codec() == compress.None {
			raw = len(res.Batch) - record.HeaderSize
		}
		h.metrics.observeCompression(raw, len(b)-record.HeaderSize)
	}
	if h.indexer != nil && searchEnabled(t, h.cfg.EnableIndexing) {
		h.indexer.Notify(t.Name, j.resp.Partition, j.end)
	}
	return scratch
}

// isV2 reports whether records start with a magic-2 batch.
func isV2(b []byte) bool { return len(b) > 16 && int8(b[16]) == 2 }

func searchEnabled(t *metadata.Topic, def bool) bool {
	if t.Config.SearchEnabled != nil {
		return *t.Config.SearchEnabled
	}
	return def
}

func (h *Handler) inSyncReplicas(topic string, partition int32) int {
	if h.replicator == nil {
		return 1
	}
	return h.replicator.InSyncReplicas(topic, partition)
}

// awaitDurable waits, for acks=all, until every appended batch is covered by
// an fsync (one group commit usually covers them all) and, with a
// Replicator, replicated; a batch still waiting when the request's timeout
// passes is answered REQUEST_TIMED_OUT with its offset kept, as Kafka's
// DelayedProduce does.
func (h *Handler) awaitDurable(ctx context.Context, req *wire.ProduceRequest, jobs []*job) {
	ctx, cancel := context.WithTimeout(ctx, h.waitBound(req))
	defer cancel()
	for _, j := range jobs {
		err := j.part.log.WaitDurable(ctx, j.end)
		if err == nil && h.replicator != nil {
			err = h.replicator.WaitReplicated(ctx, j.part.topic, j.part.index, j.end)
			if err == nil && h.replicator.InSyncReplicas(j.part.topic, j.part.index) < j.topic.Config.MinInsyncReplicas {
				j.resp.ErrorCode = errcode.NotEnoughReplicasAfterAppend
				continue
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
			j.resp.ErrorCode = errcode.RequestTimedOut
		default:
			answer(j, errcode.KafkaStorageError, err.Error())
		}
	}
}

// answer sets a failed partition's result per kafka-semantics.md §1.4.
func answer(j *job, code errcode.Code, msg string) {
	j.done = true
	j.resp.ErrorCode = code
	j.resp.BaseOffset = -1
	j.resp.LogAppendTimeMs = -1
	j.resp.LogStartOffset = -1
	if msg != "" {
		j.resp.ErrorMessage = &msg
	}
}

// answerErr answers with the Kafka code err carries: an *errcode.Error, a
// *record.Error, or any error with a Code method (segment's errors);
// anything else is UNKNOWN_SERVER_ERROR.
func answerErr(j *job, err error) {
	var ce *errcode.Error
	var coder interface{ Code() errcode.Code }
	switch {
	case errors.As(err, &ce):
		answer(j, ce.Code, ce.Msg)
	case errors.As(err, &coder):
		answer(j, coder.Code(), err.Error())
	default:
		answer(j, record.ErrorCode(err), err.Error())
	}
}

func answerAll(jobs []*job, code errcode.Code, msg string) {
	for _, j := range jobs {
		answer(j, code, msg)
	}
}

func answerPending(jobs []*job, code errcode.Code, msg string) {
	for _, j := range jobs {
		if !j.done {
			answer(j, code, msg)
		}
	}
}

// answerValidation answers a batch that failed validation. Validation
// failures after the request-level checks carry the real log start offset
// except for the "known" codes of §1.4 (CORRUPT_MESSAGE, MESSAGE_TOO_LARGE,
// RECORD_LIST_TOO_LARGE, KAFKA_STORAGE_ERROR), which carry -1. Failures
// Kafka throws rather than collects leave error_message null (§1.6); the
// producer-state and verification errors keep their message.
func answerValidation(j *job, p *partition, err error) {
	answerErr(j, err)
	var re *record.Error
	if errors.As(err, &re) {
		j.resp.ErrorMessage = nil
	}
	switch j.resp.ErrorCode {
	case errcode.CorruptMessage, errcode.MessageTooLarge, errcode.RecordListTooLarge, errcode.KafkaStorageError:
	default:
		j.resp.LogStartOffset = p.log.StartOffset()
	}
}

// answerRecordErrors answers a batch whose records failed the per-record
// checks (KIP-467): the code and error_message of record.SummarizeErrors,
// and record_errors listing each failed record.
func answerRecordErrors(j *job, p *partition, errs []record.RecordError) {
	code, msg := record.SummarizeErrors(errs)
	answer(j, code, msg)
	j.resp.LogStartOffset = p.log.StartOffset()
	j.resp.RecordErrors = make([]wire.RecordError, len(errs))
	for i, e := range errs {
		m := e.Msg
		j.resp.RecordErrors[i] = wire.RecordError{BatchIndex: int32(e.Index), Message: &m}
	}
}
