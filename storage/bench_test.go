package storage_test

import (
	"bytes"
	"context"
	"io"
	"net/url"
	"testing"

	"github.com/chronik-go/chronik/storage"
)

// BenchmarkPutGet writes a 1 MiB object and reads it back whole and as a
// 64 KiB range, checking the bytes, on each local backend side by side.
func BenchmarkPutGet(b *testing.B) {
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	backends := []struct {
		name string
		open func(b *testing.B) storage.ObjectStore
	}{
		{"memory", func(*testing.B) storage.ObjectStore { return storage.NewMemory() }},
		{"blob-mem", func(b *testing.B) storage.ObjectStore { return openBench(b, "mem://") }},
		{"blob-file", func(b *testing.B) storage.ObjectStore {
			u := url.URL{Scheme: "file", Path: b.TempDir(), RawQuery: "create_dir=true"}
			return openBench(b, u.String())
		}},
	}
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			s := be.open(b)
			defer s.Close()
			ctx := context.Background()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if err := s.Put(ctx, "bench/obj", bytes.NewReader(data), int64(len(data))); err != nil {
					b.Fatal(err)
				}
				if got := readAll(b, s, 0, -1); !bytes.Equal(got, data) {
					b.Fatal("whole read differs")
				}
				if got := readAll(b, s, 500_000, 64<<10); !bytes.Equal(got, data[500_000:500_000+64<<10]) {
					b.Fatal("ranged read differs")
				}
			}
		})
	}
}

func openBench(b *testing.B, raw string) storage.ObjectStore {
	s, err := storage.OpenBlob(context.Background(), raw)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func readAll(b *testing.B, s storage.ObjectStore, off, n int64) []byte {
	rc, err := s.Get(context.Background(), "bench/obj", off, n)
	if err != nil {
		b.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		b.Fatal(err)
	}
	return got
}
