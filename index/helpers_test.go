package index_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"testing"
	"time"

	kgogzip "github.com/segmentio/kafka-go/compress/gzip"
	kgolz4 "github.com/segmentio/kafka-go/compress/lz4"
	kgosnappy "github.com/segmentio/kafka-go/compress/snappy"
	kgozstd "github.com/segmentio/kafka-go/compress/zstd"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"

	"github.com/chronik-go/chronik/compress"
	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/index"
	"github.com/chronik-go/chronik/metadata"
	"github.com/chronik-go/chronik/produce"
	"github.com/chronik-go/chronik/record"
	"github.com/chronik-go/chronik/wire"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The crash test's child process and bluge's mmap finalizers are
		// not goroutines of ours; nothing to ignore besides the runtime.
		goleak.IgnoreCurrent())
}

// rec is one record to produce.
type rec struct {
	key, value []byte
	headers    [][2]string
	tsDelta    int64
}

// batchSpec describes one produced batch, encoded with franz-go's kmsg and
// kafka-go's codecs (not chronik's own code).
type batchSpec struct {
	recs          []rec
	codec         compress.Codec
	baseTimestamp int64
	producerID    int64
	epoch         int16
	baseSequence  int32
	transactional bool
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func (s batchSpec) build(t testing.TB) []byte {
	t.Helper()
	var raw []byte
	maxDelta := int64(0)
	for i, r := range s.recs {
		kr := kmsg.Record{TimestampDelta64: r.tsDelta, OffsetDelta: int32(i), Key: r.key, Value: r.value}
		for _, h := range r.headers {
			kr.Headers = append(kr.Headers, kmsg.Header{Key: h[0], Value: []byte(h[1])})
		}
		kr.Length = int32(len(kr.AppendTo(nil)) - 1)
		raw = kr.AppendTo(raw)
		maxDelta = max(maxDelta, r.tsDelta)
	}
	pid, epoch, seq := s.producerID, s.epoch, s.baseSequence
	if pid == 0 {
		pid, epoch, seq = -1, -1, -1
	}
	rb := kmsg.RecordBatch{
		Magic:           2,
		Attributes:      int16(s.codec),
		LastOffsetDelta: int32(len(s.recs) - 1),
		FirstTimestamp:  s.baseTimestamp,
		MaxTimestamp:    s.baseTimestamp + maxDelta,
		ProducerID:      pid,
		ProducerEpoch:   epoch,
		FirstSequence:   seq,
		NumRecords:      int32(len(s.recs)),
		Records:         compressWith(t, s.codec, raw),
	}
	if s.transactional {
		rb.Attributes |= record.AttrTransactional
	}
	b := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli))
	return b
}

func compressWith(t testing.TB, c compress.Codec, raw []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w interface {
		Write([]byte) (int, error)
		Close() error
	}
	switch c {
	case compress.None:
		return raw
	case compress.Gzip:
		w = (&kgogzip.Codec{Level: 6}).NewWriter(&buf)
	case compress.Snappy:
		w = (&kgosnappy.Codec{Framing: kgosnappy.Framed}).NewWriter(&buf)
	case compress.LZ4:
		w = (&kgolz4.Codec{}).NewWriter(&buf)
	case compress.Zstd:
		w = (&kgozstd.Codec{Level: 3}).NewWriter(&buf)
	}
	if _, err := w.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// env is a produce.Handler feeding a Pipeline into an Indexer, as a host
// wires them.
type env struct {
	t    testing.TB
	meta *metadata.Memory
	h    *produce.Handler
	ix   index.Indexer
	pl   *index.Pipeline
	dir  string
	lags chan time.Duration
}

type envOptions struct {
	ix       index.Indexer // default: a Memory index
	pipeline index.PipelineOptions
	dataDir  string
	meta     *metadata.Memory
	linger   time.Duration
	// noIndexing runs the handler alone: records are appended and not
	// indexed, as while the search side is down.
	noIndexing bool
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	e := &env{t: t, ix: o.ix, meta: o.meta, dir: o.dataDir, lags: make(chan time.Duration, 1<<16)}
	if e.ix == nil {
		e.ix = index.NewMemory()
	}
	if e.meta == nil {
		e.meta = metadata.NewMemory(1)
	}
	if e.dir == "" {
		e.dir = t.TempDir()
	}
	po := o.pipeline
	po.EnableByDefault = true
	if po.PollInterval == 0 {
		po.PollInterval = 5 * time.Millisecond
	}
	po.OnLag = func(_ string, _ int32, d time.Duration) {
		select {
		case e.lags <- d:
		default:
		}
	}
	cfg := produce.DefaultConfig()
	cfg.DataDir = e.dir
	if o.linger > 0 {
		cfg.Linger = o.linger
	}
	var opts []produce.Option
	if !o.noIndexing {
		pl, err := index.NewPipeline(e.ix, e.meta, po)
		if err != nil {
			t.Fatal(err)
		}
		e.pl = pl
		cfg.EnableIndexing = true
		opts = append(opts, produce.WithIndexer(pl))
	}
	h, err := produce.New(cfg, e.meta, opts...)
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	if e.pl != nil {
		if err := e.pl.Start(h); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(e.close)
	return e
}

// close stops the pipeline, then the handler, then the index.
func (e *env) close() {
	if e.h == nil {
		return
	}
	if e.pl != nil {
		e.pl.Close()
	}
	e.h.Close()
	e.ix.Close()
	e.h = nil
}

func (e *env) topic(name string, partitions int32, config map[string]string) {
	e.t.Helper()
	if _, err := e.meta.CreateTopic(context.Background(), name, partitions, nil, config); err != nil {
		e.t.Fatal(err)
	}
}

// produce sends one batch and returns its base offset, failing on any
// error code.
func (e *env) produce(topic string, partition int32, acks int16, b []byte) int64 {
	e.t.Helper()
	return e.produceReq(topic, partition, acks, nil, b)
}

func (e *env) produceReq(topic string, partition int32, acks int16, txnID *string, b []byte) int64 {
	e.t.Helper()
	req := &wire.ProduceRequest{Version: 9, Acks: acks, TimeoutMs: 10000, TransactionalID: txnID,
		Topics: []wire.ProduceTopic{{Name: topic, Partitions: []wire.ProducePartition{{Partition: partition, Records: b}}}}}
	resp, err := e.h.HandleProduce(context.Background(), produce.RequestInfo{ClientID: "test"}, req)
	if err != nil {
		e.t.Fatal(err)
	}
	pr := resp.Topics[0].Partitions[0]
	if pr.ErrorCode != errcode.None {
		msg := ""
		if pr.ErrorMessage != nil {
			msg = *pr.ErrorMessage
		}
		e.t.Fatalf("produce to %s-%d: %v %s", topic, partition, pr.ErrorCode, msg)
	}
	return pr.BaseOffset
}

// waitIndexed waits until the partition is indexed up to its log end.
func (e *env) waitIndexed(topic string, partition int32) {
	e.t.Helper()
	l, err := e.h.Log(topic, partition)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.pl.WaitIndexed(ctx, topic, partition, l.NextOffset()); err != nil {
		cp, _ := e.ix.Checkpoint(topic, partition)
		e.t.Fatalf("%s-%d not indexed up to %d (checkpoint %d): %v", topic, partition, l.NextOffset(), cp, err)
	}
}

func (e *env) searcher() *index.Searcher {
	return &index.Searcher{Indexer: e.ix, Sources: &index.LogSource{Logs: e.h}, Topics: e.meta}
}

// searchUntilStopped searches topic "logs" for "disk" over and over, in a
// goroutine, until the returned stop is called; stop returns the first
// failure: a search error, or more hits than limit (records produced).
func searchUntilStopped(s *index.Searcher, limit int64) (stop func() error) {
	done := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		defer close(errc)
		for {
			select {
			case <-done:
				return
			default:
			}
			res, err := s.Search(context.Background(), "logs", &index.Request{Query: &index.MatchQuery{Field: "msg", Query: "disk"}, Size: 3}, true)
			if err != nil {
				errc <- err
				return
			}
			if res.Hits.Total.Value > limit {
				errc <- fmt.Errorf("%d hits, more than records", res.Hits.Total.Value)
				return
			}
		}
	}()
	return func() error {
		close(done)
		return <-errc
	}
}

// wantEachRecordOnce fails unless a search of every document of topic
// finds exactly want, none twice among those returned (at most
// index.MaxResultWindow): the pipeline indexes each record once.
func wantEachRecordOnce(t *testing.T, s *index.Searcher, topic string, want int) {
	t.Helper()
	res, err := s.Search(context.Background(), topic, &index.Request{Size: index.MaxResultWindow}, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Hits.Total.Value != int64(want) || len(res.Hits.Hits) != min(want, index.MaxResultWindow) {
		t.Fatalf("%d documents (%d returned), want %d: one per record", res.Hits.Total.Value, len(res.Hits.Hits), want)
	}
	seen := make(map[string]bool, want)
	for _, h := range res.Hits.Hits {
		if seen[h.ID] {
			t.Fatalf("%s indexed twice", h.ID)
		}
		seen[h.ID] = true
	}
}
