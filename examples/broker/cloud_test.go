package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gcs "cloud.google.com/go/storage"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"gocloud.dev/blob"
	"google.golang.org/api/googleapi"

	"github.com/chronik-go/chronik/metadata"
	"github.com/chronik-go/chronik/segment"
	"github.com/chronik-go/chronik/storage"
	"github.com/chronik-go/chronik/tier"
)

// The end-to-end test of the object-store tier through the broker command
// line: for each backend the broker is started with -storage <url>, a real
// client produces enough records to roll many small segments, the sealed
// segments are archived and their local copies removed, and everything is
// read back through the broker from the object store (Fetch, key lookup,
// search), before and after a restart.

// Shape of the workload: 400 records of about 300 bytes in batches of at
// most 4 KiB roll a 16 KiB segment every 40-50 records.
const (
	tierRecords      = 400
	tierSegmentBytes = 16 << 10
	tierBatchBytes   = 4 << 10
	tierTopic        = "tiered-e2e"
	tierWait         = time.Minute // bound on uploads and local deletions (seconds unless the machine is overloaded)
	tierPoll         = 50 * time.Millisecond
)

// Records the HTTP checks look up: both sit in the first segment, so they
// are read from the object store once its local copy is gone.
const (
	tierKeyRecord    = 6 // JSON value, an empty and a null header
	tierSearchRecord = 2 // JSON value found by its tag
)

// objectBackend is one object store the broker's -storage flag is tested
// with.
type objectBackend struct {
	name string
	env  string // variable holding the bucket URL; "" for the local file store
	// createBucket creates the bucket named by the URL, treating "already
	// exists" as success.
	createBucket func(ctx context.Context, b *blob.Bucket, name string) error
}

// TestObjectStoreBackends runs the broker with -storage set to the local file
// store and, when their bucket URLs are in the environment (see
// scripts/services.sh), to S3, GCS and Azure Blob servers. Each backend:
//
//  1. starts the broker with -storage <url> (a per-run prefix= in the URL)
//     and creates a topic with 16 KiB segments and Kafka's KIP-405
//     local.retention.ms=1, so that archived segments lose their local
//     copies at once;
//  2. produces 400 records with franz-go and waits until every sealed
//     segment is archived and its local files gone,
//     checking all along that no local segment disappears before its object
//     exists;
//  3. lists the objects through gocloud with the same URL and checks, through
//     tier, that they hold offsets 0 up to the first local segment without a
//     gap and that each is as large as its local .log was;
//  4. consumes every record from offset 0 through the broker and compares
//     keys, values, headers, offsets and timestamps byte for byte, and finds
//     records stored only in the object store through the key lookup and the
//     search endpoints;
//  5. restarts the broker on the same data directory and store, consumes
//     everything again and checks that no object was added or changed.
//
// A missing URL skips its backend, except under CI=true, where it fails.
func TestObjectStoreBackends(t *testing.T) {
	for _, be := range []objectBackend{
		{name: "file"},
		{name: "s3", env: "CHRONIK_TEST_S3_URL", createBucket: createS3Bucket},
		{name: "gcs", env: "CHRONIK_TEST_GCS_URL", createBucket: createGCSBucket},
		{name: "azure", env: "CHRONIK_TEST_AZURE_URL", createBucket: createAzureContainer},
	} {
		t.Run(be.name, func(t *testing.T) { testObjectBackend(t, be) })
	}
}

func testObjectBackend(t *testing.T, be objectBackend) {
	began := time.Now()
	storeURL := backendURL(t, be)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bucket, err := blob.OpenBucket(ctx, storeURL)
	if err != nil {
		t.Fatalf("open %s with gocloud: %v", be.name, err)
	}
	t.Cleanup(func() { removeObjects(t, bucket) })
	keyPrefix := tierTopic + "/0/"

	dir := t.TempDir()
	cfg, err := parseFlags([]string{"-listen", "127.0.0.1:0", "-http", "127.0.0.1:0", "-data", dir, "-storage", storeURL}, io.Discard)
	if err != nil {
		t.Fatalf("-storage %s: %v", be.name, err)
	}
	if cfg.Storage != storeURL {
		t.Fatalf("-storage parsed as %q, want %q", cfg.Storage, storeURL)
	}
	b := startBroker(t, cfg)
	topicConfigs := map[string]string{"segment.bytes": strconv.Itoa(tierSegmentBytes)}
	topicConfigs[metadata.ConfigLocalRetentionMs] = "1"
	createTopic(t, b.addrs.Kafka, tierTopic, 1, topicConfigs)

	logDir := filepath.Join(dir, logsDir, tierTopic+"-0")
	w := watchSegments(t, logDir, bucket, keyPrefix)
	want := tierRecordSet(t)
	phase := time.Now()
	produceTiered(t, b.addrs.Kafka, want)
	t.Logf("%s: produced %d records in %v", be.name, len(want), time.Since(phase).Round(time.Millisecond))

	phase = time.Now()
	st := w.waitArchived(t)
	t.Logf("%s: %d segments archived, local log starts at %d; waited %v", be.name, len(st.objects), st.active, time.Since(phase).Round(time.Millisecond))
	checkArchive(t, storeURL, keyPrefix, st, w)

	checkLocalCopiesGone(t, logDir, st)

	phase = time.Now()
	checkLogStart(t, b.addrs.Kafka, 0)
	checkConsumed(t, b.addrs.Kafka, want)
	t.Logf("%s: consumed %d records from offset 0 (%d from the object store) in %v", be.name, len(want), st.active, time.Since(phase).Round(time.Millisecond))
	phase = time.Now()
	checkKeyLookup(t, b.addrs.HTTP, want[tierKeyRecord], st.active)
	checkSearch(t, b.addrs.HTTP, want[tierSearchRecord], st.active)
	t.Logf("%s: key lookup and search of archived records in %v", be.name, time.Since(phase).Round(time.Millisecond))

	phase = time.Now()
	b.stop()
	stopped := time.Now()
	b = startBroker(t, cfg)
	t.Logf("%s: restart: stop %v, start %v", be.name, stopped.Sub(phase).Round(time.Millisecond), time.Since(stopped).Round(time.Millisecond))
	checkLocalCopiesGone(t, logDir, st)
	checkLogStart(t, b.addrs.Kafka, 0)
	checkConsumed(t, b.addrs.Kafka, want)
	checkKeyLookup(t, b.addrs.HTTP, want[tierKeyRecord], st.active)
	b.stop()
	after, err := listArchived(ctx, bucket, keyPrefix)
	if err != nil {
		t.Fatal(err)
	}
	if !sameObjects(after, st.objects) {
		t.Errorf("objects changed across the restart: %d before, %d after", len(st.objects), len(after))
	}
	t.Logf("%s: restart, second consume and lookup in %v; whole backend %v", be.name, time.Since(phase).Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
}

// backendURL returns the -storage URL of a backend with a prefix unique to
// this run, creating its bucket when missing. Without the environment
// variable the test skips, or fails under CI=true.
func backendURL(t *testing.T, be objectBackend) string {
	t.Helper()
	prefix := fmt.Sprintf("chronik-e2e-%d-%08x/", os.Getpid(), rand.Uint32())
	if be.env == "" {
		return "file://" + filepath.ToSlash(filepath.Join(t.TempDir(), "objects")) + "?create_dir=true&prefix=" + url.QueryEscape(prefix)
	}
	raw := os.Getenv(be.env)
	if raw == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is unset under CI=true: scripts/services.sh must start the %s server and export its bucket URL", be.env, be.name)
		}
		t.Skipf("%s is unset: start the %s emulator (source scripts/services.sh start) to run this backend", be.env, be.name)
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("%s: %v", be.env, err)
	}
	if u.Query().Has("prefix") {
		t.Fatalf("%s already sets prefix=: the test adds its own", be.env)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bucket, err := blob.OpenBucket(ctx, raw)
	if err != nil {
		t.Fatalf("open %s://%s: %v", u.Scheme, u.Host, err)
	}
	defer bucket.Close()
	if err := be.createBucket(ctx, bucket, u.Host); err != nil {
		t.Fatalf("create bucket %s://%s: %v", u.Scheme, u.Host, err)
	}
	sep := "?"
	if strings.Contains(raw, "?") {
		sep = "&"
	}
	return raw + sep + "prefix=" + url.QueryEscape(prefix)
}

func createS3Bucket(ctx context.Context, b *blob.Bucket, name string) error {
	var c *s3.Client
	if !b.As(&c) {
		return errors.New("bucket is not backed by an S3 client")
	}
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &name})
	var owned *s3types.BucketAlreadyOwnedByYou
	var exists *s3types.BucketAlreadyExists
	if errors.As(err, &owned) || errors.As(err, &exists) {
		return nil
	}
	return err
}

func createGCSBucket(ctx context.Context, b *blob.Bucket, name string) error {
	var c *gcs.Client
	if !b.As(&c) {
		return errors.New("bucket is not backed by a GCS client")
	}
	err := c.Bucket(name).Create(ctx, "chronik-test", nil)
	var ge *googleapi.Error
	if errors.As(err, &ge) && ge.Code == http.StatusConflict {
		return nil
	}
	return err
}

func createAzureContainer(ctx context.Context, b *blob.Bucket, _ string) error {
	var c *container.Client
	if !b.As(&c) {
		return errors.New("bucket is not backed by an Azure container client")
	}
	_, err := c.Create(ctx, nil)
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.StatusCode == http.StatusConflict {
		return nil
	}
	return err
}

// removeObjects deletes every object of the run's prefix and closes the
// bucket.
func removeObjects(t *testing.T, bucket *blob.Bucket) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	it := bucket.List(nil)
	for {
		o, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Errorf("list objects for cleanup: %v", err)
			break
		}
		if err := bucket.Delete(ctx, o.Key); err != nil {
			t.Errorf("delete %s: %v", o.Key, err)
		}
	}
	if err := bucket.Close(); err != nil {
		t.Errorf("close bucket: %v", err)
	}
}

// tierRecord is a produced record as the test compares it.
type tierRecord struct {
	Key, Value []byte // nil for a null key or value
	Headers    []kgo.RecordHeader
	Offset     int64
	Timestamp  time.Time
}

// tierRecordSet returns the records to produce, offsets filled in: JSON
// values with a unique tag and a random payload, some binary values, null
// keys and values, empty, null, repeated and binary headers, and
// millisecond timestamps one minute in the past.
func tierRecordSet(t *testing.T) []tierRecord {
	seed := rand.Uint64()
	t.Logf("record seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed>>7))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	base := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	out := make([]tierRecord, tierRecords)
	for i := range out {
		r := tierRecord{Offset: int64(i), Timestamp: base.Add(time.Duration(i) * time.Millisecond)}
		r.Key = fmt.Appendf(nil, "key-%04d", i)
		r.Value = fmt.Appendf(nil, `{"n":%d,"tag":"t%04d","payload":%q}`, i, i, base64.StdEncoding.EncodeToString(random(200)))
		switch {
		case i%31 == 7:
			r.Key = nil
		case i%29 == 5:
			r.Value = nil
		case i%7 == 3:
			r.Value = random(150)
		}
		r.Headers = []kgo.RecordHeader{{Key: "trace", Value: []byte(hex.EncodeToString(random(8)))}}
		if i%3 == 0 {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: "empty", Value: []byte{}}, kgo.RecordHeader{Key: "null"}, kgo.RecordHeader{Key: "trace", Value: []byte("again")})
		}
		if i%5 == 0 {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: "bin", Value: random(6)})
		}
		out[i] = r
	}
	for _, i := range []int{tierKeyRecord, tierSearchRecord} {
		if out[i].Key == nil || !json.Valid(out[i].Value) {
			t.Fatalf("record %d must have a key and a JSON value", i)
		}
	}
	return out
}

// produceTiered produces recs to partition 0 with franz-go's defaults
// (idempotent, acks=all) in batches of at most tierBatchBytes, and checks
// the offsets it got.
func produceTiered(t *testing.T, addr string, recs []tierRecord) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(tierTopic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchMaxBytes(tierBatchBytes))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	krs := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		krs[i] = &kgo.Record{Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp}
	}
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	res := cl.ProduceSync(ctx, krs...)
	if err := res.FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	for i, r := range res {
		if r.Record.Offset != recs[i].Offset {
			t.Fatalf("record %d got offset %d", i, r.Record.Offset)
		}
	}
}

// segmentWatch polls a partition's local segment files and the archived
// objects from before the first record is produced until the archive is
// complete, and records every local segment that disappears before its
// object exists.
type segmentWatch struct {
	logDir, keyPrefix string
	bucket            *blob.Bucket
	cancel            context.CancelFunc
	done              chan struct{}

	mu         sync.Mutex
	seen       map[int64]int64     // base offset -> .log size once sealed (-1 while active)
	goneAt     map[int64]time.Time // when a local segment was first seen gone
	violations []string
	last       archiveState
	lastErr    error
	stable     bool // the last two observations were the same
	polls      int
}

// archiveState is one observation: the local segments and the objects.
type archiveState struct {
	local   []int64                    // base offsets of local .log files, ascending
	active  int64                      // the newest local segment's base offset
	objects map[int64]*blob.ListObject // archived objects by base offset
	sizes   map[int64]int64            // sealed sizes of the segments seen locally
}

// watchSegments starts polling every tierPoll until waitArchived returns
// or the test ends.
func watchSegments(t *testing.T, logDir string, bucket *blob.Bucket, keyPrefix string) *segmentWatch {
	ctx, cancel := context.WithCancel(context.Background())
	w := &segmentWatch{logDir: logDir, keyPrefix: keyPrefix, bucket: bucket,
		seen: map[int64]int64{}, goneAt: map[int64]time.Time{}, cancel: cancel, done: make(chan struct{})}
	go func() { // owned by the test: ends at stop
		defer close(w.done)
		for ctx.Err() == nil {
			w.poll(ctx)
			select {
			case <-ctx.Done():
			case <-time.After(tierPoll):
			}
		}
	}()
	t.Cleanup(w.stop)
	return w
}

// stop ends the polling goroutine and waits for it; it is idempotent.
func (w *segmentWatch) stop() {
	w.cancel()
	<-w.done
}

// poll takes one observation: the local listing first, then the objects,
// so that a local segment missing from the first must be in the second
// (archived objects are never deleted in this test).
func (w *segmentWatch) poll(ctx context.Context) {
	local, sizes, err := localSegments(w.logDir)
	now := time.Now()
	var objs map[int64]*blob.ListObject
	if err == nil {
		objs, err = listArchived(ctx, w.bucket, w.keyPrefix)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.polls++
	w.lastErr = err
	if err != nil {
		return
	}
	present := map[int64]bool{}
	for i, base := range local {
		present[base] = true
		if i < len(local)-1 {
			w.seen[base] = sizes[base] // a newer segment exists: this one is sealed
		} else if _, ok := w.seen[base]; !ok {
			w.seen[base] = -1
		}
	}
	for base := range w.seen {
		if present[base] {
			continue
		}
		// A listing of a directory being changed may miss entries: only
		// a file that is gone when asked by name counts as gone.
		if _, err := os.Stat(filepath.Join(w.logDir, fmt.Sprintf("%020d%s", base, segment.LogSuffix))); !errors.Is(err, os.ErrNotExist) {
			continue
		}
		if _, ok := w.goneAt[base]; !ok {
			w.goneAt[base] = now
		}
		if objs[base] == nil {
			w.violations = append(w.violations, fmt.Sprintf("local segment %d is gone but not archived", base))
		}
	}
	st := archiveState{local: local, objects: objs, sizes: map[int64]int64{}}
	if len(local) > 0 {
		st.active = local[len(local)-1]
	}
	for base, size := range w.seen {
		if size >= 0 {
			st.sizes[base] = size
		}
	}
	w.stable = w.lastErr == nil && slices.Equal(st.local, w.last.local) && sameKeys(st.objects, w.last.objects)
	w.last = st
}

// sameKeys reports whether two observations list the same objects.
func sameKeys(a, b map[int64]*blob.ListObject) bool {
	return slices.Equal(slices.Sorted(maps.Keys(a)), slices.Sorted(maps.Keys(b)))
}

// waitArchived waits until every segment below the active one is archived
// and no longer local, in two observations in a row (a directory listing
// taken while files come and go may miss some), then stops the polling; it fails the test after
// tierWait or at the first violation.
func (w *segmentWatch) waitArchived(t *testing.T) archiveState {
	t.Helper()
	deadline := time.Now().Add(tierWait)
	for {
		w.mu.Lock()
		st, err, violations, polls, removed := w.last, w.lastErr, slices.Clone(w.violations), w.polls, len(w.goneAt)
		stable := w.stable
		w.mu.Unlock()
		if len(violations) > 0 {
			t.Fatalf("after %d polls: %s", polls, strings.Join(violations, "; "))
		}
		if err == nil && stable && archiveComplete(st) {
			w.stop()
			t.Logf("archive complete after %d polls: %d objects, local segments %v, %d seen removed after their upload", polls, len(st.objects), st.local, removed)
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("archive incomplete after %v (%d polls, last error %v): local segments %v, objects at %v",
				tierWait, polls, err, st.local, slices.Sorted(maps.Keys(st.objects)))
		}
		time.Sleep(tierPoll)
	}
}

// archiveComplete: several segments are archived, the objects cover every
// offset below the active segment (base offsets up to it, the next one
// beginning where the active one does), and the active segment is the only
// local one.
func archiveComplete(st archiveState) bool {
	if len(st.local) == 0 || len(st.objects) < 4 {
		return false
	}
	for _, base := range st.local[:len(st.local)-1] {
		if st.objects[base] == nil {
			return false
		}
	}
	if st.objects[0] == nil {
		return false
	}
	return len(st.local) == 1
}

// localSegments returns the base offsets of the .log files in dir,
// ascending, and their sizes.
func localSegments(dir string) ([]int64, map[int64]int64, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, map[int64]int64{}, nil // not opened yet
	}
	if err != nil {
		return nil, nil, fmt.Errorf("local segments: %w", err)
	}
	var bases []int64
	sizes := map[int64]int64{}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), segment.LogSuffix)
		if !ok {
			continue
		}
		base, err := strconv.ParseInt(name, 10, 64)
		if err != nil {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted since the listing
		}
		if err != nil {
			return nil, nil, fmt.Errorf("local segments: %w", err)
		}
		bases = append(bases, base)
		sizes[base] = info.Size()
	}
	slices.Sort(bases)
	return bases, sizes, nil
}

// listArchived lists the partition's objects through gocloud, by base
// offset. A key not of the form <prefix><20-digit base offset>.seg is an
// error.
func listArchived(ctx context.Context, bucket *blob.Bucket, keyPrefix string) (map[int64]*blob.ListObject, error) {
	out := map[int64]*blob.ListObject{}
	it := bucket.List(&blob.ListOptions{Prefix: keyPrefix})
	for {
		o, err := it.Next(ctx)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", keyPrefix, err)
		}
		name, ok := strings.CutSuffix(strings.TrimPrefix(o.Key, keyPrefix), ".seg")
		base, err := strconv.ParseInt(name, 10, 64)
		if !ok || err != nil || len(name) != 20 {
			return nil, fmt.Errorf("list %s: unexpected object %q", keyPrefix, o.Key)
		}
		out[base] = o
	}
}

// checkArchive checks the objects through tier: one chain of segments from
// offset 0 to the active segment, each as large as its local .log was
// when sealed, and each written no later than its local copy was seen
// gone (1 s of slack for servers that round modification times up).
func checkArchive(t *testing.T, storeURL, keyPrefix string, st archiveState, w *segmentWatch) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, err := storage.OpenBlob(ctx, storeURL)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	segs, err := tier.New(store, keyPrefix, tier.Options{}).Segments(ctx)
	if err != nil {
		t.Fatalf("tier listing: %v", err)
	}
	if len(segs) != len(st.objects) {
		bases := make([]int64, len(segs))
		for i, s := range segs {
			bases[i] = s.BaseOffset
		}
		t.Fatalf("tier lists %d segments %v, gocloud %d objects %v", len(segs), bases, len(st.objects), slices.Sorted(maps.Keys(st.objects)))
	}
	next := int64(0)
	for _, s := range segs {
		if s.BaseOffset != next {
			t.Fatalf("archived segments: one starts at %d, want %d (segments %+v)", s.BaseOffset, next, segs)
		}
		if size, ok := st.sizes[s.BaseOffset]; ok && size != s.Size {
			t.Errorf("segment %d: %d bytes archived, the local .log had %d", s.BaseOffset, s.Size, size)
		}
		if s.MaxTimestamp < 0 {
			t.Errorf("segment %d archived without a max timestamp", s.BaseOffset)
		}
		next = s.NextOffset
	}
	if next != st.active {
		t.Fatalf("archived segments end at %d, the local log starts at %d", next, st.active)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for base, gone := range w.goneAt {
		o := st.objects[base]
		if o == nil {
			t.Errorf("segment %d: local copy gone, no object", base)
		} else if mod := o.ModTime; mod.After(gone.Add(time.Second)) {
			t.Errorf("segment %d: object written at %v, after its local copy was seen gone at %v", base, mod, gone)
		}
	}
}

// checkLocalCopiesGone fails unless the active segment is the only local
// one.
func checkLocalCopiesGone(t *testing.T, logDir string, st archiveState) {
	t.Helper()
	local, _, err := localSegments(logDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(local) != 1 || local[0] != st.active {
		t.Fatalf("local segments %v, want only the active one at %d", local, st.active)
	}
}

// checkLogStart fails unless ListOffsets answers the earliest offset want.
func checkLogStart(t *testing.T, addr string, want int64) {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = tierTopic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp = 0, -2
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := dialRaw(t, addr).roundTrip(req, 7).(*kmsg.ListOffsetsResponse)
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 || p.Offset != want {
		t.Fatalf("ListOffsets earliest: error %d offset %d, want offset %d", p.ErrorCode, p.Offset, want)
	}
}

// checkConsumed consumes the partition from offset 0 with franz-go and
// compares every record with want byte for byte.
func checkConsumed(t *testing.T, addr string, want []tierRecord) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.FetchMaxWait(250*time.Millisecond),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{tierTopic: {0: kgo.NewOffset().At(0)}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	n := 0
	for n < len(want) {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records in %v", n, len(want), clientTimeout)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(kr *kgo.Record) {
			if n >= len(want) {
				t.Fatalf("record at offset %d beyond the %d produced", kr.Offset, len(want))
			}
			if why := sameRecord(kr, want[n]); why != "" {
				t.Fatalf("record %d: %s", n, why)
			}
			n++
		})
	}
}

// sameRecord says how a consumed record differs from the produced one, or
// "" when it does not: null and empty keys, values and header values are
// different.
func sameRecord(kr *kgo.Record, w tierRecord) string {
	switch {
	case kr.Partition != 0 || kr.Offset != w.Offset:
		return fmt.Sprintf("partition %d offset %d, want 0 and %d", kr.Partition, kr.Offset, w.Offset)
	case !kr.Timestamp.Equal(w.Timestamp):
		return fmt.Sprintf("timestamp %v, want %v", kr.Timestamp, w.Timestamp)
	case !sameBytes(kr.Key, w.Key):
		return fmt.Sprintf("key %q (null %v), want %q (null %v)", kr.Key, kr.Key == nil, w.Key, w.Key == nil)
	case !sameBytes(kr.Value, w.Value):
		return fmt.Sprintf("value of %d bytes (null %v), want %d (null %v)", len(kr.Value), kr.Value == nil, len(w.Value), w.Value == nil)
	case len(kr.Headers) != len(w.Headers):
		return fmt.Sprintf("%d headers, want %d", len(kr.Headers), len(w.Headers))
	}
	for i, h := range w.Headers {
		if g := kr.Headers[i]; g.Key != h.Key || !sameBytes(g.Value, h.Value) {
			return fmt.Sprintf("header %d: %q=%q (null %v), want %q=%q (null %v)", i, g.Key, g.Value, g.Value == nil, h.Key, h.Value, h.Value == nil)
		}
	}
	return ""
}

func sameBytes(a, b []byte) bool { return bytes.Equal(a, b) && (a == nil) == (b == nil) }

// checkKeyLookup looks w up by key through the HTTP API and compares the
// one record found; w lies below the local log start, so it is read from
// the object store.
func checkKeyLookup(t *testing.T, httpAddr string, w tierRecord, localStart int64) {
	t.Helper()
	if w.Offset >= localStart {
		t.Fatalf("record %d is not archived (local log starts at %d)", w.Offset, localStart)
	}
	code, resp := keyLookup(t, "http://"+httpAddr, tierTopic, string(w.Key), "partition=0")
	if code != http.StatusOK || len(resp.Records) != 1 {
		t.Fatalf("key lookup %s: status %d, %+v", w.Key, code, resp)
	}
	if resp.SegmentsScanned < 1 {
		t.Errorf("key lookup %s scanned no segment: %+v", w.Key, resp)
	}
	got := resp.Records[0]
	if got.Offset != w.Offset || got.Timestamp != w.Timestamp.UnixMilli() || got.Key != string(w.Key) || !bytes.Equal(got.Value, w.Value) {
		t.Fatalf("key lookup %s: got offset %d ts %d key %q value %s, want %d %d %q %s",
			w.Key, got.Offset, got.Timestamp, got.Key, got.Value, w.Offset, w.Timestamp.UnixMilli(), w.Key, w.Value)
	}
	if len(got.Headers) != len(w.Headers) {
		t.Fatalf("key lookup %s: headers %+v, want %d", w.Key, got.Headers, len(w.Headers))
	}
	for i, h := range w.Headers {
		g := got.Headers[i]
		if g.Key != h.Key || (g.Value == nil) != (h.Value == nil) || (g.Value != nil && *g.Value != string(h.Value)) {
			t.Fatalf("key lookup %s: header %d is %s=%s, want %s=%q", w.Key, i, g.Key, strPtr(g.Value), h.Key, h.Value)
		}
	}
}

// checkSearch finds w by its unique tag through the search API (waiting
// for the index to catch up) and compares the hit and its _source, which
// the broker reads from the log, here from the object store.
func checkSearch(t *testing.T, httpAddr string, w tierRecord, localStart int64) {
	t.Helper()
	if w.Offset >= localStart {
		t.Fatalf("record %d is not archived (local log starts at %d)", w.Offset, localStart)
	}
	var tag struct{ Tag string }
	if err := json.Unmarshal(w.Value, &tag); err != nil {
		t.Fatal(err)
	}
	u := "http://" + httpAddr + "/" + tierTopic + "/_search?q=tag:" + tag.Tag
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := httpGet(t, u)
		var res struct {
			Hits struct {
				Total struct{ Value int } `json:"total"`
				Hits  []struct {
					Source    json.RawMessage `json:"_source"`
					Partition int32           `json:"_partition"`
					Offset    int64           `json:"_offset"`
					Timestamp int64           `json:"_timestamp"`
					Key       *string         `json:"_key"`
				} `json:"hits"`
			} `json:"hits"`
		}
		if code == http.StatusOK && json.Unmarshal([]byte(body), &res) == nil && res.Hits.Total.Value > 0 {
			if res.Hits.Total.Value != 1 || len(res.Hits.Hits) != 1 {
				t.Fatalf("search %s: %s", tag.Tag, body)
			}
			h := res.Hits.Hits[0]
			var want bytes.Buffer
			if err := json.Compact(&want, w.Value); err != nil {
				t.Fatal(err)
			}
			if h.Partition != 0 || h.Offset != w.Offset || h.Timestamp != w.Timestamp.UnixMilli() || h.Key == nil || *h.Key != string(w.Key) ||
				!bytes.Equal(h.Source, want.Bytes()) {
				t.Fatalf("search %s: hit %+v (source %s), want offset %d ts %d key %s source %s",
					tag.Tag, h, h.Source, w.Offset, w.Timestamp.UnixMilli(), w.Key, want.Bytes())
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("search %s: %d %s", tag.Tag, code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sameObjects reports whether two listings hold the same keys with the
// same sizes.
func sameObjects(a, b map[int64]*blob.ListObject) bool {
	if len(a) != len(b) {
		return false
	}
	for base, o := range a {
		if p := b[base]; p == nil || p.Key != o.Key || p.Size != o.Size {
			return false
		}
	}
	return true
}
