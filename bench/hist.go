package main

import (
	"math/bits"
	"time"
)

// histogram counts durations in log-linear buckets: exact below 32 ns, then
// 16 buckets per power of two (at most 6.25% relative error), so that
// percentiles of millions of latencies cost a fixed 8 KiB per histogram.
// It is not safe for concurrent use; producers keep one each and merge.
type histogram struct {
	counts [histBuckets]uint64
	total  uint64
	max    time.Duration
}

// histSub is the number of buckets per power of two; histBuckets covers
// every non-negative int64.
const (
	histSub     = 16
	histBuckets = 2*histSub + 59*histSub
)

// histIndex returns the bucket of v nanoseconds.
func histIndex(v uint64) int {
	if v < 2*histSub {
		return int(v)
	}
	shift := bits.Len64(v) - 5 // v>>shift is in [16, 32)
	return 2*histSub + (shift-1)*histSub + int(v>>uint(shift)) - histSub
}

// histLow returns the smallest value counted in bucket i.
func histLow(i int) uint64 {
	if i < 2*histSub {
		return uint64(i)
	}
	shift := (i-2*histSub)/histSub + 1
	m := uint64((i-2*histSub)%histSub + histSub)
	return m << uint(shift)
}

// record counts one duration; negative durations count as zero.
func (h *histogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[histIndex(uint64(d))]++
	h.total++
	if d > h.max {
		h.max = d
	}
}

// merge adds o's counts to h.
func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	if o.max > h.max {
		h.max = o.max
	}
}

// quantile returns the q-quantile (0 < q <= 1) as the midpoint of the
// bucket holding it, never above the largest value seen; 0 when empty.
func (h *histogram) quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(q * float64(h.total))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo := histLow(i)
			hi := histLow(i+1) - 1
			if i+1 >= histBuckets {
				hi = lo
			}
			mid := time.Duration(lo + (hi-lo)/2)
			return min(mid, h.max)
		}
	}
	return h.max
}
