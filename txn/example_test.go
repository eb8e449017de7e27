package txn_test

import (
	"context"
	"fmt"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/idempotence"
	"github.com/chronik-go/chronik/metadata"
	"github.com/chronik-go/chronik/txn"
)

// printMarkers stands in for the produce path: it would append a control
// batch to the partition and return once it is durable.
type printMarkers struct{}

func (printMarkers) WriteMarker(_ context.Context, topic string, partition int32, producerID int64, epoch int16, _ int32, commit bool) error {
	fmt.Printf("marker %s/%d producer %d epoch %d commit=%v\n", topic, partition, producerID, epoch, commit)
	return nil
}

// A transactional producer's requests, in the order a client sends them,
// with a consumer-group offset committed inside the transaction.
func Example() {
	ctx := context.Background()
	store := metadata.NewMemory(1)
	defer store.Close()
	c, err := txn.New(store, idempotence.NewIDAllocator(store), printMarkers{}, txn.Options{})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	id := "orders-writer"
	pid, epoch, code := c.InitProducerID(ctx, 4, &id, 60000, -1, -1)
	fmt.Println("InitProducerId:", code, "epoch", epoch)
	res := c.AddPartitions(ctx, 3, id, pid, epoch, map[string][]int32{"orders": {0}})
	fmt.Println("AddPartitionsToTxn:", res["orders"][0])
	fmt.Println("Verify orders/0:", c.Verify(id, pid, epoch, "orders", 0))
	fmt.Println("AddOffsetsToTxn:", c.AddOffsets(ctx, 3, id, pid, epoch, "billing"))
	off := map[string]map[int32]txn.OffsetAndMetadata{"payments": {0: {Offset: 42, LeaderEpoch: -1}}}
	fmt.Println("TxnOffsetCommit:", c.TxnOffsetCommit(ctx, 3, id, pid, epoch, "billing", off)["payments"][0])
	got, _ := c.FetchOffsets(ctx, "billing", map[string][]int32{"payments": {0}}, true)
	fmt.Println("OffsetFetch before commit:", got["payments"][0].Code)
	code, _, _ = c.EndTxn(ctx, 3, id, pid, epoch, true)
	fmt.Println("EndTxn:", code)
	got, _ = c.FetchOffsets(ctx, "billing", map[string][]int32{"payments": {0}}, true)
	fmt.Println("OffsetFetch after commit:", got["payments"][0].Offset, got["payments"][0].Code == errcode.None)
	// Output:
	// InitProducerId: NONE epoch 0
	// AddPartitionsToTxn: NONE
	// Verify orders/0: NONE
	// AddOffsetsToTxn: NONE
	// TxnOffsetCommit: NONE
	// OffsetFetch before commit: UNSTABLE_OFFSET_COMMIT
	// marker orders/0 producer 0 epoch 0 commit=true
	// EndTxn: NONE
	// OffsetFetch after commit: 42 true
}
