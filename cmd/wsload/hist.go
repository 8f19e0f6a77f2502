package main

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// histogram is a lock-free log-linear latency histogram (HDR-like) of
// durations in nanoseconds. Values below 2*subBuckets are exact; above, every
// power-of-two range is split into subBuckets linear buckets, so the relative
// error is below 1/subBuckets (<1%). Memory is fixed (~60 KiB) whatever the
// number of samples.
type histogram struct {
	counts [numBuckets]atomic.Uint64
	total  atomic.Uint64
	max    atomic.Int64
}

const (
	subBits    = 7
	subBuckets = 1 << subBits // 128
	numBuckets = 2*subBuckets + (64-subBits-1)*subBuckets
)

func bucketOf(v uint64) int {
	if v < 2*subBuckets {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1 // >= 1
	return 2*subBuckets + (shift-1)*subBuckets + int(v>>shift) - subBuckets
}

// bucketHigh is the largest value that falls in bucket i.
func bucketHigh(i int) uint64 {
	if i < 2*subBuckets {
		return uint64(i)
	}
	i -= 2 * subBuckets
	shift := i/subBuckets + 1
	sub := uint64(i%subBuckets + subBuckets)
	return (sub+1)<<shift - 1
}

func (h *histogram) record(d time.Duration) {
	v := max(int64(d), 0)
	h.counts[bucketOf(uint64(v))].Add(1)
	h.total.Add(1)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

func (h *histogram) maxValue() time.Duration { return time.Duration(h.max.Load()) }

// quantile returns the upper bound of the bucket holding the q-th quantile
// (0 < q <= 1), capped at the maximum recorded value.
func (h *histogram) quantile(q float64) time.Duration {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.5)
	rank = min(max(rank, 1), n)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return min(time.Duration(bucketHigh(i)), h.maxValue())
		}
	}
	return h.maxValue()
}
