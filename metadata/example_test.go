package metadata_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/chronik-go/chronik/metadata"
)

func ExampleNewMemory() {
	store := metadata.NewMemory(1)
	defer store.Close()
	ctx := context.Background()

	if _, err := store.CreateTopic(ctx, "orders", 3, nil, map[string]string{"retention.ms": "86400000"}); err != nil {
		fmt.Println(err)
		return
	}
	// The produce path: a lock-free lookup per request.
	tp, ok := store.Topic("orders")
	p, _ := tp.Partition(2)
	fmt.Println(ok, tp.Name, len(tp.Partitions), p.Leader, p.LeaderEpoch, tp.Config.RetentionMs)

	// Leadership moves bump the epoch that fences the old leader.
	_ = store.SetLeader(ctx, "orders", 2, 1)
	tp, _ = store.Topic("orders")
	fmt.Println(tp.Partitions[2].LeaderEpoch)

	_, err := store.CreateTopic(ctx, "orders", 1, nil, nil)
	fmt.Println(metadata.ErrorCode(err))
	// Output:
	// true orders 3 1 0 86400000
	// 1
	// TOPIC_ALREADY_EXISTS
}

func ExampleParseTopicConfig() {
	c, err := metadata.ParseTopicConfig(map[string]string{
		"compression.type": "zstd",
		"cleanup.policy":   "delete,compact",
	})
	fmt.Println(c.CompressionType, c.Map()["cleanup.policy"], c.Compacted(), err)

	_, err = metadata.ParseTopicConfig(map[string]string{"retention.ms": "forever"})
	fmt.Println(err)
	_, err = metadata.ParseTopicConfig(map[string]string{"retention.hours": "1"})
	fmt.Println(err, "->", metadata.ErrorCode(err))
	// Output:
	// zstd compact,delete true <nil>
	// invalid value "forever" for topic config retention.ms: must be a 64-bit integer
	// unknown topic config name: retention.hours -> INVALID_CONFIG
}

func ExampleOpenBolt() {
	dir, err := os.MkdirTemp("", "metadata-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "metadata.db")
	ctx := context.Background()

	store, err := metadata.OpenBolt(path, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	created, _ := store.CreateTopic(ctx, "events", 2, []int32{0}, nil)
	first, _ := store.AllocateProducerIDs(ctx, 1000)
	store.Close()

	// Topics and the producer-id counter survive a restart.
	store, err = metadata.OpenBolt(path, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()
	tp, _ := store.Topic("events")
	next, _ := store.AllocateProducerIDs(ctx, 1000)
	fmt.Println(tp.ID == created.ID, len(tp.Partitions), first, next)
	// Output: true 2 0 1000
}

// A transaction coordinator moves a transactional id from one state to the
// next only if nobody else did first.
func ExampleStore_compareAndSwap() {
	var store metadata.Store = metadata.NewMemory(0)
	defer store.Close()
	ctx := context.Background()

	ok, _ := store.CompareAndSwap(ctx, "txn", "payments-app", nil, []byte("Empty"))
	fmt.Println("created:", ok)
	ok, _ = store.CompareAndSwap(ctx, "txn", "payments-app", []byte("Empty"), []byte("Ongoing"))
	fmt.Println("began:", ok)
	ok, _ = store.CompareAndSwap(ctx, "txn", "payments-app", []byte("Empty"), []byte("Ongoing"))
	fmt.Println("stale writer:", ok)
	// Output:
	// created: true
	// began: true
	// stale writer: false
}
