package segment

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/chronik-go/chronik/compress"
	"github.com/chronik-go/chronik/internal/vfs"
)

func pct(d []time.Duration) string {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return fmt.Sprint("n=", len(d), " p50=", d[len(d)/2], " p90=", d[len(d)*9/10], " max=", d[len(d)-1])
}

func TestDbgGather(t *testing.T) {
	l, _ := Open(filepath.Join(t.TempDir(), "p"), Options{})
	tmpl := buildBatch(t, compress.None, rec{ts: t0, value: bytes.Repeat([]byte{1}, 16000)})
	var wg sync.WaitGroup
	start := time.Now()
	for range 8 {
		wg.Go(func() {
			buf := bytes.Clone(tmpl)
			for range 100 {
				base, _ := l.Append(buf, AppendInfo{Keys: [][]byte{}})
				l.WaitDurable(context.Background(), base+1)
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	st := l.Stats(); fmt.Println("at stats", len(DbgFsync), st.Syncs, st.NextOffset, l.Err())
	fmt.Println("elapsed", el, "syncs", st.Syncs, pct(DbgFsync))
	l.Close()
	// raw: 112 KiB per fsync
	f, _ := vfs.OS.OpenFile(filepath.Join(t.TempDir(), "raw"), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	var raw []time.Duration
	start = time.Now()
	for i := range 800 {
		f.Write(tmpl)
		if i%7 == 6 {
			ts := time.Now()
			f.Sync()
			raw = append(raw, time.Since(ts))
		}
	}
	fmt.Println("raw elapsed", time.Since(start), pct(raw))
}
