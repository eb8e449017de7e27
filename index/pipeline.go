package index

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/chronik-go/chronik/compress"
	"github.com/chronik-go/chronik/metadata"
	"github.com/chronik-go/chronik/produce"
	"github.com/chronik-go/chronik/record"
	"github.com/chronik-go/chronik/segment"
)

// Topics gives the pipeline topic configurations (search.enabled,
// search.fields) and the topics to catch up at start; metadata.Memory and
// metadata.Bolt implement it.
type Topics interface {
	Topic(name string) (metadata.Topic, bool)
	Topics() []metadata.Topic
}

// PartitionDeleter is implemented by Indexers that can delete the index
// of one partition (Bluge and Memory do). DeletePartition removes the
// partition's documents and checkpoint, durably, so that indexing starts
// again from offset 0, and deletes an index that cannot be loaded as well;
// deleting a partition that has no index does nothing. The caller must not
// run Index for the partition concurrently. After Close it returns an
// error wrapping ErrClosed.
type PartitionDeleter interface {
	DeletePartition(ctx context.Context, topic string, partition int32) error
}

// ErrCorrupt is wrapped by the errors of an Indexer's partition index
// that exists but cannot be loaded: its files are damaged (Bluge: no
// snapshot loads, or the checkpoint document cannot be read; a
// *CheckpointError means the same). The index is derived data and the log
// holds every record, so the pipeline deletes such a partition's index
// (PartitionDeleter; without it, the topic's) and indexes the partition
// again from its log.
var ErrCorrupt = errors.New("index: partition index cannot be loaded")

// corrupt reports whether err says a partition index cannot be loaded.
func corrupt(err error) bool {
	var ce *CheckpointError
	return errors.Is(err, ErrCorrupt) || errors.As(err, &ce)
}

// PipelineOptions configures a Pipeline. The zero value means the
// defaults; Validate reports out-of-range values.
type PipelineOptions struct {
	// EnableByDefault indexes topics whose search.enabled is unset: set it
	// to the produce handler's EnableIndexing.
	EnableByDefault bool

	// Workers is the number of indexing goroutines; each indexes one
	// partition at a time. Default GOMAXPROCS.
	Workers int

	// BatchDocs and BatchBytes bound one Index call: at most this many
	// records, or record bytes. Defaults 2048 and 2 MiB: large enough to
	// amortise segment building (2048 log records of 1 KiB fill it),
	// small enough to keep freshness well under a second and a batch's
	// indexing memory bounded.
	BatchDocs  int
	BatchBytes int

	// BufferMemory bounds the bytes all workers together hold between
	// reading records off the logs and the return of the Index call that
	// indexes them: the bytes read, the decoded records of compressed
	// batches, and a fixed overhead per record (the Document). A worker
	// reserves room before each read and each record batch; one holding
	// nothing waits for room, one already holding part of a batch ends
	// the batch instead, so workers never wait for each other while
	// holding memory. A record batch cannot be split, so each worker may
	// pass the bound by one record batch. Default 2 MiB: one batch of
	// BatchBytes, or smaller ones of several workers. The Indexer needs
	// working memory on top (Bluge: a few times the batch's bytes while
	// it analyses them and builds the segment).
	BufferMemory int

	// PollInterval is how often partitions waiting for durable or
	// committed data are looked at again. Default 50 ms. A partition
	// whose turn failed is retried after PollInterval, then after twice
	// as long at each further failure in a row, up to 30 s.
	PollInterval time.Duration

	// RefreshInterval is the shortest time between the starts of two
	// turns of a partition that keeps up with its log: records appended
	// meanwhile wait and are indexed together, in one Index call, as
	// Elasticsearch makes new documents searchable once per
	// index.refresh_interval. Every Index call has costs that do not
	// depend on its size (a segment with a term dictionary per field, its
	// introduction into the partition's snapshot, later merged with the
	// others), so a trickle indexed record by record costs several times
	// more per record than the same records indexed together, and an
	// indexer that cannot afford that falls behind. A partition with a
	// backlog is indexed without pause, and one that was idle for
	// RefreshInterval is indexed at once. Negative: no pause. Default
	// 100 ms.
	RefreshInterval time.Duration

	// MaxYield bounds how long an Index call waits for a burst of
	// appends to end. Indexing takes far more CPU per record than
	// appending: while records are appended, across all partitions,
	// faster than BatchDocs per 100 ms and than 4 times the rate the index
	// has been taking them (the records per second of its recent Index
	// calls of at least BatchDocs/4 records), the index falls behind
	// whatever it does, and indexing
	// during the burst would only take CPU from the produce path (and
	// from producers on the same machine). So a worker about to index
	// waits while such a burst lasts, for at most MaxYield, and indexes
	// the records right after it; under sustained overload it still
	// indexes a batch after each MaxYield. Default 500 ms; negative: no
	// wait.
	MaxYield time.Duration

	// MaxDecompressedBytes caps one batch's decompressed size. Default
	// 64 MiB.
	MaxDecompressedBytes int

	// OnLag, when set, receives the time from each append the handler
	// notified to the moment its records became searchable; pass the
	// handler's Metrics().ObserveIndexingLag. Called from indexing
	// goroutines.
	OnLag func(topic string, partition int32, lag time.Duration)

	// Logger receives indexing failures. Default slog.Default().
	Logger *slog.Logger
}

// Validate reports the first option out of range.
func (o *PipelineOptions) Validate() error {
	var errs []error
	if o.Workers < 0 || o.Workers > 1024 {
		errs = append(errs, fmt.Errorf("option Workers %d must be between 0 and 1024", o.Workers))
	}
	if o.BatchDocs < 0 {
		errs = append(errs, fmt.Errorf("BatchDocs %d is negative", o.BatchDocs))
	}
	if o.BatchBytes < 0 {
		errs = append(errs, fmt.Errorf("BatchBytes %d is negative", o.BatchBytes))
	}
	if o.BufferMemory < 0 || (o.BufferMemory > 0 && o.BufferMemory < minBufferMemory) {
		errs = append(errs, fmt.Errorf("BufferMemory %d must be at least %d", o.BufferMemory, minBufferMemory))
	}
	if o.PollInterval < 0 {
		errs = append(errs, fmt.Errorf("PollInterval %v is negative", o.PollInterval))
	}
	if o.MaxYield > time.Minute {
		errs = append(errs, fmt.Errorf("MaxYield %v is longer than a minute", o.MaxYield))
	}
	if o.RefreshInterval > time.Minute {
		errs = append(errs, fmt.Errorf("RefreshInterval %v is longer than a minute", o.RefreshInterval))
	}
	if o.MaxDecompressedBytes < 0 {
		errs = append(errs, fmt.Errorf("MaxDecompressedBytes %d is negative", o.MaxDecompressedBytes))
	}
	if len(errs) > 0 {
		return fmt.Errorf("index: invalid pipeline options: %w", errors.Join(errs...))
	}
	return nil
}

func (o PipelineOptions) withDefaults() PipelineOptions {
	if o.Workers == 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.BatchDocs == 0 {
		o.BatchDocs = 2048
	}
	if o.BatchBytes == 0 {
		o.BatchBytes = 2 << 20
	}
	if o.BufferMemory == 0 {
		o.BufferMemory = 2 << 20
	}
	if o.PollInterval == 0 {
		o.PollInterval = 50 * time.Millisecond
	}
	switch {
	case o.MaxYield == 0:
		o.MaxYield = defaultMaxYield
	case o.MaxYield < 0:
		o.MaxYield = 0
	}
	switch {
	case o.RefreshInterval == 0:
		o.RefreshInterval = defaultRefreshInterval
	case o.RefreshInterval < 0:
		o.RefreshInterval = 0
	}
	if o.MaxDecompressedBytes == 0 {
		o.MaxDecompressedBytes = 64 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Defaults of PipelineOptions.RefreshInterval and MaxYield.
const (
	defaultRefreshInterval = 100 * time.Millisecond
	defaultMaxYield        = 500 * time.Millisecond
)

// maxRetryDelay bounds the wait before a partition whose turns keep
// failing is tried again: the wait doubles from PollInterval at each
// failure up to it, so a lasting failure (a full disk, an index that
// cannot be deleted) costs one attempt and one log line per 30 s.
const maxRetryDelay = 30 * time.Second

// retryDelay is the wait after the failures-th failure in a row.
func (p *Pipeline) retryDelay(failures int) time.Duration {
	d := p.opts.PollInterval
	for i := 1; i < failures && d < maxRetryDelay; i++ {
		d *= 2
	}
	return min(d, maxRetryDelay)
}

// Pipeline feeds the Indexer from the partition logs, behind the produce
// path: it implements produce.Indexer, whose Notify only records that a
// partition has new data, and its workers read durable records from each
// partition's checkpoint and index them in batches. After a restart it
// resumes every search-enabled partition from its checkpoint (Start), so
// nothing is lost and, the checkpoint being stored with the index,
// nothing is indexed twice.
//
// Goroutines: Workers indexing workers and one poller, started by Start
// and ended by Close, and the callbacks of the partitions' refresh timers,
// which only queue their partition (Close stops the timers). Pipeline.mu
// guards the partition states, the run queue and the burst detection; it
// is never held while reading a log or indexing.
type Pipeline struct {
	ix     Indexer
	topics Topics
	opts   PipelineOptions
	mem    *byteBudget // BufferMemory, shared by the workers

	mu         sync.Mutex
	cond       *sync.Cond // signalled when the queue grows, a run ends or on close
	parts      map[topicPart]*pstate
	queue      []*pstate
	rebuilding map[string]bool
	logs       Logs
	txn        TransactionalLogs
	started    bool
	closed     bool

	appends appendRate // records notified lately, across partitions (guarded by mu)
	indexed indexRate  // records per second of recent Index calls (guarded by mu)

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// pstate is the pipeline's view of one partition.
type pstate struct {
	tp         topicPart
	target     int64    // the highest end offset notified or seen
	checkpoint int64    // indexed up to here (as last seen)
	notices    []notice // appends not yet searchable, oldest first
	queued     bool
	running    bool
	waiting    bool // more data than could be indexed: the poller retries

	// failures counts the partition's turns that failed in a row; the
	// next turn does not start before retryAt.
	failures int
	retryAt  time.Time

	// notBefore is when the partition's next turn may start, one
	// RefreshInterval after the start of the last turn that caught up
	// with the log; an append notified earlier arms timer for it.
	notBefore time.Time
	timer     *time.Timer
	armed     bool // timer will queue the partition
}

// notice is one Notify: records below end were appended at time at.
type notice struct {
	end int64
	at  time.Time
}

// maxNotices bounds the notices kept per partition; beyond it the newest
// is stretched to cover new appends (their lag is then overestimated).
const maxNotices = 4096

var _ produce.Indexer = (*Pipeline)(nil)

// NewPipeline returns a pipeline feeding ix. It does nothing until Start.
func NewPipeline(ix Indexer, topics Topics, opts PipelineOptions) (*Pipeline, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if ix == nil || topics == nil {
		return nil, errors.New("index: NewPipeline needs an Indexer and Topics")
	}
	p := &Pipeline{ix: ix, topics: topics, opts: opts.withDefaults(),
		parts: make(map[topicPart]*pstate), rebuilding: make(map[string]bool)}
	p.mem = newByteBudget(int64(p.opts.BufferMemory))
	p.cond = sync.NewCond(&p.mu)
	p.ctx, p.cancel = context.WithCancel(context.Background())
	return p, nil
}

// Start begins indexing from logs (the produce handler) and schedules
// every partition of every search-enabled topic this node leads that has
// records beyond its checkpoint. Appends notified before Start are kept
// and indexed now. Start may be called once.
func (p *Pipeline) Start(logs Logs) error {
	if logs == nil {
		return errors.New("index: Pipeline.Start needs Logs")
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return fmt.Errorf("index: pipeline: %w", ErrClosed)
	}
	if p.started {
		p.mu.Unlock()
		return errors.New("index: pipeline already started")
	}
	p.started = true
	p.logs = logs
	p.txn, _ = logs.(TransactionalLogs)
	p.mu.Unlock()
	for _, t := range p.topics.Topics() {
		if p.enabled(&t) {
			p.scheduleTopic(&t)
		}
	}
	for range p.opts.Workers {
		p.wg.Add(1)
		go p.worker()
	}
	p.wg.Add(1)
	go p.poller()
	return nil
}

func (p *Pipeline) enabled(t *metadata.Topic) bool {
	if t.Config.SearchEnabled != nil {
		return *t.Config.SearchEnabled
	}
	return p.opts.EnableByDefault
}

// scheduleTopic queues every partition of t whose log holds more than
// its checkpoint. A partition index that cannot be loaded is deleted
// here, before any search can reach it, and the partition is indexed
// again from its log (rebuildPartition).
func (p *Pipeline) scheduleTopic(t *metadata.Topic) {
	for i := range t.Partitions {
		id := int32(i)
		tp := topicPart{t.Name, id}
		l, err := p.logs.Log(t.Name, id)
		if err != nil {
			continue // not led here
		}
		// The log's end, not its high watermark: records appended but
		// not yet durable are waited for like notified ones.
		end := l.NextOffset()
		cp, err := p.ix.Checkpoint(t.Name, id)
		if err != nil && corrupt(err) {
			p.mu.Lock()
			ps := p.stateLocked(tp)
			claimed := !ps.queued && !ps.running && !p.closed
			ps.running = ps.running || claimed
			p.mu.Unlock()
			if !claimed {
				continue // the worker running it rebuilds it
			}
			err = p.rebuildPartition(tp, err)
			cp = 0
			p.mu.Lock()
			ps.running = false
			p.cond.Broadcast()
			p.mu.Unlock()
		}
		if errors.Is(err, errTopicRebuild) {
			continue
		}
		if err != nil {
			p.mu.Lock()
			ps := p.stateLocked(tp)
			ps.target = max(ps.target, end)
			retry := p.failedLocked(ps, time.Now())
			p.mu.Unlock()
			p.opts.Logger.Error("search indexing failed", "topic", t.Name, "partition", id, "err", err, "retry_in", retry)
			continue
		}
		// The target counts too: appends notified while a rebuild above
		// held the partition raised it, and their Notify could not queue
		// a partition that was running.
		p.mu.Lock()
		if ps := p.parts[tp]; end > cp || (ps != nil && ps.target > cp) {
			ps = p.stateLocked(tp)
			ps.target = max(ps.target, end)
			ps.checkpoint = cp
			p.enqueueLocked(ps)
		}
		p.mu.Unlock()
	}
}

func (p *Pipeline) stateLocked(tp topicPart) *pstate {
	ps := p.parts[tp]
	if ps == nil {
		ps = &pstate{tp: tp}
		p.parts[tp] = ps
	}
	return ps
}

// failedLocked records a failed turn of ps: the poller retries it after
// the returned delay.
func (p *Pipeline) failedLocked(ps *pstate, now time.Time) time.Duration {
	ps.failures++
	d := p.retryDelay(ps.failures)
	ps.retryAt = now.Add(d)
	ps.waiting = true
	return d
}

func (p *Pipeline) enqueueLocked(ps *pstate) {
	if ps.queued || ps.running || p.closed {
		return
	}
	ps.queued = true
	p.queue = append(p.queue, ps)
	p.cond.Signal()
}

// Notify implements produce.Indexer: records below end are appended to
// the partition (durable soon). It only records that and wakes a worker;
// it never blocks on indexing.
func (p *Pipeline) Notify(topic string, partition int32, end int64) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	ps := p.stateLocked(topicPart{topic, partition})
	if end <= ps.target {
		return
	}
	p.notifiedAppend(end-ps.target, now)
	ps.target = end
	if n := len(ps.notices); n >= maxNotices {
		ps.notices[n-1].end = end
	} else {
		ps.notices = append(ps.notices, notice{end: end, at: now})
	}
	if p.started {
		p.scheduleLocked(ps, now)
	}
}

// scheduleLocked queues ps now, or when its refresh interval has passed
// (at ps.notBefore) and, after a failed turn, its retry delay
// (ps.retryAt).
func (p *Pipeline) scheduleLocked(ps *pstate, now time.Time) {
	if ps.queued || ps.running || p.closed {
		return
	}
	due := ps.notBefore
	if ps.retryAt.After(due) {
		due = ps.retryAt
	}
	wait := due.Sub(now)
	if wait <= 0 {
		p.enqueueLocked(ps)
		return
	}
	if ps.armed {
		return
	}
	ps.armed = true
	if ps.timer == nil {
		ps.timer = time.AfterFunc(wait, func() { p.refreshDue(ps) })
	} else {
		ps.timer.Reset(wait)
	}
}

// refreshDue runs on ps's timer: its refresh interval has passed.
func (p *Pipeline) refreshDue(ps *pstate) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !ps.armed {
		return // stopped
	}
	ps.armed = false
	if p.parts[ps.tp] == ps && !p.rebuilding[ps.tp.topic] {
		p.enqueueLocked(ps)
	}
}

// disarmLocked stops ps's timer.
func (ps *pstate) disarmLocked() {
	if ps.armed {
		ps.armed = false
		ps.timer.Stop()
	}
}

// worker indexes queued partitions until Close.
func (p *Pipeline) worker() {
	defer p.wg.Done()
	run := &pipelineRun{p: p}
	for {
		p.mu.Lock()
		for !p.closed && len(p.queue) == 0 {
			p.cond.Wait()
		}
		if p.closed {
			p.mu.Unlock()
			return
		}
		ps := p.queue[0]
		p.queue = p.queue[1:]
		ps.queued = false
		if p.rebuilding[ps.tp.topic] {
			p.mu.Unlock()
			continue // Rebuild schedules the topic again when it is done
		}
		ps.running = true
		ps.disarmLocked()
		target := ps.target
		before := ps.checkpoint
		p.mu.Unlock()

		start := time.Now()
		cp, more, err := run.index(ps.tp, target)

		p.mu.Lock()
		ps.running = false
		ps.checkpoint = max(ps.checkpoint, cp)
		ps.waiting = false
		if !more {
			ps.notBefore = start.Add(p.opts.RefreshInterval)
		}
		if err == nil {
			ps.failures, ps.retryAt = 0, time.Time{}
		}
		switch {
		case errors.Is(err, errNotIndexed):
			ps.disarmLocked()
			delete(p.parts, ps.tp)
		case errors.Is(err, errStaleIndex):
			// The index is ahead of the log: the topic was deleted and
			// created again (or its log lost data). Start it over.
			p.opts.Logger.Warn("search index is ahead of its log; rebuilding", "topic", ps.tp.topic, "partition", ps.tp.partition)
			p.rebuildTopicLocked(ps.tp.topic)
		case errors.Is(err, errTopicRebuild):
			// A rebuild of the topic started; it schedules the partition.
		case errors.Is(err, context.Canceled):
			ps.waiting = true // closing
		case err != nil:
			retry := p.failedLocked(ps, time.Now())
			p.opts.Logger.Error("search indexing failed", "topic", ps.tp.topic, "partition", ps.tp.partition, "err", err, "retry_in", retry)
		case more:
			p.enqueueLocked(ps) // fairness: go to the back of the queue
		case ps.target > ps.checkpoint && ps.checkpoint > before:
			// Appended while this turn ran: the next turn comes after
			// the refresh interval.
			p.scheduleLocked(ps, time.Now())
		case ps.target > ps.checkpoint:
			ps.waiting = true // not yet durable or committed
		}
		p.cond.Broadcast()
		p.mu.Unlock()
	}
}

// poller re-queues partitions waiting for durable or committed data.
func (p *Pipeline) poller() {
	defer p.wg.Done()
	t := time.NewTicker(p.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-t.C:
		}
		p.mu.Lock()
		now := time.Now()
		for _, ps := range p.parts {
			if ps.waiting && !p.rebuilding[ps.tp.topic] && !now.Before(ps.retryAt) {
				ps.waiting = false
				p.scheduleLocked(ps, now)
			}
		}
		p.mu.Unlock()
	}
}

// Outcomes of indexing a partition that are not failures to retry.
var (
	errNotIndexed   = errors.New("index: partition not indexed here") // deleted, disabled or not led
	errStaleIndex   = errors.New("index: index ahead of its log")
	errTopicRebuild = errors.New("index: the topic's index is being rebuilt")
)

// pipelineRun is one worker's reusable state.
type pipelineRun struct {
	p    *Pipeline
	docs []Document
	dec  batchDecoder
}

// maxRunBatches bounds the Index calls of one turn of a partition, so a
// busy partition does not starve the others.
const maxRunBatches = 4

// index indexes one partition from its checkpoint towards target (and
// whatever else is durable). It returns the new checkpoint and whether
// more is readable right away.
func (r *pipelineRun) index(tp topicPart, target int64) (int64, bool, error) {
	p := r.p
	ctx := p.ctx
	t, ok := p.topics.Topic(tp.topic)
	if !ok || !p.enabled(&t) {
		return 0, false, errNotIndexed
	}
	l, err := p.logs.Log(tp.topic, tp.partition)
	if err != nil {
		return 0, false, fmt.Errorf("%w: %v", errNotIndexed, err) // not led here (any more)
	}
	cp, err := p.ix.Checkpoint(tp.topic, tp.partition)
	if err != nil {
		if !corrupt(err) {
			return 0, false, err
		}
		if err := p.rebuildPartition(tp, err); err != nil {
			return 0, false, err
		}
		cp = 0
	}
	if cp > l.NextOffset() {
		return 0, false, errStaleIndex
	}
	if start := l.StartOffset(); cp < start {
		cp = start // retention removed records before they were indexed
	}
	hw := l.HighWatermark()
	if target > hw {
		// Notified before the group commit: wait for it, briefly.
		wctx, cancel := context.WithTimeout(ctx, p.opts.PollInterval)
		_ = l.WaitDurable(wctx, target)
		cancel()
		hw = l.HighWatermark()
	}
	upTo := hw
	if p.txn != nil {
		if lso, err := p.txn.LastStableOffset(tp.topic, tp.partition); err == nil && lso < upTo {
			upTo = lso
		}
	}
	for n := 0; cp < upTo; n++ {
		if n == maxRunBatches {
			return cp, true, nil
		}
		if err := p.yield(ctx); err != nil {
			return cp, false, err
		}
		next, err := r.indexBatch(ctx, l, tp, cp, upTo, t.Config.SearchFields)
		if err != nil {
			return cp, false, err
		}
		if next <= cp {
			break
		}
		cp = next
		p.searchable(tp, cp)
	}
	return cp, false, nil
}

// indexBatch collects one batch from offset from and indexes it, within
// the pipeline's BufferMemory: the batch's bytes are reserved while it is
// collected and released once Index returned and the worker dropped the
// records. It returns the offset after the batch (from when nothing was
// read).
func (r *pipelineRun) indexBatch(ctx context.Context, l *segment.Log, tp topicPart, from, upTo int64, fields []string) (int64, error) {
	charge := batchCharge{b: r.p.mem}
	defer func() {
		r.dropDocs()
		charge.done()
	}()
	next, err := r.collect(ctx, l, tp, from, upTo, &charge)
	if err != nil || next <= from {
		return from, err
	}
	b := &Batch{Topic: tp.topic, Partition: tp.partition, Docs: r.docs, Next: next, Fields: fields}
	start := time.Now()
	if err := r.p.ix.Index(ctx, b); err != nil {
		return from, err
	}
	r.p.indexCalled(len(b.Docs), time.Since(start))
	return next, nil
}

// dropDocs clears the worker's documents, so that the records they alias
// can be collected.
func (r *pipelineRun) dropDocs() {
	clear(r.docs)
	r.docs = r.docs[:0]
}

// collect reads records of l from offset from up to upTo into r.docs,
// within the batch limits and the room charge can reserve, and returns
// the offset after the last batch read. Control batches and aborted
// transactions are skipped.
func (r *pipelineRun) collect(ctx context.Context, l *segment.Log, tp topicPart, from, upTo int64, charge *batchCharge) (int64, error) {
	p := r.p
	r.dropDocs()
	r.dec.limit = p.opts.MaxDecompressedBytes
	var aborted []produce.AbortedTxn
	if p.txn != nil {
		var err error
		if aborted, err = p.txn.AbortedTransactions(tp.topic, tp.partition, from, upTo); err != nil {
			return from, err
		}
	}
	next := from
	bytes := 0
	walked := false // a record batch was decoded
	for next < upTo && len(r.docs) < p.opts.BatchDocs && bytes < p.opts.BatchBytes {
		// Reserve room for the read first (as much as is free, up to a
		// chunk); a batch already holding records ends here when there
		// is none.
		want, err := charge.reserve(ctx, int64(min(readChunk, p.opts.BatchBytes-bytes, p.opts.BufferMemory)))
		if err != nil {
			return from, err
		}
		if want == 0 {
			break
		}
		data, err := l.ReadContext(ctx, next, int(want), upTo)
		if err != nil {
			charge.giveBack(want)
			var oor *segment.OffsetOutOfRangeError
			if errors.As(err, &oor) && oor.Offset < oor.StartOffset {
				next = oor.StartOffset // retention moved the start meanwhile
				continue
			}
			return from, err
		}
		if len(data) == 0 {
			charge.giveBack(want)
			break
		}
		// The read's allocation is want bytes (more when its first batch
		// alone is larger) of which it may return much less (at the end
		// of the durable data): then keep a copy of what it returned,
		// so that the reservation can shrink to it.
		switch got := int64(len(data)); {
		case got > want:
			charge.add(got - want)
		case want-got > got/8:
			data = slices.Clone(data)
			charge.giveBack(want - got)
		}
		for len(data) >= record.HeaderSize {
			h := record.ReadHeader(data)
			if h.Size() > len(data) || h.Size() < record.HeaderSize {
				return from, fmt.Errorf("index: %s-%d: truncated batch at offset %d", tp.topic, tp.partition, h.BaseOffset)
			}
			b := data[:h.Size()]
			data = data[h.Size():]
			if h.LastOffset() < next {
				continue
			}
			if !h.Control() && !abortedBatch(&h, aborted) && h.Magic == 2 {
				// The records of an uncompressed batch are in the read,
				// already charged; a compressed one is decoded into new
				// memory, so a batch already holding records ends before
				// it once the budget is used up.
				zipped := h.Codec() != compress.None
				if zipped && walked && !charge.b.belowLimit() {
					return h.BaseOffset, nil
				}
				walked = true
				held := int64(0)
				err := r.dec.walk(b, &h, func(d *Document) bool {
					if d.Offset >= next {
						dd := *d
						dd.Headers = slices.Clone(d.Headers)
						r.docs = append(r.docs, dd)
						size := len(d.Key) + len(d.Value)
						bytes += size
						held += recordOverhead
						for _, hd := range d.Headers {
							held += int64(len(hd.Key) + len(hd.Value))
						}
						if zipped {
							held += int64(size) // decoded apart from the read
						}
					}
					return true
				})
				if err != nil {
					// A batch that cannot be decoded cannot be indexed;
					// skipping it keeps the rest of the partition
					// searchable.
					p.opts.Logger.Error("search indexing skipped an undecodable batch",
						"topic", tp.topic, "partition", tp.partition, "offset", h.BaseOffset, "err", err)
				}
				charge.add(held)
			}
			next = h.LastOffset() + 1
			if len(r.docs) >= p.opts.BatchDocs || bytes >= p.opts.BatchBytes {
				break
			}
		}
	}
	return next, nil
}

// searchable reports lag for the notices now covered by the checkpoint.
func (p *Pipeline) searchable(tp topicPart, cp int64) {
	now := time.Now()
	p.mu.Lock()
	ps := p.parts[tp]
	var done []notice
	if ps != nil {
		i := 0
		for i < len(ps.notices) && ps.notices[i].end <= cp {
			i++
		}
		done = append(done, ps.notices[:i]...)
		ps.notices = append(ps.notices[:0], ps.notices[i:]...)
		ps.checkpoint = max(ps.checkpoint, cp)
		if cp > ps.target {
			ps.target = cp
		}
	}
	p.mu.Unlock()
	if p.opts.OnLag != nil {
		for _, n := range done {
			p.opts.OnLag(tp.topic, tp.partition, now.Sub(n.at))
		}
	}
}

// PartitionLag is how far a partition's index is behind its log.
type PartitionLag struct {
	Records int64         // records appended (or notified) but not yet indexed
	Time    time.Duration // age of the oldest append not yet searchable (0 when caught up)
}

// Lag returns the current indexing lag of each known partition of topic.
func (p *Pipeline) Lag(topic string) map[int32]PartitionLag {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[int32]PartitionLag)
	for tp, ps := range p.parts {
		if tp.topic != topic {
			continue
		}
		l := PartitionLag{Records: max(ps.target-ps.checkpoint, 0)}
		if len(ps.notices) > 0 {
			l.Time = now.Sub(ps.notices[0].at)
		}
		out[tp.partition] = l
	}
	return out
}

// Rebuild deletes the topic's index and indexes the topic again from the
// start of its logs. It waits for the workers indexing the topic to
// finish their current batch, and returns once the old index is deleted
// and the topic is scheduled (indexing continues in the background).
func (p *Pipeline) Rebuild(ctx context.Context, topic string) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return fmt.Errorf("index: pipeline: %w", ErrClosed)
	}
	if p.rebuilding[topic] {
		p.mu.Unlock()
		return fmt.Errorf("index: topic %s is already being rebuilt", topic)
	}
	p.rebuilding[topic] = true
	p.mu.Unlock()
	return p.rebuild(ctx, topic)
}

// rebuildTopicLocked starts a rebuild of topic on a goroutine of the
// pipeline, unless one is under way.
func (p *Pipeline) rebuildTopicLocked(topic string) {
	if p.closed || p.rebuilding[topic] {
		return
	}
	p.rebuilding[topic] = true
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		if err := p.rebuild(p.ctx, topic); err != nil && !errors.Is(err, ErrClosed) && !errors.Is(err, context.Canceled) {
			p.opts.Logger.Error("search index rebuild failed", "topic", topic, "err", err)
		}
	}()
}

// rebuildPartition deletes the index of a partition that cannot be loaded
// (cause), so that the partition is indexed again from the start of its
// log: the index is derived data, and the log holds every record. The
// caller runs the partition, so no Index call for it runs meanwhile.
// Searches meanwhile behave as during Rebuild: they skip the partition
// while it is deleted, then find what is indexed again. An Indexer that
// cannot delete one partition gets its topic rebuilt (errTopicRebuild).
func (p *Pipeline) rebuildPartition(tp topicPart, cause error) error {
	d, ok := p.ix.(PartitionDeleter)
	if !ok {
		p.opts.Logger.Warn("search index of a partition cannot be loaded; rebuilding the topic's index from the log",
			"topic", tp.topic, "partition", tp.partition, "reason", cause)
		p.mu.Lock()
		p.rebuildTopicLocked(tp.topic)
		p.mu.Unlock()
		return errTopicRebuild
	}
	p.opts.Logger.Warn("search index of a partition cannot be loaded; deleting it and indexing the partition again from its log",
		"topic", tp.topic, "partition", tp.partition, "reason", cause)
	if err := d.DeletePartition(p.ctx, tp.topic, tp.partition); err != nil {
		return fmt.Errorf("index: deleting the index of %s-%d, which cannot be loaded: %w", tp.topic, tp.partition, err)
	}
	p.mu.Lock()
	if ps := p.parts[tp]; ps != nil {
		ps.checkpoint = 0
	}
	p.mu.Unlock()
	return nil
}

// rebuild runs a rebuild of topic, already marked in p.rebuilding.
func (p *Pipeline) rebuild(ctx context.Context, topic string) error {
	p.mu.Lock()
	for p.topicRunningLocked(topic) && !p.closed {
		p.cond.Wait()
	}
	for tp, ps := range p.parts {
		if tp.topic == topic {
			ps.checkpoint = 0
			ps.waiting = false
			ps.failures, ps.retryAt = 0, time.Time{}
		}
	}
	started := p.started
	p.mu.Unlock()
	err := p.ix.DeleteTopic(ctx, topic)
	p.mu.Lock()
	delete(p.rebuilding, topic)
	p.mu.Unlock()
	if err != nil {
		return err
	}
	if t, ok := p.topics.Topic(topic); ok && started && p.enabled(&t) {
		p.scheduleTopic(&t)
	}
	return nil
}

func (p *Pipeline) topicRunningLocked(topic string) bool {
	for tp, ps := range p.parts {
		if tp.topic == topic && ps.running {
			return true
		}
	}
	return false
}

// WaitIndexed blocks until every record of the partition below offset is
// searchable (or was skipped as not indexable), or ctx is done.
func (p *Pipeline) WaitIndexed(ctx context.Context, topic string, partition int32, offset int64) error {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		cp, err := p.ix.Checkpoint(topic, partition)
		if err != nil {
			return err
		}
		if cp >= offset {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Partitions lists the partitions the pipeline knows of a topic, sorted.
func (p *Pipeline) Partitions(topic string) []int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []int32
	for tp := range p.parts {
		if tp.topic == topic {
			out = append(out, tp.partition)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Close stops the workers (each finishes or abandons its current batch:
// what it indexed stays, the rest is indexed after a restart) and waits
// for them. It does not close the Indexer.
func (p *Pipeline) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.cancel()
	for _, ps := range p.parts {
		ps.disarmLocked()
	}
	p.cond.Broadcast()
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}
