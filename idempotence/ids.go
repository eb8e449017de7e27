package idempotence

import (
	"context"
	"fmt"
	"sync"
)

// BlockSize is how many producer ids an IDAllocator reserves at a time, as
// Kafka brokers get them from the controller in blocks of 1000.
const BlockSize = 1000

// IDSource reserves ranges of producer ids that are unique forever: across
// restarts and across brokers sharing the source. metadata.Store
// implements it.
type IDSource interface {
	AllocateProducerIDs(ctx context.Context, n int64) (first int64, err error)
}

// IDAllocator hands out producer ids for InitProducerId from blocks
// reserved in an IDSource. Ids of a block not used before a restart are
// skipped, never reused. It is safe for concurrent use.
type IDAllocator struct {
	src IDSource

	mu        sync.Mutex // guards next and end
	next, end int64      // the unused part of the current block: [next, end)
	blockSize int64
}

// NewIDAllocator returns an allocator over src.
func NewIDAllocator(src IDSource) *IDAllocator {
	return &IDAllocator{src: src, blockSize: BlockSize}
}

// Next returns a new producer id, reserving a new block when the current
// one is used up. An error from the source (for example an unavailable
// store) is returned as is; Kafka answers COORDINATOR_LOAD_IN_PROGRESS
// while a block is being fetched, a host may do the same.
func (a *IDAllocator) Next(ctx context.Context) (int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.next >= a.end {
		first, err := a.src.AllocateProducerIDs(ctx, a.blockSize)
		if err != nil {
			return -1, fmt.Errorf("idempotence: reserving producer ids: %w", err)
		}
		a.next, a.end = first, first+a.blockSize
	}
	id := a.next
	a.next++
	return id, nil
}
