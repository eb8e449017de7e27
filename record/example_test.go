package record_test

import (
	"fmt"
	"math"

	"github.com/chronik-go/chronik/compress"
	"github.com/chronik-go/chronik/record"
)

// A client batch as a producer would send it.
func clientBatch() []byte {
	b := record.NewBuilder()
	b.Codec = compress.LZ4
	b.ProducerID, b.ProducerEpoch, b.BaseSequence = 1000, 0, 0
	b.Append(1_700_000_000_000, []byte("user-1"), []byte(`{"event":"login"}`))
	b.Append(1_700_000_000_250, []byte("user-2"), []byte(`{"event":"logout"}`),
		record.RecordHeader{Key: []byte("trace"), Value: []byte("abc")})
	out, err := b.Finish(nil)
	if err != nil {
		panic(err)
	}
	return out
}

// The produce path for one partition of a Produce v3+ request: the
// request-level format rules, then validation, then the in-place rewrites
// of an append.
func ExampleValidator_ValidateBatch() {
	batch, err := record.CheckProduceRecords(clientBatch(), true)
	if err != nil {
		fmt.Println("refused:", record.ErrorCode(err))
		return
	}
	v := &record.Validator{
		Now:                  1_700_000_001_000,
		MaxMessageBytes:      1048588,
		TimestampBeforeMaxMs: math.MaxInt64,
		TimestampAfterMaxMs:  3_600_000,
		Limit:                64 << 20,
		Partition:            "events-0",
	}
	var scratch []byte
	res, scratch, err := v.ValidateBatch(batch, scratch)
	if err != nil {
		fmt.Println("refused:", record.ErrorCode(err))
		return
	}
	if len(res.Errors) > 0 {
		code, msg := record.SummarizeErrors(res.Errors)
		fmt.Println("refused:", code, msg)
		return
	}
	stored := res.Batch
	if res.NeedsRebuild(compress.Zstd) { // the topic's compression.type
		if stored, err = record.Rebuild(nil, &res.Header, scratch, compress.Zstd, 0); err != nil {
			panic(err)
		}
	}
	record.SetBaseOffset(stored, 42)
	record.SetPartitionLeaderEpoch(stored, 7)
	record.SetMaxTimestamp(stored, res.MaxTimestamp, false)
	h := record.ReadHeader(stored)
	fmt.Println(res.Records, "records, codec", h.Codec(), "offsets", h.BaseOffset, "to", h.LastOffset(), "max timestamp", h.MaxTimestamp, "CRC ok", record.CRCValid(stored))
	// Output: 2 records, codec zstd offsets 42 to 43 max timestamp 1700000000250 CRC ok true
}

func ExampleWalkBatch() {
	b := clientBatch()
	h, err := record.CheckBatch(b)
	if err != nil {
		panic(err)
	}
	_, err = record.WalkBatch(b, &h, nil, 1<<20, func(i int, r *record.Record) error {
		fmt.Printf("%d: offset %d time %d key %s value %s\n", i, h.Offset(r), h.Timestamp(r), r.Key, r.Value)
		return r.ForEachHeader(func(k, v []byte) error {
			fmt.Printf("   header %s=%s\n", k, v)
			return nil
		})
	})
	if err != nil {
		panic(err)
	}
	// Output:
	// 0: offset 0 time 1700000000000 key user-1 value {"event":"login"}
	// 1: offset 1 time 1700000000250 key user-2 value {"event":"logout"}
	//    header trace=abc
}

func ExampleAppendControlBatch() {
	marker := record.AppendControlBatch(nil, 1000, 1, true, 5, 1_700_000_002_000)
	h := record.ReadHeader(marker)
	_, err := record.WalkBatch(marker, &h, nil, 0, func(_ int, r *record.Record) error {
		typ, coordinatorEpoch, err := record.ParseMarker(r)
		fmt.Println("control", h.Control(), "transactional", h.Transactional(), "commit", typ == record.ControlCommit, "coordinator epoch", coordinatorEpoch)
		return err
	})
	if err != nil {
		panic(err)
	}
	// Output: control true transactional true commit true coordinator epoch 5
}
