package index_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chronik-go/chronik/index"
	"github.com/chronik-go/chronik/metadata"
	"github.com/chronik-go/chronik/record"
)

const crashChildEnv = "CHRONIK_INDEX_CRASH_CHILD"

// crashTopic is created identically by the child and the parent (the
// memory metadata store does not survive the process).
func crashMeta(t testing.TB) *metadata.Memory {
	m := metadata.NewMemory(1)
	if _, err := m.CreateTopic(context.Background(), "crash", 2, nil, nil); err != nil {
		t.Fatal(err)
	}
	return m
}

func openCrashIndex(t testing.TB, dir string) *index.Bluge {
	b, err := index.OpenBluge(filepath.Join(dir, "index"), index.BlugeOptions{PersistDelay: 30 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCrashChild is the child process of TestCrashDuringIndexing: it
// produces records (acks=all) and indexes them until it is killed. It
// reports progress on stdout: "acked N" after each produce, "indexed N"
// when the index's checkpoints move.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("run by TestCrashDuringIndexing")
	}
	e := newEnv(t, envOptions{ix: openCrashIndex(t, dir), dataDir: filepath.Join(dir, "data"), meta: crashMeta(t)})
	seq := 0
	for {
		for p := int32(0); p < 2; p++ {
			spec := batchSpec{baseTimestamp: time.Now().UnixMilli()}
			for range 50 {
				v, _ := json.Marshal(map[string]any{"seq": seq, "level": []string{"INFO", "ERROR"}[seq%2], "msg": "crash test record"})
				spec.recs = append(spec.recs, rec{key: []byte(strconv.Itoa(seq)), value: v})
				seq++
			}
			e.produce("crash", p, -1, spec.build(t))
		}
		var cp int64
		for p := int32(0); p < 2; p++ {
			c, _ := e.ix.Checkpoint("crash", p)
			cp += c
		}
		fmt.Printf("acked %d\nindexed %d\n", seq, cp)
	}
}

// TestCrashDuringIndexing kills (SIGKILL) a process while it produces and
// indexes, restarts on its directories, and checks that after catching
// up every record in the log is searchable exactly once.
func TestCrashDuringIndexing(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	acked, indexed := 0, int64(0)
	sc := bufio.NewScanner(out)
	deadline := time.Now().Add(60 * time.Second)
	for sc.Scan() && time.Now().Before(deadline) {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		n, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "acked":
			acked = int(n)
		case "indexed":
			indexed = n
		}
		// Kill mid-flight: well into indexing, with more produced than
		// indexed.
		if acked >= 3000 && indexed > 500 {
			break
		}
	}
	if acked < 3000 || indexed <= 500 {
		t.Fatalf("child made too little progress: acked %d, indexed %d", acked, indexed)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	killed = true
	t.Logf("killed the child after %d acked records, %d indexed", acked, indexed)

	// Restart on the same directories.
	ix := openCrashIndex(t, dir)
	var before [2]int64
	for p := int32(0); p < 2; p++ {
		before[p], _ = ix.Checkpoint("crash", p)
	}
	e := newEnv(t, envOptions{ix: ix, dataDir: filepath.Join(dir, "data"), meta: crashMeta(t)})
	total := 0
	errorsInLog := 0
	for p := int32(0); p < 2; p++ {
		e.waitIndexed("crash", p)
		l, err := e.h.Log("crash", p)
		if err != nil {
			t.Fatal(err)
		}
		if before[p] > l.NextOffset() {
			t.Fatalf("partition %d: recovered checkpoint %d is beyond the log end %d", p, before[p], l.NextOffset())
		}
		// Count the log's records with the record package (not the index).
		for off := l.StartOffset(); off < l.HighWatermark(); {
			b, err := l.Read(off, 1<<20, l.HighWatermark())
			if err != nil {
				t.Fatal(err)
			}
			for len(b) >= record.HeaderSize {
				h := record.ReadHeader(b)
				if _, err := record.WalkBatch(b[:h.Size()], &h, nil, 0, func(_ int, r *record.Record) error {
					total++
					var v struct{ Level string }
					if err := json.Unmarshal(r.Value, &v); err != nil {
						return err
					}
					if v.Level == "ERROR" {
						errorsInLog++
					}
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				b = b[h.Size():]
				off = h.LastOffset() + 1
			}
		}
	}
	if total < acked {
		t.Fatalf("log holds %d records, fewer than the %d acknowledged", total, acked)
	}
	t.Logf("recovered checkpoints %v; log holds %d records", before, total)
	s := e.searcher()
	wantEachRecordOnce(t, s, "crash", total)
	res, err := s.Search(context.Background(), "crash", &index.Request{Query: &index.TermQuery{Field: "level.keyword", Value: "ERROR"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Hits.Total.Value != int64(errorsInLog) {
		t.Fatalf("%d ERROR documents, want %d", res.Hits.Total.Value, errorsInLog)
	}
}
