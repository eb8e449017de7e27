package index_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chronik-go/chronik/index"
)

// logLines is a slog handler's output, safe for concurrent use.
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// matching returns the lines holding every one of parts.
func (l *logLines) matching(parts ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range strings.Split(l.buf.String(), "\n") {
		ok := line != ""
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			out = append(out, line)
		}
	}
	return out
}

func (l *logLines) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// The log line of an automatic partition rebuild.
const rebuildLine = "search index of a partition cannot be loaded"

// corruptions damage the index files of partition 1 of topic logs under
// an index root, in the ways that make a partition index impossible to
// open.
var corruptions = []struct {
	name    string
	corrupt func(t *testing.T, root string)
}{
	{"checkpoint of another partition", func(t *testing.T, root string) {
		// Partition 0's index in partition 1's place: its checkpoint
		// names partition 0.
		p0, p1 := filepath.Join(root, "topics", "logs", "0"), filepath.Join(root, "topics", "logs", "1")
		if err := os.RemoveAll(p1); err != nil {
			t.Fatal(err)
		}
		if err := os.CopyFS(p1, os.DirFS(p0)); err != nil {
			t.Fatal(err)
		}
	}},
	{"no loadable snapshot", func(t *testing.T, root string) {
		truncateFiles(t, filepath.Join(root, "topics", "logs", "1"), ".snp", 3)
	}},
	{"corrupt segment files", func(t *testing.T, root string) {
		truncateFiles(t, filepath.Join(root, "topics", "logs", "1"), ".seg", 16)
	}},
}

// truncateFiles cuts every file of dir ending in ext to size bytes.
func truncateFiles(t *testing.T, dir, ext string, size int64) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ext) {
			if err := os.Truncate(filepath.Join(dir, e.Name()), size); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	if n == 0 {
		t.Fatalf("no %s file in %s", ext, dir)
	}
}

// TestPipelineRebuildsUnloadablePartition damages a partition's index
// files while the pipeline is stopped, restarts, and checks that the
// pipeline rebuilds that partition's index from the log by itself: one
// log line saying why, searches that never fail meanwhile (as during
// Rebuild), and every record searchable exactly once afterwards.
func TestPipelineRebuildsUnloadablePartition(t *testing.T) {
	for _, c := range corruptions {
		t.Run(c.name, func(t *testing.T) {
			dataDir, indexDir := t.TempDir(), t.TempDir()
			open := func() *index.Bluge {
				b, err := index.OpenBluge(indexDir, index.BlugeOptions{PersistDelay: 10 * time.Millisecond})
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
			e := newEnv(t, envOptions{ix: open(), dataDir: dataDir})
			e.topic("logs", 3, nil)
			recs := produceLogs(t, e, "logs", 3, 60, 20)
			for p := int32(0); p < 3; p++ {
				e.waitIndexed("logs", p)
			}
			meta := e.meta
			e.close()

			c.corrupt(t, indexDir)
			// The damaged index cannot be opened.
			check := open()
			_, err := check.Checkpoint("logs", 1)
			var ce *index.CheckpointError
			if !errors.Is(err, index.ErrCorrupt) && !errors.As(err, &ce) {
				t.Fatalf("Checkpoint of the damaged partition: %v, want an error wrapping ErrCorrupt or a *CheckpointError", err)
			}
			if _, err := check.Search(context.Background(), "logs", &index.Request{}); err == nil {
				t.Fatal("search over the damaged partition succeeded")
			}
			check.Close()

			var logs logLines
			e2 := newEnv(t, envOptions{ix: open(), dataDir: dataDir, meta: meta, pipeline: index.PipelineOptions{Logger: logs.logger()}})
			s := e2.searcher()
			limit := int64(len(recs) + 3*10)
			stopSearching := searchUntilStopped(s, limit)
			recs = append(recs, produceLogs(t, e2, "logs", 3, 10, 5)...)
			for p := int32(0); p < 3; p++ {
				e2.waitIndexed("logs", p)
			}
			if err := stopSearching(); err != nil {
				t.Fatalf("search during the rebuild: %v", err)
			}
			wantEachRecordOnce(t, s, "logs", len(recs))
			if lines := logs.matching(rebuildLine); len(lines) != 1 || !strings.Contains(lines[0], "partition=1") {
				t.Fatalf("rebuild log lines %q, want one for partition 1", lines)
			}
			if lines := logs.matching("level=ERROR"); len(lines) != 0 {
				t.Fatalf("errors logged: %q", lines)
			}
		})
	}
}

// unloadableIndexer is a Memory index whose partitions listed in corrupt
// cannot be loaded until DeletePartition deletes them; DeletePartition
// fails while failDeletes is positive.
type unloadableIndexer struct {
	*index.Memory
	mu          sync.Mutex
	corrupt     map[int32]bool
	failDeletes int
	deletes     []time.Time // the DeletePartition calls
}

func (u *unloadableIndexer) Checkpoint(topic string, partition int32) (int64, error) {
	u.mu.Lock()
	bad := u.corrupt[partition]
	u.mu.Unlock()
	if bad {
		return 0, fmt.Errorf("test: partition %d: %w", partition, index.ErrCorrupt)
	}
	return u.Memory.Checkpoint(topic, partition)
}

func (u *unloadableIndexer) DeletePartition(ctx context.Context, topic string, partition int32) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.deletes = append(u.deletes, time.Now())
	if u.failDeletes > 0 {
		u.failDeletes--
		return errors.New("test: the partition index cannot be deleted")
	}
	delete(u.corrupt, partition)
	return u.Memory.DeletePartition(ctx, topic, partition)
}

func (u *unloadableIndexer) deleteCalls() []time.Time {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]time.Time(nil), u.deletes...)
}

// TestPipelineRebuildBackoff makes the rebuild of an unloadable partition
// fail for a second: the pipeline retries it with a doubling delay, not at
// every poll (5 ms here), and logs once per attempt; once the deletion
// works the partition is indexed again from its log.
func TestPipelineRebuildBackoff(t *testing.T) {
	const poll = 5 * time.Millisecond
	u := &unloadableIndexer{Memory: index.NewMemory(), corrupt: map[int32]bool{0: true}, failDeletes: 1 << 30}
	var logs logLines
	e := newEnv(t, envOptions{ix: u, pipeline: index.PipelineOptions{Logger: logs.logger(), PollInterval: poll}})
	e.topic("logs", 1, nil)
	recs := produceLogs(t, e, "logs", 1, 40, 10)
	// Appends keep notifying the pipeline meanwhile; they must not
	// bypass the delay either.
	for range 10 {
		time.Sleep(100 * time.Millisecond)
		recs = append(recs, produceLogs(t, e, "logs", 1, 1, 1)...)
	}
	calls := u.deleteCalls()
	t.Logf("%d rebuild attempts in the first second", len(calls))
	// With a 5 ms poll and delays doubling from 5 ms, a second or so
	// holds at most 9 attempts (at 0, 5, 15, 35, 75, 155, 315, 635 and
	// 1275 ms, later under load); retried at every poll it would be
	// about 200.
	if len(calls) < 3 || len(calls) > 10 {
		t.Fatalf("%d rebuild attempts in a second, want between 3 and 10", len(calls))
	}
	for i := 1; i < len(calls); i++ {
		if gap, least := calls[i].Sub(calls[i-1]), poll<<(i-1); gap < least {
			t.Fatalf("attempt %d came %v after attempt %d, want at least %v", i+1, gap, i, least)
		}
	}
	u.mu.Lock()
	u.failDeletes = 0
	u.mu.Unlock()
	waitFor(t, "the partition's deletion", func() bool {
		u.mu.Lock()
		defer u.mu.Unlock()
		return len(u.corrupt) == 0
	})
	e.waitIndexed("logs", 0)
	res, err := e.searcher().Search(context.Background(), "logs", &index.Request{Size: 1000}, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Hits.Total.Value != int64(len(recs)) {
		t.Fatalf("%d hits, want %d", res.Hits.Total.Value, len(recs))
	}
	attempts := len(u.deleteCalls())
	if lines := logs.matching(rebuildLine, "partition=0"); len(lines) != attempts {
		t.Fatalf("%d rebuild log lines for %d attempts", len(lines), attempts)
	}
	if lines := logs.matching("search indexing failed", "retry_in="); len(lines) != attempts-1 {
		t.Fatalf("%d failure log lines for %d failed attempts: %q", len(lines), attempts-1, lines)
	}
}

// waitFor waits up to 30 s for cond.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// topicOnlyIndexer hides Memory's DeletePartition: the pipeline can only
// rebuild whole topics. Its partition 0 cannot be loaded until the topic
// is deleted.
type topicOnlyIndexer struct {
	index.Indexer
	mu            sync.Mutex
	corrupt       bool
	topicsDeleted int
}

func (x *topicOnlyIndexer) Checkpoint(topic string, partition int32) (int64, error) {
	x.mu.Lock()
	bad := x.corrupt && partition == 0
	x.mu.Unlock()
	if bad {
		return 0, fmt.Errorf("test: %w", index.ErrCorrupt)
	}
	return x.Indexer.Checkpoint(topic, partition)
}

func (x *topicOnlyIndexer) DeleteTopic(ctx context.Context, topic string) error {
	x.mu.Lock()
	x.corrupt = false
	x.topicsDeleted++
	x.mu.Unlock()
	return x.Indexer.DeleteTopic(ctx, topic)
}

// TestPipelineRebuildsTopicWithoutPartitionDeleter: an Indexer that
// cannot delete one partition gets the partition's topic rebuilt, once.
func TestPipelineRebuildsTopicWithoutPartitionDeleter(t *testing.T) {
	x := &topicOnlyIndexer{Indexer: index.NewMemory(), corrupt: true}
	var logs logLines
	e := newEnv(t, envOptions{ix: x, pipeline: index.PipelineOptions{Logger: logs.logger()}})
	e.topic("logs", 2, nil)
	recs := produceLogs(t, e, "logs", 2, 30, 10)
	waitFor(t, "the topic's deletion", func() bool {
		x.mu.Lock()
		defer x.mu.Unlock()
		return !x.corrupt
	})
	e.waitIndexed("logs", 0)
	e.waitIndexed("logs", 1)
	res, err := e.searcher().Search(context.Background(), "logs", &index.Request{Size: 1000}, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Hits.Total.Value != int64(len(recs)) {
		t.Fatalf("%d hits, want %d", res.Hits.Total.Value, len(recs))
	}
	x.mu.Lock()
	deleted := x.topicsDeleted
	x.mu.Unlock()
	if deleted != 1 {
		t.Fatalf("topic index deleted %d times, want once", deleted)
	}
	if lines := logs.matching(rebuildLine, "rebuilding the topic's index"); len(lines) != 1 {
		t.Fatalf("rebuild log lines %q, want one", lines)
	}
}

// TestBlugeRemovesHalfDeletedPartitions: OpenBluge removes partition
// directories a crash left renamed for deletion, and keeps the others.
func TestBlugeRemovesHalfDeletedPartitions(t *testing.T) {
	root := t.TempDir()
	b, err := index.OpenBluge(root, index.BlugeOptions{PersistDelay: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for p := int32(0); p < 2; p++ {
		if err := b.Index(ctx, &index.Batch{Topic: "logs", Partition: p, Docs: []index.Document{{Offset: 0, Value: []byte("x")}}, Next: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	left := filepath.Join(root, "topics", "logs", "1~abc123~deleted")
	if err := os.Rename(filepath.Join(root, "topics", "logs", "1"), left); err != nil {
		t.Fatal(err)
	}
	b, err = index.OpenBluge(root, index.BlugeOptions{PersistDelay: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := os.Stat(left); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("half-deleted partition directory still there: %v", err)
	}
	st, err := b.Stats("logs")
	if err != nil {
		t.Fatal(err)
	}
	if st.Docs != 1 || st.Partitions[0].Docs != 1 {
		t.Fatalf("stats %+v, want partition 0's document only", st)
	}
}

// TestBlugeLockedIndexIsNotCorrupt: an index another writer holds open
// cannot be opened, but that is not damage: the error does not wrap
// ErrCorrupt, so the pipeline never deletes it.
func TestBlugeLockedIndexIsNotCorrupt(t *testing.T) {
	root := t.TempDir()
	a, err := index.OpenBluge(root, index.BlugeOptions{PersistDelay: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Index(context.Background(), &index.Batch{Topic: "logs", Partition: 0, Docs: []index.Document{{Offset: 0, Value: []byte("x")}}, Next: 1}); err != nil {
		t.Fatal(err)
	}
	b, err := index.OpenBluge(root, index.BlugeOptions{PersistDelay: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_, err = b.Checkpoint("logs", 0)
	var se *index.StorageError
	if !errors.As(err, &se) {
		t.Fatalf("Checkpoint of a locked partition index: %v, want a *StorageError", err)
	}
	if errors.Is(err, index.ErrCorrupt) {
		t.Fatalf("Checkpoint of a locked partition index: %v wraps ErrCorrupt", err)
	}
}
