package segment_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/chronik-go/chronik/record"
	"github.com/chronik-go/chronik/segment"
)

// newBatch builds a one-record v2 batch, as a produce handler receives it
// after validation.
func newBatch(key, value string) []byte {
	b := record.NewBuilder()
	b.Append(time.Now().UnixMilli(), []byte(key), []byte(value))
	out, err := b.Finish(nil)
	if err != nil {
		log.Fatal(err)
	}
	return out
}

// The acks=all path of a produce request: append, then wait for the group
// commit's fsync to cover the batch; then a consumer reads below the high
// watermark.
func Example() {
	dir, err := os.MkdirTemp("", "segment-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	l, err := segment.Open(filepath.Join(dir, "orders-0"), segment.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()

	for _, v := range []string{"created", "paid", "shipped"} {
		base, err := l.Append(newBatch("order-42", v), segment.AppendInfo{})
		if err != nil {
			log.Fatal(err)
		}
		if err := l.WaitDurable(context.Background(), base+1); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("log end offset:", l.NextOffset(), "high watermark:", l.HighWatermark())

	data, err := l.Read(0, 1<<20, l.HighWatermark())
	if err != nil {
		log.Fatal(err)
	}
	for len(data) > 0 {
		h := record.ReadHeader(data)
		fmt.Println("batch at offset", h.BaseOffset, "of", h.Size(), "bytes")
		data = data[h.Size():]
	}

	recs, stats, err := l.LookupKey([]byte("order-42"), 2)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range recs {
		fmt.Printf("offset %d: %s\n", r.Offset, r.Value)
	}
	fmt.Println("segments scanned:", stats.SegmentsScanned)
	// Output:
	// log end offset: 3 high watermark: 3
	// batch at offset 0 of 83 bytes
	// batch at offset 1 of 80 bytes
	// batch at offset 2 of 83 bytes
	// offset 2: shipped
	// offset 1: paid
	// segments scanned: 1
}
