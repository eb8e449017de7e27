package index_test

import (
	"testing"
	"time"

	"github.com/chronik-go/chronik/index"
	"github.com/chronik-go/chronik/index/indextest"
)

func TestMemoryConformance(t *testing.T) {
	indextest.Run(t, func(t *testing.T, dir string) index.Indexer { return index.NewMemory() })
}

func TestBlugeConformance(t *testing.T) {
	indextest.RunDurable(t, func(t *testing.T, dir string) index.Indexer {
		ix, err := index.OpenBluge(dir, index.BlugeOptions{PersistDelay: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return ix
	})
}
