// Package produce is chronik's Kafka produce path: Handler turns a decoded
// Produce request into validated, offset-assigned, durable records and the
// Kafka response, exactly as an Apache Kafka broker answers it.
//
// A host reads requests from its own connections (see Conn for an ordered
// per-connection pipeline), decodes them with package wire and calls
// HandleProduce. The order of checks and the error code of every failure
// follow docs/kafka-semantics.md (sections 1, 2 and 7); docs/architecture.md
// traces one request through the code.
package produce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/internal/membudget"
	"github.com/chronik-go/chronik/internal/vfs"
	"github.com/chronik-go/chronik/metadata"
	"github.com/chronik-go/chronik/record"
	"github.com/chronik-go/chronik/segment"
	"github.com/chronik-go/chronik/wire"
)

// MetadataStore is what the handler reads topics through: the topic's
// partitions, their leaders and the topic configuration. Topic is called for
// every partition of every request, so it must answer from memory.
// metadata.Memory and metadata.Bolt implement it.
type MetadataStore interface {
	// Topic returns the topic and true, or false when it does not exist.
	Topic(name string) (metadata.Topic, bool)
}

// Replicator makes acks=all wait for replicas. Without one, this node is
// the only in-sync replica and acks=all waits for the local fsync only.
type Replicator interface {
	// InSyncReplicas returns the current in-sync replica count of a
	// partition, this node included.
	InSyncReplicas(topic string, partition int32) int
	// WaitReplicated blocks until every in-sync replica holds the
	// partition's records below offset, or ctx is done (ctx.Err()).
	WaitReplicated(ctx context.Context, topic string, partition int32, offset int64) error
}

// Option configures optional parts of a Handler.
type Option func(*Handler)

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(h *Handler) { h.logger = l } }

// WithClock sets the clock used for timestamps and timeouts (tests).
func WithClock(now func() time.Time) Option { return func(h *Handler) { h.now = now } }

// WithReplicator makes acks=all also wait for replicas.
func WithReplicator(r Replicator) Option { return func(h *Handler) { h.replicator = r } }

// WithArchiver gives each partition log a remote tier for sealed segments;
// newArchiver is called once per partition when its log is opened.
func WithArchiver(newArchiver func(topic string, partition int32) (segment.Archiver, error)) Option {
	return func(h *Handler) { h.newArchiver = newArchiver }
}

// TxnVerifier tells whether a partition was added to a producer's ongoing
// transaction: the transaction coordinator's side of Kafka's partition
// verification (KIP-890, kafka-semantics.md §4.8). txn.Coordinator
// implements it.
type TxnVerifier interface {
	// Verify returns NONE when the partition is in the ongoing
	// transaction of transactionalID with this producer id and epoch,
	// else the code to answer the produce request with
	// (INVALID_PRODUCER_EPOCH, INVALID_TXN_STATE, ...; the handler serves
	// Produce up to v9, before TRANSACTION_ABORTABLE).
	Verify(transactionalID string, producerID int64, epoch int16, topic string, partition int32) errcode.Code
}

// WithTxnVerifier makes the handler refuse a transactional batch that
// would open a transaction on a partition its coordinator does not know
// to be in that transaction. Without one, such batches are accepted, as by
// a broker with transaction.partition.verification.enable=false.
func WithTxnVerifier(v TxnVerifier) Option { return func(h *Handler) { h.verifier = v } }

// WithFileSystem replaces the file system under the partition logs and
// producer-state snapshots (default: the operating system's). The module's
// fault-injection tests use it.
func WithFileSystem(fs vfs.FS) Option { return func(h *Handler) { h.fs = fs } }

// WithIndexer sends every durable record of search-enabled topics to ix.
func WithIndexer(ix Indexer) Option { return func(h *Handler) { h.indexer = ix } }

// Indexer is told of every append to a search-enabled topic. It is the
// hook the search pipeline (package index) plugs into. Notify is called
// right after the append, before the data is durable: the indexer reads the
// log itself, only up to the high watermark, so it never indexes data that
// could still be lost. Notify must not block: a slow indexer notes the
// partition and catches up from the log.
type Indexer interface {
	// Notify tells the indexer that the partition's log now holds data
	// up to (excluding) end; it becomes readable once durable.
	Notify(topic string, partition int32, end int64)
}

// RequestInfo is what HandleProduce needs from the request header.
type RequestInfo struct {
	ClientID string // Kafka client.id; "__admin_client" may write internal topics
}

// Handler is the produce path. It owns the partition logs under
// Config.DataDir. It is safe for concurrent use by many connections.
type Handler struct {
	cfg         Config
	meta        MetadataStore
	logger      *slog.Logger
	now         func() time.Time
	replicator  Replicator
	newArchiver func(string, int32) (segment.Archiver, error)
	indexer     Indexer
	verifier    TxnVerifier
	fs          vfs.FS
	mem         *membudget.Budget // BufferMemory: requests in flight, FIFO waiters
	metrics     *Metrics

	mu         sync.RWMutex // guards partitions, opening and closed
	partitions map[topicPartition]*partition
	opening    map[topicPartition]chan struct{} // logs being opened (recovered), outside mu; closed when done
	closed     bool
}

type topicPartition struct {
	topic     string
	partition int32
}

// ErrClosed is returned by HandleProduce after Close.
var ErrClosed = errors.New("produce: handler closed")

// New returns a Handler. cfg is validated; meta is required.
func New(cfg Config, meta MetadataStore, opts ...Option) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if meta == nil {
		return nil, errors.New("produce: a MetadataStore is required")
	}
	h := &Handler{
		cfg:        cfg,
		meta:       meta,
		logger:     slog.Default(),
		now:        time.Now,
		fs:         vfs.OS,
		mem:        membudget.New(cfg.BufferMemory),
		partitions: make(map[topicPartition]*partition),
		opening:    make(map[topicPartition]chan struct{}),
	}
	for _, o := range opts {
		o(h)
	}
	if cfg.EnableIndexing && h.indexer == nil {
		return nil, errors.New("produce: EnableIndexing needs an Indexer (WithIndexer)")
	}
	if err := h.fs.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("produce: data dir: %w", err)
	}
	h.metrics = newMetrics(func() float64 { return float64(h.mem.InUse()) })
	return h, nil
}

// Metrics returns the handler's metrics.
func (h *Handler) Metrics() *Metrics { return h.metrics }

// Config returns the handler's configuration.
func (h *Handler) Config() Config { return h.cfg }

// BufferMemoryInUse returns the bytes currently reserved by requests in flight.
func (h *Handler) BufferMemoryInUse() int64 { return h.mem.InUse() }

// BufferMemoryPeak returns the most bytes requests ever held at once. It
// exceeds Config.BufferMemory only by the frames ServeConn went on reading
// past the limit (see ConnConfig.Memory).
func (h *Handler) BufferMemoryPeak() int64 { return h.mem.Peak() }

// Close flushes and closes every partition log. Requests still running get
// errors; HandleProduce after Close returns ErrClosed.
func (h *Handler) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	parts := h.partitions
	h.partitions = nil
	var opening []chan struct{}
	for _, ch := range h.opening {
		opening = append(opening, ch)
	}
	h.mu.Unlock()
	// A log still being opened is closed by its opener, which sees
	// closed; wait for that, so that nothing outlives Close.
	for _, ch := range opening {
		<-ch
	}
	var errs []error
	for _, p := range parts {
		if err := p.close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Log returns the log of a partition this node leads, opening it if needed:
// what a host's Fetch and ListOffsets read. It fails with an *errcode.Error
// (UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER, KAFKA_STORAGE_ERROR).
func (h *Handler) Log(topic string, partition int32) (*segment.Log, error) {
	p, err := h.leaderPartition(topic, partition)
	if err != nil {
		return nil, err
	}
	return p.log, nil
}

// partition returns the open partition, opening its log on first use.
// The open (the log's recovery, the producer state's replay) runs outside
// Handler.mu, so that requests for other partitions go on meanwhile; a
// request for the same partition waits for it, and opens the log itself
// if that open failed.
func (h *Handler) partition(t *metadata.Topic, index int32) (*partition, error) {
	key := topicPartition{t.Name, index}
	for {
		h.mu.RLock()
		p, closed := h.partitions[key], h.closed
		h.mu.RUnlock()
		switch {
		case closed:
			return nil, ErrClosed
		case p != nil:
			return p, nil
		}
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			return nil, ErrClosed
		}
		if p := h.partitions[key]; p != nil {
			h.mu.Unlock()
			return p, nil
		}
		if ch := h.opening[key]; ch != nil {
			h.mu.Unlock()
			<-ch
			continue
		}
		ch := make(chan struct{})
		h.opening[key] = ch
		h.mu.Unlock()
		return h.openAndPublish(key, t, ch)
	}
}

// openAndPublish opens a partition and publishes it in h.partitions, or
// closes it again when the handler closed meanwhile; then, panic or not,
// it ends the open: removes it from h.opening and closes ch.
func (h *Handler) openAndPublish(key topicPartition, t *metadata.Topic, ch chan struct{}) (p *partition, err error) {
	defer func() {
		h.mu.Lock()
		delete(h.opening, key)
		closed := h.closed
		if p != nil && !closed {
			h.partitions[key] = p
		}
		h.mu.Unlock()
		if p != nil && closed {
			p.close()
			p, err = nil, ErrClosed
		}
		close(ch)
	}()
	return h.openPartition(t, key.partition)
}

// openPartition opens a partition's log and loads its producer state.
func (h *Handler) openPartition(t *metadata.Topic, index int32) (*partition, error) {
	dir := filepath.Join(h.cfg.DataDir, t.Name+"-"+strconv.Itoa(int(index)))
	opts := segment.Options{
		FS:            h.fs,
		SegmentBytes:  t.Config.SegmentBytes,
		SegmentAge:    time.Duration(t.Config.SegmentMs) * time.Millisecond,
		FlushBytes:    h.cfg.BatchSize,
		FlushInterval: h.cfg.Linger,
		Logger:        h.logger.With("topic", t.Name, "partition", index),
		Now:           h.now,
	}
	opts.RetentionBytes = t.Config.RetentionBytes
	if t.Config.RetentionMs > 0 {
		opts.RetentionAge = time.Duration(t.Config.RetentionMs) * time.Millisecond
	}
	// local.retention.*: -2 keeps the segment default (as retention.*),
	// -1 is no limit; Kafka's 0 (delete once archived) is the smallest
	// positive limit here, since 0 means "as retention" to segment.Options.
	switch ms := t.Config.LocalRetentionMs; {
	case ms == -1:
		opts.LocalRetentionAge = -1
	case ms == 0:
		opts.LocalRetentionAge = time.Nanosecond
	case ms > 0:
		opts.LocalRetentionAge = time.Duration(ms) * time.Millisecond
	}
	switch n := t.Config.LocalRetentionBytes; {
	case n == -1:
		opts.LocalRetentionBytes = -1
	case n >= 0:
		opts.LocalRetentionBytes = max(n, 1)
	}
	if h.newArchiver != nil {
		a, err := h.newArchiver(t.Name, index)
		if err != nil {
			return nil, &errcode.Error{Code: errcode.KafkaStorageError, Msg: err.Error()}
		}
		opts.Archiver = a
	}
	p := &partition{topic: t.Name, index: index, label: t.Name + "-" + strconv.Itoa(int(index)), dir: dir, fs: h.fs, lastExpiry: h.now()}
	opts.OnEvent = func(e segment.Event) {
		switch e.(type) {
		case segment.SegmentCreated:
			h.metrics.SegmentCreated()
		case segment.SegmentRolled:
			p.rolled.Store(true)
		}
	}
	l, err := segment.Open(dir, opts)
	if err != nil {
		h.logger.Error("open partition log", "topic", t.Name, "partition", index, "err", err)
		return nil, &errcode.Error{Code: errcode.KafkaStorageError, Msg: err.Error()}
	}
	p.log = l
	if h.cfg.EnableIdempotence {
		if err := p.loadProducerState(); err != nil {
			l.Close()
			h.logger.Error("load producer state", "topic", t.Name, "partition", index, "err", err)
			return nil, &errcode.Error{Code: errcode.KafkaStorageError, Msg: err.Error()}
		}
	}
	return p, nil
}

// HandleProduce answers one Produce request. The response has the request's
// version and one result per requested partition, in request order. For
// acks=0 Kafka sends no response: the host must not send it, and must close
// the connection when Failed(resp), since the client cannot learn of the
// failure otherwise (Conn does both). A Go error is returned only when no
// valid response can be built (the handler is closed).
//
// HandleProduce may rewrite the record bytes of req in place (base offset,
// leader epoch, timestamps), as a broker does before storing them; the
// caller must not reuse them.
func (h *Handler) HandleProduce(ctx context.Context, info RequestInfo, req *wire.ProduceRequest) (*wire.ProduceResponse, error) {
	pd, err := h.Begin(ctx, info, req)
	if err != nil {
		return nil, err
	}
	return pd.Wait(ctx), nil
}

// Failed reports whether any partition of resp has an error code: with
// acks=0 a host closes the connection then, as Kafka does, since the client
// gets no response to learn it from.
func Failed(resp *wire.ProduceResponse) bool {
	if resp == nil {
		return false
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode != errcode.None {
				return true
			}
		}
	}
	return false
}

// WriteMarker appends a transaction marker, COMMIT or ABORT, for a
// producer to a partition this node leads, through the same append path as
// data, and returns once it is durable. It is what the transaction
// coordinator calls for every partition of a transaction (Kafka's
// WriteTxnMarkers): an older producer epoch fails with
// INVALID_PRODUCER_EPOCH, an older coordinator epoch with
// TRANSACTION_COORDINATOR_FENCED (*errcode.Error).
func (h *Handler) WriteMarker(ctx context.Context, topic string, partition int32, producerID int64, epoch int16, coordinatorEpoch int32, commit bool) error {
	t, ok := h.meta.Topic(topic)
	if !ok || partition < 0 || int(partition) >= len(t.Partitions) {
		return &errcode.Error{Code: errcode.UnknownTopicOrPartition}
	}
	if t.Partitions[partition].Leader != h.cfg.NodeID {
		return &errcode.Error{Code: errcode.NotLeaderOrFollower}
	}
	p, err := h.partition(&t, partition)
	if err != nil {
		return err
	}
	ts := h.now().UnixMilli()
	b := record.AppendControlBatch(nil, producerID, epoch, commit, coordinatorEpoch, ts)
	record.SetPartitionLeaderEpoch(b, t.Partitions[partition].LeaderEpoch)
	off, err := p.writeMarker(b, producerID, epoch, coordinatorEpoch, commit, ts)
	if err != nil {
		return err
	}
	if err := p.log.WaitDurable(ctx, off+1); err != nil {
		if ctx.Err() != nil {
			return &errcode.Error{Code: errcode.RequestTimedOut, Msg: err.Error()}
		}
		return &errcode.Error{Code: errcode.KafkaStorageError, Msg: err.Error()}
	}
	return nil
}

// LastStableOffset returns a partition's last stable offset: the end of
// what read_committed consumers may read (kafka-semantics.md §4.10).
func (h *Handler) LastStableOffset(topic string, partition int32) (int64, error) {
	p, err := h.leaderPartition(topic, partition)
	if err != nil {
		return -1, err
	}
	return p.lastStableOffset(), nil
}

// AbortedTransactions returns the aborted transactions a read_committed
// fetch of [from, to) of a partition must list, so that consumers drop
// their records.
func (h *Handler) AbortedTransactions(topic string, partition int32, from, to int64) ([]AbortedTxn, error) {
	p, err := h.leaderPartition(topic, partition)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.aborted == nil {
		return nil, nil
	}
	return p.aborted.overlapping(from, to), nil
}

func (h *Handler) leaderPartition(topic string, partition int32) (*partition, error) {
	t, ok := h.meta.Topic(topic)
	if !ok || partition < 0 || int(partition) >= len(t.Partitions) {
		return nil, &errcode.Error{Code: errcode.UnknownTopicOrPartition}
	}
	if t.Partitions[partition].Leader != h.cfg.NodeID {
		return nil, &errcode.Error{Code: errcode.NotLeaderOrFollower}
	}
	return h.partition(&t, partition)
}
