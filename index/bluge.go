package index

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/blugelabs/bluge"
	blugeindex "github.com/blugelabs/bluge/index"
	"github.com/blugelabs/bluge/index/mergeplan"
	"github.com/blugelabs/bluge/search"
	"github.com/blugelabs/bluge/search/similarity"
	segment "github.com/blugelabs/bluge_segment_api"
	"github.com/blugelabs/ice"
)

// BlugeOptions configures a Bluge index. The zero value means the
// defaults; Validate reports out-of-range values.
type BlugeOptions struct {
	// PersistDelay is how long the persister waits to gather freshly
	// indexed segments (searchable at once, in memory) into one durable
	// segment file. Longer means fewer, larger files and less merging;
	// data not yet persisted is re-indexed from the log after a crash.
	// Default 1 s; at most 1 minute.
	PersistDelay time.Duration

	// AnalysisWorkers is the number of goroutines, shared by all
	// partitions, that map and analyse records. Default GOMAXPROCS.
	AnalysisWorkers int

	// SegmentsPerTier is how many segments of similar size the merger
	// lets accumulate before merging them (bluge's MaxSegmentsPerTier).
	// Default 10.
	SegmentsPerTier int

	// SegmentsPerMerge is how many segments one merge combines (bluge's
	// SegmentsPerMergeTask), at most SegmentsPerTier. A merge reads its
	// inputs through their memory maps (resident while it runs) and
	// builds each merged field's term dictionary in memory, so its memory
	// grows with the inputs' size; merging fewer at a time bounds it at
	// the cost of rewriting documents a few more times. Default 4.
	SegmentsPerMerge int

	// MergeConcurrency is how many segment merges run at once across all
	// partitions. A merge holds each merged field's whole term
	// dictionary in memory while it writes it (ice builds it in a
	// buffer), which for text with many distinct words is about the size
	// of the text, so merges of several partitions at once would add up.
	// Default 1.
	MergeConcurrency int

	// MaxUnpersistedBytes bounds the bytes of fresh segments, across all
	// partitions, that are searchable in memory but not yet persisted
	// (the persister writes them every PersistDelay): an Index call
	// waits while they exceed it. Default 64 MiB, which lets indexing
	// produce up to that many segment bytes per PersistDelay.
	MaxUnpersistedBytes int

	// Logger receives asynchronous persistence errors. Default
	// slog.Default().
	Logger *slog.Logger
}

func (o *BlugeOptions) withDefaults() BlugeOptions {
	c := *o
	if c.PersistDelay == 0 {
		c.PersistDelay = time.Second
	}
	if c.AnalysisWorkers == 0 {
		c.AnalysisWorkers = runtime.GOMAXPROCS(0)
	}
	if c.SegmentsPerTier == 0 {
		c.SegmentsPerTier = 10
	}
	if c.SegmentsPerMerge == 0 {
		c.SegmentsPerMerge = min(4, c.SegmentsPerTier)
	}
	if c.MergeConcurrency == 0 {
		c.MergeConcurrency = 1
	}
	if c.MaxUnpersistedBytes == 0 {
		c.MaxUnpersistedBytes = 64 << 20
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports the first option out of range.
func (o *BlugeOptions) Validate() error {
	var errs []error
	if o.PersistDelay < 0 || o.PersistDelay > time.Minute {
		errs = append(errs, fmt.Errorf("PersistDelay %v must be between 0 and 1m", o.PersistDelay))
	}
	if o.AnalysisWorkers < 0 || o.AnalysisWorkers > 1024 {
		errs = append(errs, fmt.Errorf("AnalysisWorkers %d must be between 0 and 1024", o.AnalysisWorkers))
	}
	if o.SegmentsPerTier < 0 || (o.SegmentsPerTier > 0 && o.SegmentsPerTier < 2) || o.SegmentsPerTier > 100 {
		errs = append(errs, fmt.Errorf("SegmentsPerTier %d must be between 2 and 100", o.SegmentsPerTier))
	}
	if o.SegmentsPerMerge < 0 || o.SegmentsPerMerge == 1 || o.SegmentsPerMerge > 100 || (o.SegmentsPerMerge > 0 && o.SegmentsPerTier > 0 && o.SegmentsPerMerge > o.SegmentsPerTier) {
		errs = append(errs, fmt.Errorf("SegmentsPerMerge %d must be between 2 and SegmentsPerTier", o.SegmentsPerMerge))
	}
	if o.MergeConcurrency < 0 || o.MergeConcurrency > 1024 {
		errs = append(errs, fmt.Errorf("MergeConcurrency %d must be between 0 and 1024", o.MergeConcurrency))
	}
	if o.MaxUnpersistedBytes < 0 || (o.MaxUnpersistedBytes > 0 && o.MaxUnpersistedBytes < 64<<10) {
		errs = append(errs, fmt.Errorf("MaxUnpersistedBytes %d must be at least 64 KiB", o.MaxUnpersistedBytes))
	}
	if len(errs) > 0 {
		return fmt.Errorf("index: invalid bluge options: %w", errors.Join(errs...))
	}
	return nil
}

// StorageError is a failed index file operation.
type StorageError struct {
	Op   string // "open", "index", "persist", "delete", ...
	Path string // the partition index directory
	Err  error
}

func (e *StorageError) Error() string { return fmt.Sprintf("index: %s %s: %v", e.Op, e.Path, e.Err) }

// Unwrap returns the cause.
func (e *StorageError) Unwrap() error { return e.Err }

// Bluge is the durable Indexer: one bluge index per topic-partition under
// a root directory (layout in docs/format.md), each holding the
// partition's documents and its checkpoint document. Indexed documents
// are searchable as soon as Index returns; a persister goroutine per
// partition writes them to disk within PersistDelay, always as a
// consistent snapshot of documents plus checkpoint.
//
// Goroutines: AnalysisWorkers analysis workers (owned by Bluge), and per
// open partition bluge's introducer, persister and merger (owned by the
// partition's writer). All end in Close.
type Bluge struct {
	root        string
	opts        BlugeOptions
	work        chan func()   // analysis tasks from every partition writer
	merges      chan struct{} // one token per merge running (MergeConcurrency)
	unpersisted *byteBudget   // bytes of segments not yet persisted (MaxUnpersistedBytes)
	closing     chan struct{} // closed when Close starts: Index stops waiting
	stop        chan struct{}
	wg          sync.WaitGroup

	mu            sync.Mutex // guards parts, deleting, deletingParts and closed; never held while a writer works
	parts         map[topicPart]*bpart
	deleting      map[string]bool    // topics whose directories are being removed
	deletingParts map[topicPart]bool // partitions whose directories are being removed
	closed        bool
}

type topicPart struct {
	topic     string
	partition int32
}

// bpart is one open partition index.
type bpart struct {
	id  int32
	dir string

	indexMu sync.Mutex // serialises Index batches of the partition

	stateMu sync.RWMutex // guards w and closed (readers take snapshots under RLock)
	w       *blugeindex.Writer
	closed  bool

	checkpoint atomic.Int64
	asyncErr   atomic.Pointer[error] // last persister error

	chargesMu sync.Mutex // guards charges
	// charges are the batches of the partition not yet persisted, each
	// holding its segment's bytes in Bluge.unpersisted until its
	// persisted callback (or the partition's close) releases them.
	charges map[*persistCharge]struct{}
}

// persistCharge is one batch's segment bytes in Bluge.unpersisted, from
// its Index call until the segment is persisted.
type persistCharge struct {
	b    *byteBudget
	mu   sync.Mutex
	n    int64
	done bool
}

// set charges n bytes in all (more or less than before), unless released.
func (c *persistCharge) set(n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		return
	}
	if n > c.n {
		c.b.force(n - c.n)
	} else {
		c.b.release(c.n - n)
	}
	c.n = n
}

// release returns the bytes for good.
func (c *persistCharge) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.done {
		c.done = true
		c.b.release(c.n)
		c.n = 0
	}
}

// track adds c to the partition's unpersisted batches; untrack releases
// and removes it.
func (p *bpart) track(c *persistCharge) {
	p.chargesMu.Lock()
	p.charges[c] = struct{}{}
	p.chargesMu.Unlock()
}

func (p *bpart) untrack(c *persistCharge) {
	c.release()
	p.chargesMu.Lock()
	delete(p.charges, c)
	p.chargesMu.Unlock()
}

// releaseCharges releases what the partition's unpersisted batches hold:
// once its writer is closed their callbacks never run.
func (p *bpart) releaseCharges() {
	p.chargesMu.Lock()
	defer p.chargesMu.Unlock()
	for c := range p.charges {
		c.release()
	}
	clear(p.charges)
}

var (
	_ Indexer          = (*Bluge)(nil)
	_ PartitionDeleter = (*Bluge)(nil)
)

// OpenBluge opens (creating if needed) the index rooted at dir.
func OpenBluge(dir string, opts BlugeOptions) (*Bluge, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	topics := filepath.Join(dir, "topics")
	if err := os.MkdirAll(topics, 0o755); err != nil {
		return nil, &StorageError{"open", dir, err}
	}
	if err := removeDeleted(topics); err != nil {
		return nil, &StorageError{"open", dir, err}
	}
	x := &Bluge{root: dir, opts: o, work: make(chan func()), merges: make(chan struct{}, o.MergeConcurrency),
		unpersisted: newByteBudget(int64(o.MaxUnpersistedBytes)), closing: make(chan struct{}),
		stop: make(chan struct{}), parts: make(map[topicPart]*bpart), deleting: make(map[string]bool),
		deletingParts: make(map[topicPart]bool)}
	for range o.AnalysisWorkers {
		x.wg.Add(1)
		go x.analysisWorker()
	}
	return x, nil
}

func (x *Bluge) analysisWorker() {
	defer x.wg.Done()
	for {
		select {
		case <-x.stop:
			return
		case f := <-x.work:
			f()
		}
	}
}

// deletedSuffix marks a topic directory being removed:
// "<topic>~<UnixNano in base 36>~deleted". '~' is not legal in a Kafka topic
// name, so no topic's directory can look like one.
const deletedSuffix = "~deleted"

// isDeleted reports whether name is a topic directory being removed,
// including the form of earlier versions, "<topic>.<UnixNano in base
// 36>.deleted", recognised only with a plausible time in the middle so
// that a topic named like "logs.deleted" keeps its index.
func isDeleted(name string) bool {
	if strings.HasSuffix(name, deletedSuffix) {
		return true
	}
	rest, ok := strings.CutSuffix(name, ".deleted")
	i := strings.LastIndexByte(rest, '.')
	if !ok || i < 1 {
		return false
	}
	n, err := strconv.ParseInt(rest[i+1:], 36, 64)
	return err == nil && n >= legacyDeletedFrom && n <= time.Now().Add(365*24*time.Hour).UnixNano()
}

// legacyDeletedFrom is the earliest time (2025-01-01) a directory of the
// earlier deleted form can carry.
var legacyDeletedFrom = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()

// removeDeleted removes the topic directories, and the partition
// directories inside topic directories, that a crash left half-deleted.
func removeDeleted(topics string) error {
	ents, err := os.ReadDir(topics)
	if err != nil {
		return err
	}
	for _, e := range ents {
		dir := filepath.Join(topics, e.Name())
		if isDeleted(e.Name()) {
			if err := os.RemoveAll(dir); err != nil {
				return err
			}
			continue
		}
		if !e.IsDir() || !validTopicName(e.Name()) {
			continue
		}
		parts, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, p := range parts {
			if strings.HasSuffix(p.Name(), deletedSuffix) {
				if err := os.RemoveAll(filepath.Join(dir, p.Name())); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// validTopicName accepts Kafka's legal topic names, which are also safe
// directory names.
func validTopicName(t string) bool {
	if t == "" || len(t) > 249 || t == "." || t == ".." {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func (x *Bluge) topicDir(topic string) string { return filepath.Join(x.root, "topics", topic) }

func (x *Bluge) partDir(topic string, p int32) string {
	return filepath.Join(x.topicDir(topic), strconv.Itoa(int(p)))
}

// partition returns the open partition index, opening it when its
// directory exists or create is set; nil when it does not exist.
func (x *Bluge) partition(topic string, id int32, create bool) (*bpart, error) {
	key := topicPart{topic, id}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return nil, fmt.Errorf("index: bluge: %w", ErrClosed)
	}
	if p := x.parts[key]; p != nil {
		return p, nil
	}
	if x.deleting[topic] || x.deletingParts[key] {
		// Never reopen a directory DeleteTopic or DeletePartition is
		// removing.
		if create {
			return nil, &BatchError{Topic: topic, Partition: id, Offset: -1, Reason: "the index is being deleted"}
		}
		return nil, nil
	}
	if !validTopicName(topic) {
		if create {
			return nil, &BatchError{Topic: topic, Partition: id, Offset: -1, Reason: "not a valid topic name"}
		}
		return nil, nil
	}
	dir := x.partDir(topic, id)
	if !create {
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
	}
	p, err := x.openPart(dir, id)
	if err != nil {
		return nil, err
	}
	x.parts[key] = p
	return p, nil
}

// mergeFloorDocs is the segment size, in documents, below which the merge
// planner treats segments as equal (bluge's FloorSegmentSize, 2000 by
// default). With 2000, every segment of a batch of large records (a 2 MiB
// batch of 16 KiB records holds 128) counts as tiny, and the planner
// merges each new one with all the others until they reach 2000
// documents: tens of MiB rewritten per batch, and read whole by each
// merge. Fresh segments of a few dozen documents (a trickle) are still
// merged eagerly.
const mergeFloorDocs = 100

// allDocsField is the virtual field match_all reads (as bluge sets it up).
var allDocsField = func() *bluge.TermField {
	f := bluge.NewKeywordField("", "")
	f.Analyze(0)
	return f
}()

var bm25 = similarity.NewBM25Similarity()

// normFor is the BM25 length norm of a field: constant for exact-term
// fields (keywords, booleans, keys), as Elasticsearch's keyword fields have
// no norms, so that a keyword term scores the same in every document.
func normFor(field string, length int) float32 {
	if constantNormField(field) {
		return bm25.ComputeNorm(1)
	}
	return bm25.ComputeNorm(length)
}

func (x *Bluge) openPart(dir string, id int32) (*bpart, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, &StorageError{"open", dir, err}
	}
	// MkdirAll may have created the topic's directory as well: make both
	// new names durable (the partition's in the topic's, the topic's in
	// topics/).
	topicDir := filepath.Dir(dir)
	for _, d := range []string{topicDir, filepath.Dir(topicDir)} {
		if err := syncDir(d); err != nil {
			return nil, &StorageError{"open", dir, err}
		}
	}
	p := &bpart{id: id, dir: dir, charges: make(map[*persistCharge]struct{})}
	cfg := blugeindex.DefaultConfigWithDirectory(func() blugeindex.Directory {
		return &syncedDirectory{FileSystemDirectory: blugeindex.NewFileSystemDirectory(dir), path: dir, merges: x.merges}
	})
	cfg = cfg.WithSegmentPlugin(&blugeindex.SegmentPlugin{Type: ice.Type, Version: ice.Version, New: newSegment, Load: loadSegment, Merge: ice.Merge})
	cfg = cfg.WithUnsafeBatches().
		WithVirtualField(allDocsField).
		WithNormCalc(normFor).
		WithPersisterNapTimeMSec(int(x.opts.PersistDelay / time.Millisecond))
	cfg.NumAnalysisWorkers = 0
	cfg.AnalysisChan = x.work
	// Fresh segments are written to disk as they are; only a pile of
	// small ones (a trickle of tiny batches) is merged in memory first.
	// Merging a few large segments before persisting would rewrite every
	// document once more for little gain.
	cfg.MinSegmentsForInMemoryMerge = 8
	cfg.MergePlanOptions = mergeplan.DefaultMergePlanOptions
	cfg.MergePlanOptions.MaxSegmentsPerTier = x.opts.SegmentsPerTier
	cfg.MergePlanOptions.SegmentsPerMergeTask = x.opts.SegmentsPerMerge
	cfg.MergePlanOptions.FloorSegmentSize = mergeFloorDocs
	logger := x.opts.Logger
	cfg.AsyncError = func(err error) {
		p.asyncErr.Store(&err)
		logger.Error("search index persistence failed", "dir", dir, "err", err)
	}
	w, err := blugeindex.OpenWriter(cfg)
	if err != nil {
		if !environmental(err) && !starved(dir) {
			// The directory is there and locked, and the process had
			// descriptors and mappings to spare: its snapshot and
			// segment files do not load.
			err = fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		return nil, &StorageError{"open", dir, err}
	}
	p.w = w
	rec, ok, err := readCheckpoint(w, dir)
	if err != nil {
		w.Close()
		return nil, err
	}
	if ok {
		if rec.partition != id {
			w.Close()
			return nil, &CheckpointError{dir, fmt.Sprintf("record is for partition %d", rec.partition)}
		}
		p.checkpoint.Store(rec.next)
	}
	return p, nil
}

// environmental reports whether bluge failed to open an index because of
// its environment (the directory cannot be created or listed, or another
// writer holds its lock: file system errors) rather than because the
// files it holds do not load.
func environmental(err error) bool {
	var pe *fs.PathError
	var errno syscall.Errno
	return errors.As(err, &pe) || errors.As(err, &errno)
}

// readCheckpoint finds the checkpoint document of a partition index.
// Failures to read it from a loaded snapshot mean damaged segment files:
// they wrap ErrCorrupt.
func readCheckpoint(w *blugeindex.Writer, dir string) (checkpointRecord, bool, error) {
	corrupt := func(err error) error { return &StorageError{"open", dir, fmt.Errorf("%w: %w", ErrCorrupt, err)} }
	snap, err := w.Reader()
	if err != nil || snap == nil {
		return checkpointRecord{}, false, corrupt(fmt.Errorf("no index snapshot: %v", err))
	}
	defer snap.Close()
	it, err := snap.PostingsIterator([]byte(checkpointID), "_id", false, false, false)
	if err != nil {
		return checkpointRecord{}, false, corrupt(err)
	}
	post, err := it.Next()
	if err != nil {
		return checkpointRecord{}, false, corrupt(err)
	}
	if post == nil {
		return checkpointRecord{}, false, nil
	}
	var raw []byte
	err = snap.VisitStoredFields(post.Number(), func(field string, value []byte) bool {
		if field == fieldCheckpoint {
			raw = append([]byte(nil), value...)
			return false
		}
		return true
	})
	if err != nil {
		return checkpointRecord{}, false, corrupt(err)
	}
	rec, err := decodeCheckpoint(raw, dir)
	if err != nil {
		return checkpointRecord{}, false, err
	}
	return rec, true, nil
}

// syncedDirectory is bluge's file directory plus a directory fsync after
// every snapshot file, so that the names of the new segment and snapshot
// files survive a power failure too (bluge fsyncs only file contents). It
// also runs merges (bluge writes a merged segment by persisting the
// merger) only while holding one of the index's merge tokens, and releases
// the mapped pages of segment files after loading and after merging them
// (bluge_mmap.go).
type syncedDirectory struct {
	*blugeindex.FileSystemDirectory
	path   string
	merges chan struct{}
}

func (d *syncedDirectory) Persist(kind string, id uint64, w blugeindex.WriterTo, closeCh chan struct{}) error {
	if _, merge := w.(*ice.Merger); merge {
		select {
		case d.merges <- struct{}{}:
			defer func() { <-d.merges }()
		case <-closeCh:
			return segment.ErrClosed
		}
		defer releaseDir(d.path) // the inputs, read whole
	}
	if err := d.FileSystemDirectory.Persist(kind, id, w, closeCh); err != nil {
		return err
	}
	if kind == blugeindex.ItemKindSnapshot {
		return syncDir(d.path)
	}
	return nil
}

func syncDir(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// snapshot returns the partition's current snapshot (nil once closed);
// the caller closes it.
func (p *bpart) snapshot() *blugeindex.Snapshot {
	p.stateMu.RLock()
	defer p.stateMu.RUnlock()
	if p.closed {
		return nil
	}
	s, _ := p.w.Reader()
	return s
}

// Index implements Indexer.
func (x *Bluge) Index(ctx context.Context, b *Batch) error {
	if err := checkBatch(b); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := x.partition(b.Topic, b.Partition, true)
	if err != nil {
		return err
	}
	p.indexMu.Lock()
	defer p.indexMu.Unlock()
	cp := p.checkpoint.Load()
	docs := b.Docs
	for len(docs) > 0 && docs[0].Offset < cp {
		docs = docs[1:]
	}
	if b.Next <= cp {
		return nil // everything already indexed
	}
	// Segments not yet persisted stay in memory: wait for the persisters
	// while they exceed MaxUnpersistedBytes.
	if err := x.unpersisted.waitBelowLimit(ctx, x.closing); err != nil {
		if errors.Is(err, errBudgetClosed) {
			return fmt.Errorf("index: bluge: %w", ErrClosed)
		}
		return err
	}
	batch := blugeindex.NewBatch()
	bdocs := make([]*bdoc, len(docs))
	est := int64(0)
	for i := range docs {
		bdocs[i] = newBdoc(&docs[i], b.Fields)
		batch.Insert(bdocs[i])
		est += int64(len(docs[i].Key) + len(docs[i].Value))
	}
	cpDoc := newCheckpointDoc(checkpointRecord{next: b.Next, partition: b.Partition, written: time.Now().UnixMilli()})
	batch.Update(checkpointTerm{}, cpDoc)
	charge := &persistCharge{b: x.unpersisted}
	charge.set(est) // until the segment's own size is known
	p.track(charge)
	batch.SetPersistedCallback(func(error) { p.untrack(charge) })
	p.stateMu.RLock()
	if p.closed {
		p.stateMu.RUnlock()
		p.untrack(charge)
		return fmt.Errorf("index: bluge: %w", ErrClosed)
	}
	err = p.w.Batch(batch)
	p.stateMu.RUnlock()
	releaseDir(p.dir) // what the checkpoint's replacement read in every segment
	for _, d := range bdocs {
		d.release()
	}
	if err != nil {
		p.untrack(charge)
		return &StorageError{"index", p.dir, err}
	}
	charge.set(cpDoc.segmentBytes)
	p.checkpoint.Store(b.Next)
	return nil
}

// Checkpoint implements Indexer.
func (x *Bluge) Checkpoint(topic string, partition int32) (int64, error) {
	p, err := x.partition(topic, partition, false)
	if err != nil || p == nil {
		return 0, err
	}
	return p.checkpoint.Load(), nil
}

// topicPartitions opens and returns the topic's partition indexes that
// exist, in partition order.
func (x *Bluge) topicPartitions(topic string) ([]*bpart, error) {
	if !validTopicName(topic) {
		return nil, nil
	}
	ents, err := os.ReadDir(x.topicDir(topic))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, &StorageError{"list", x.topicDir(topic), err}
	}
	var out []*bpart
	for _, e := range ents {
		n, err := strconv.ParseInt(e.Name(), 10, 32)
		if err != nil || !e.IsDir() || n < 0 {
			continue
		}
		p, err := x.partition(topic, int32(n), false)
		if err != nil {
			return nil, err
		}
		if p != nil {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out, nil
}

// Stats implements Indexer.
func (x *Bluge) Stats(topic string) (TopicStats, error) {
	if err := x.checkOpen(); err != nil {
		return TopicStats{}, err
	}
	parts, err := x.topicPartitions(topic)
	if err != nil {
		return TopicStats{}, err
	}
	st := TopicStats{Partitions: make(map[int32]PartitionStats, len(parts))}
	for _, p := range parts {
		snap := p.snapshot()
		if snap == nil {
			continue
		}
		n, err := liveDocs(snap)
		snap.Close()
		if err != nil {
			return TopicStats{}, &StorageError{"stats", p.dir, err}
		}
		st.Partitions[p.id] = PartitionStats{Docs: n, Checkpoint: p.checkpoint.Load()}
		st.Docs += n
	}
	return st, nil
}

// liveDocs counts a snapshot's record documents (not the checkpoint).
func liveDocs(snap *blugeindex.Snapshot) (int64, error) {
	n, err := snap.Count()
	if err != nil {
		return 0, err
	}
	it, err := snap.PostingsIterator([]byte(checkpointID), "_id", false, false, false)
	if err != nil {
		return 0, err
	}
	if post, err := it.Next(); err != nil {
		return 0, err
	} else if post != nil && n > 0 {
		n--
	}
	return int64(n), nil
}

func (x *Bluge) checkOpen() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return fmt.Errorf("index: bluge: %w", ErrClosed)
	}
	return nil
}

// Topics implements Indexer.
func (x *Bluge) Topics() ([]string, error) {
	if err := x.checkOpen(); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(filepath.Join(x.root, "topics"))
	if err != nil {
		return nil, &StorageError{"list", x.root, err}
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && validTopicName(e.Name()) && !isDeleted(e.Name()) {
			out = append(out, e.Name())
		}
	}
	slices.Sort(out)
	return out, nil
}

// DeleteTopic implements Indexer. The topic directory is renamed away
// (and the rename made durable) before it is removed, so a crash leaves
// either the whole index or none of it.
func (x *Bluge) DeleteTopic(ctx context.Context, topic string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		return fmt.Errorf("index: bluge: %w", ErrClosed)
	}
	if x.deleting[topic] {
		x.mu.Unlock()
		return fmt.Errorf("index: topic %s is already being deleted", topic)
	}
	x.deleting[topic] = true
	var open []*bpart
	for k, p := range x.parts {
		if k.topic == topic {
			open = append(open, p)
			delete(x.parts, k)
		}
	}
	x.mu.Unlock()
	defer func() {
		x.mu.Lock()
		delete(x.deleting, topic)
		x.mu.Unlock()
	}()
	dir := ""
	if validTopicName(topic) {
		dir = x.topicDir(topic)
	}
	return closeAndRemove(open, dir)
}

// closeAndRemove closes the writers of an index being deleted, without a
// last persist, and then removes its directory with removeDir (none when
// dir is "": a name that cannot have one).
func closeAndRemove(open []*bpart, dir string) error {
	var errs []error
	for _, p := range open {
		if err := p.close(false); err != nil {
			errs = append(errs, err)
		}
	}
	if dir == "" {
		return errors.Join(errs...)
	}
	return removeDir(dir, errs)
}

// removeDir deletes dir so that a crash leaves all of it or none: it
// renames dir to "<dir>~<base-36 Unix ns>~deleted", fsyncs its parent and
// removes the renamed directory (OpenBluge removes what a crash left
// behind). A missing dir is no error. errs, errors met before, are joined
// to the result.
func removeDir(dir string, errs []error) error {
	gone := dir + "~" + strconv.FormatInt(time.Now().UnixNano(), 36) + deletedSuffix
	if err := os.Rename(dir, gone); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return errors.Join(errs...)
		}
		return errors.Join(append(errs, &StorageError{"delete", dir, err})...)
	}
	if err := syncDir(filepath.Dir(dir)); err != nil {
		errs = append(errs, &StorageError{"delete", dir, err})
	}
	if err := os.RemoveAll(gone); err != nil {
		errs = append(errs, &StorageError{"delete", gone, err})
	}
	return errors.Join(errs...)
}

// DeletePartition implements PartitionDeleter. As DeleteTopic does for a
// topic, it marks the partition as being deleted (until it is done the
// partition is not opened again: Index for it is refused and searches
// skip it), closes its writer without a last persist, renames its
// directory to "<partition>~<base-36 Unix ns>~deleted", fsyncs the topic
// directory and removes the renamed one: after a crash either the whole
// partition index or none of it remains (OpenBluge removes what a crash
// left). It also deletes an index that cannot be opened.
func (x *Bluge) DeletePartition(ctx context.Context, topic string, partition int32) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	key := topicPart{topic, partition}
	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		return fmt.Errorf("index: bluge: %w", ErrClosed)
	}
	if x.deleting[topic] || x.deletingParts[key] {
		x.mu.Unlock()
		return fmt.Errorf("index: %s-%d is already being deleted", topic, partition)
	}
	x.deletingParts[key] = true
	var open []*bpart
	if p := x.parts[key]; p != nil {
		open = append(open, p)
		delete(x.parts, key)
	}
	x.mu.Unlock()
	defer func() {
		x.mu.Lock()
		delete(x.deletingParts, key)
		x.mu.Unlock()
	}()
	dir := ""
	if validTopicName(topic) && partition >= 0 {
		dir = x.partDir(topic, partition)
	}
	return closeAndRemove(open, dir)
}

// close closes the partition's writer; with flush it first waits until
// everything indexed is persisted.
func (p *bpart) close(flush bool) error {
	p.indexMu.Lock()
	defer p.indexMu.Unlock()
	var errs []error
	if flush {
		if err := p.flush(); err != nil {
			errs = append(errs, err)
		}
	}
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	if p.closed {
		return errors.Join(errs...)
	}
	p.closed = true
	if err := p.w.Close(); err != nil {
		errs = append(errs, &StorageError{"close", p.dir, err})
	}
	p.releaseCharges()
	return errors.Join(errs...)
}

// flush waits until every batch indexed so far is persisted: an empty
// batch makes a new snapshot, and its persisted callback fires once that
// snapshot (holding everything before it) is on disk.
func (p *bpart) flush() error {
	p.stateMu.RLock()
	if p.closed {
		p.stateMu.RUnlock()
		return nil
	}
	done := make(chan error, 1)
	b := blugeindex.NewBatch()
	b.SetPersistedCallback(func(err error) { done <- err })
	err := p.w.Batch(b)
	p.stateMu.RUnlock()
	if err != nil {
		return &StorageError{"persist", p.dir, err}
	}
	if err := <-done; err != nil {
		return &StorageError{"persist", p.dir, err}
	}
	return nil
}

// Flush makes everything indexed so far durable, waiting for the
// persisters.
func (x *Bluge) Flush() error {
	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		return fmt.Errorf("index: bluge: %w", ErrClosed)
	}
	parts := make([]*bpart, 0, len(x.parts))
	for _, p := range x.parts {
		parts = append(parts, p)
	}
	x.mu.Unlock()
	var errs []error
	for _, p := range parts {
		p.indexMu.Lock()
		err := p.flush()
		p.indexMu.Unlock()
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close implements Indexer: it persists every partition, closes the
// writers and stops the analysis workers.
func (x *Bluge) Close() error {
	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		return nil
	}
	x.closed = true
	close(x.closing)
	parts := x.parts
	x.parts = nil
	x.mu.Unlock()
	var errs []error
	for _, p := range parts {
		if err := p.close(true); err != nil {
			errs = append(errs, err)
		}
	}
	close(x.stop)
	x.wg.Wait()
	return errors.Join(errs...)
}

// partHits is what one partition's search found.
type partHits struct {
	part     int32
	total    int64
	maxScore float64
	hits     []partHit
}

type partHit struct {
	offset int64
	score  float64
	keys   [][]byte
	rank   int
}

var searchOptions = search.SearcherOptions{
	SimilarityForField: func(string) search.Similarity { return bm25 },
	DefaultSearchField: "_all",
}

// Search implements Indexer. Each partition is searched for its top
// From+Size hits (in parallel, up to GOMAXPROCS at once), and the lists
// are merged.
func (x *Bluge) Search(ctx context.Context, topic string, req *Request) (*Result, error) {
	if err := checkRequest(req); err != nil {
		return nil, err
	}
	if err := x.checkOpen(); err != nil {
		return nil, err
	}
	r := &resolver{now: time.Now()}
	root, err := r.resolve(req.Query)
	if err != nil {
		return nil, err
	}
	parts, err := x.topicPartitions(topic)
	if err != nil {
		return nil, err
	}
	type job struct {
		p        *bpart
		snap     *blugeindex.Snapshot
		q        bluge.Query
		constant bool
		fixed    float64 // the score of every match when known without scoring
		hasFixed bool    // fixed is known
		count    int64   // the total when known without searching, else -1
	}
	jobs := make([]job, 0, len(parts))
	defer func() {
		for _, j := range jobs {
			j.snap.Close()
		}
	}()
	for _, p := range parts {
		snap := p.snapshot()
		if snap == nil {
			continue
		}
		jobs = append(jobs, job{p: p, snap: snap})
		fields, err := snap.Fields()
		if err != nil {
			return nil, &StorageError{"search", p.dir, err}
		}
		sp, err := r.specialize(root, newPartView(p.id, fields))
		if err != nil {
			return nil, err
		}
		if sp.op == opNone {
			jobs[len(jobs)-1].q = nil
			continue
		}
		top := bluge.NewBooleanQuery().AddMust(blugeQuery(sp)).AddMustNot(bluge.NewTermQuery(checkpointID).SetField("_id"))
		if min := req.MinOffsets[p.id]; min > 0 {
			top.AddMust(bluge.NewBooleanQuery().AddMust(&numericRangeQuery{field: fieldOffset, lo: min, hi: 1<<63 - 1, boost: 1}).SetBoost(0))
		}
		jobs[len(jobs)-1].q = top
		jobs[len(jobs)-1].constant = sp.constantScore()
		jobs[len(jobs)-1].fixed, jobs[len(jobs)-1].hasFixed = sp.fixedScore()
		jobs[len(jobs)-1].count = -1
		if req.MinOffsets[p.id] <= 0 {
			if n, ok, err := fastCount(snap, sp); err != nil {
				return nil, &StorageError{"search", p.dir, err}
			} else if ok {
				jobs[len(jobs)-1].count = n
			}
		}
	}
	results := make([]partHits, len(jobs))
	errs := make([]error, len(jobs))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, j := range jobs {
		if j.q == nil {
			results[i] = partHits{part: j.p.id}
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			results[i], errs[i] = searchPartition(ctx, j.snap, j.p, j.q, j.constant, j.fixed, j.hasFixed, j.count, req)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return mergePartHits(results, req), nil
}

// searchPartition searches one partition. Scores are computed only when
// the request needs them: not for field sorts without _score, not for
// count-only requests, and, for constant-score queries (where the best
// hits are the first ones in index order), only for those first hits.
func searchPartition(ctx context.Context, snap *blugeindex.Snapshot, p *bpart, q bluge.Query, constant bool, fixed float64, hasFixed bool, count int64, req *Request) (partHits, error) {
	n := req.From + req.Size
	if hasFixed && len(req.Sort) == 0 && count < 0 {
		// Every match scores the same, known value: one unscored pass
		// takes the first n matches and counts the rest.
		unscored := searchOptions
		unscored.Score = "none"
		s, err := q.Searcher(snap, unscored)
		if err != nil {
			return partHits{part: p.id}, queryFailure(err)
		}
		out, err := searchByScore(ctx, snap, p, s, n)
		if out.total > 0 {
			out.maxScore = fixed
		}
		for i := range out.hits {
			out.hits[i].score = fixed
		}
		return out, err
	}
	if count >= 0 && (n == 0 || (constant && len(req.Sort) == 0)) {
		// The total is known: only the first n matches are needed.
		out := partHits{part: p.id, total: count}
		if n == 0 || count == 0 {
			return out, nil
		}
		s, err := q.Searcher(snap, searchOptions)
		if err != nil {
			return out, queryFailure(err)
		}
		first, err := searchByScore(ctx, snap, p, &limitedSearcher{Searcher: s, left: n}, n)
		first.total = count
		return first, err
	}
	scores := n > 0 && len(req.Sort) == 0
	for _, sf := range req.Sort {
		if sf.Field == "_score" {
			scores = n > 0
		}
	}
	unscored := searchOptions
	unscored.Score = "none"
	switch {
	case !scores:
		s, err := q.Searcher(snap, unscored)
		if err != nil {
			return partHits{part: p.id}, queryFailure(err)
		}
		if len(req.Sort) == 0 {
			return searchByScore(ctx, snap, p, s, 0)
		}
		return searchBySort(ctx, snap, p, s, req)
	case len(req.Sort) == 0 && constant:
		// The first n matches in index order, scored; then the count.
		s, err := q.Searcher(snap, searchOptions)
		if err != nil {
			return partHits{part: p.id}, queryFailure(err)
		}
		out, err := searchByScore(ctx, snap, p, &limitedSearcher{Searcher: s, left: n}, n)
		if err != nil || out.total < int64(n) {
			return out, err
		}
		s, err = q.Searcher(snap, unscored)
		if err != nil {
			return out, queryFailure(err)
		}
		all, err := searchByScore(ctx, snap, p, s, 0)
		out.total = all.total
		return out, err
	}
	s, err := q.Searcher(snap, searchOptions)
	if err != nil {
		return partHits{part: p.id}, queryFailure(err)
	}
	if len(req.Sort) == 0 {
		return searchByScore(ctx, snap, p, s, n)
	}
	return searchBySort(ctx, snap, p, s, req)
}

// fastCount counts the matches of a specialised plan from postings
// sizes, without visiting them, when that is exact: match_all, a single
// term, a numeric range that covers a single indexed term, and a
// constant_score over one of these. The checkpoint document never holds
// these fields.
func fastCount(snap *blugeindex.Snapshot, sp *plan) (int64, bool, error) {
	switch sp.op {
	case opConstant:
		return fastCount(snap, sp.filter[0])
	case opAll:
		n, err := liveDocs(snap)
		return n, err == nil, err
	case opTerm:
		it, err := snap.PostingsIterator([]byte(sp.term), sp.field, false, false, false)
		if err != nil {
			return 0, false, err
		}
		return int64(it.Count()), true, nil
	case opRange:
		terms, err := numericTerms(snap, sp.field, sp.lo, sp.hi)
		if err != nil || len(terms) > 1 {
			return 0, false, err
		}
		if len(terms) == 0 {
			return 0, true, nil
		}
		it, err := snap.PostingsIterator(terms[0], sp.field, false, false, false)
		if err != nil {
			return 0, false, err
		}
		return int64(it.Count()), true, nil
	}
	return 0, false, nil
}

// limitedSearcher ends a search after left matches.
type limitedSearcher struct {
	search.Searcher
	left int
}

func (l *limitedSearcher) Next(ctx *search.Context) (*search.DocumentMatch, error) {
	if l.left <= 0 {
		return nil, nil
	}
	l.left--
	return l.Searcher.Next(ctx)
}

// searchByScore collects the n best hits by score (ties in index
// order), the total and the maximum score, without bluge's generic
// collector: no sort keys or aggregation buckets are computed per match,
// so counting many matches stays cheap.
func searchByScore(ctx context.Context, snap *blugeindex.Snapshot, p *bpart, s search.Searcher, n int) (partHits, error) {
	out := partHits{part: p.id}
	defer s.Close()
	sctx := search.NewSearchContext(s.DocumentMatchPoolSize(), 0)
	top := make(scoreHeap, 0, min(n, 1024))
	for i := 0; ; i++ {
		if i&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return out, err
			}
		}
		dm, err := s.Next(sctx)
		if err != nil {
			return out, &StorageError{"search", p.dir, err}
		}
		if dm == nil {
			break
		}
		out.total++
		if out.total == 1 || dm.Score > out.maxScore {
			out.maxScore = dm.Score
		}
		if n > 0 {
			h := scored{num: dm.Number, score: dm.Score}
			switch {
			case len(top) < n:
				top.push(h)
			case h.better(top[0]):
				top[0] = h
				top.down(0)
			}
		}
		sctx.DocumentMatchPool.Put(dm)
	}
	sort.Slice(top, func(i, j int) bool { return top[i].better(top[j]) })
	if len(top) == 0 {
		return out, nil
	}
	dvr, err := snap.DocumentValueReader([]string{fieldOffset})
	if err != nil {
		return out, &StorageError{"search", p.dir, err}
	}
	for rank, h := range top {
		ph := partHit{offset: -1, score: h.score, rank: rank}
		err := dvr.VisitDocumentValues(h.num, func(_ string, term []byte) {
			if len(term) > 0 && term[0] == 0x20 {
				ph.offset, _ = decodeShift0(term)
			}
		})
		if err != nil {
			return out, &StorageError{"search", p.dir, err}
		}
		out.hits = append(out.hits, ph)
	}
	return out, nil
}

// scored is a candidate hit; scoreHeap keeps the worst at the root.
type scored struct {
	num   uint64
	score float64
}

// better orders hits: higher score first, then lower document number.
func (a scored) better(b scored) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	return a.num < b.num
}

type scoreHeap []scored

func (h *scoreHeap) push(x scored) {
	*h = append(*h, x)
	s := *h
	i := len(s) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if !s[parent].better(s[i]) {
			break
		}
		s[parent], s[i] = s[i], s[parent]
		i = parent
	}
}

func (h scoreHeap) down(i int) {
	for {
		worst := i
		l, r := 2*i+1, 2*i+2
		if l < len(h) && h[worst].better(h[l]) {
			worst = l
		}
		if r < len(h) && h[worst].better(h[r]) {
			worst = r
		}
		if worst == i {
			return
		}
		h[i], h[worst] = h[worst], h[i]
		i = worst
	}
}

// queryFailure turns a bluge error while building searchers (an invalid
// wildcard, too many clauses) into a *QueryError.
func queryFailure(err error) error {
	return illegalArgument("%v", err)
}

func decodeShift0(term []byte) (int64, error) {
	var v int64
	for _, c := range term[1:] {
		v = v<<7 | int64(c)
	}
	return int64(uint64(v) ^ (1 << 63)), nil
}

// mergePartHits merges per-partition top lists into the requested page.
func mergePartHits(parts []partHits, req *Request) *Result {
	res := &Result{}
	type ref struct {
		part int32
		h    *partHit
	}
	var all []ref
	for i := range parts {
		ph := &parts[i]
		res.Total += ph.total
		if ph.total > 0 {
			res.MaxScore = maxFloat(res.MaxScore, ph.maxScore)
		}
		for j := range ph.hits {
			all = append(all, ref{ph.part, &ph.hits[j]})
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if len(req.Sort) == 0 {
			if a.h.score != b.h.score {
				return a.h.score > b.h.score
			}
		}
		for k, s := range req.Sort {
			if c := compareSortKeys(a.h.keys[k], b.h.keys[k], s.Desc); c != 0 {
				return c < 0
			}
		}
		if a.part != b.part {
			return a.part < b.part
		}
		return a.h.rank < b.h.rank
	})
	for i := req.From; i < len(all) && i < req.From+req.Size; i++ {
		a := all[i]
		h := Hit{Partition: a.part, Offset: a.h.offset, Score: a.h.score}
		if len(req.Sort) > 0 {
			h.Sort = make([]any, len(req.Sort))
			for k, s := range req.Sort {
				h.Sort[k] = decodeSortKey(s.Field, a.h.keys[k])
			}
		}
		res.Hits = append(res.Hits, h)
	}
	return res
}

// segment.Term check: the checkpoint term satisfies bluge's interface.
var _ segment.Term = checkpointTerm{}
