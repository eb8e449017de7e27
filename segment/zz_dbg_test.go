package segment

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chronik-go/chronik/compress"
)

func TestDbgGather(t *testing.T) {
	t1 := time.Now()
	l, _ := Open(filepath.Join(t.TempDir(), "p"), Options{})
	fmt.Println("open", time.Since(t1))
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
	st := l.Stats()
	fmt.Println("elapsed", time.Since(start), "syncs", st.Syncs)
	t1 = time.Now()
	l.Close()
	fmt.Println("close", time.Since(t1))
}
