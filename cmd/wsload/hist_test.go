package main

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketsMonotonic(t *testing.T) {
	prev := -1
	for _, v := range []uint64{0, 1, 255, 256, 257, 511, 512, 1000, 1 << 20, 1<<40 + 12345, 1<<63 - 1, 1<<64 - 1} {
		b := bucketOf(v)
		if b < prev {
			t.Fatalf(
				"bucket(%d)=%d not after %d",
				v, b, prev,
			)
		}
		if b >= numBuckets {
			t.Fatalf(
				"bucket(%d)=%d out of range",
				v, b,
			)
		}
		if hi := bucketHigh(b); hi < v {
			t.Fatalf(
				"bucketHigh(%d)=%d < %d",
				b, hi, v,
			)
		}
		if b > 0 && bucketHigh(b-1) >= v {
			t.Fatalf(
				"bucketHigh(%d)=%d >= %d",
				b-1, bucketHigh(b-1), v,
			)
		}
		prev = b
	}
}

func TestQuantileAccuracy(t *testing.T) {
	var h histogram
	r := rand.New(rand.NewPCG(1, 2))
	vals := make([]time.Duration, 100_000)
	for i := range vals {
		vals[i] = time.Duration(r.ExpFloat64() * float64(200*time.Microsecond))
		h.record(vals[i])
	}
	slices.Sort(vals)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := vals[int(q*float64(len(vals)))-1]
		got := h.quantile(q)
		if d := float64(got-exact) / float64(exact); d < -0.01 || d > 0.01 {
			t.Errorf(
				"q%.3f: got %v, exact %v",
				q, got, exact,
			)
		}
	}
	if h.maxValue() != vals[len(vals)-1] || h.quantile(1) != vals[len(vals)-1] {
		t.Errorf(
			"max %v / q1 %v, want %v",
			h.maxValue(), h.quantile(1), vals[len(vals)-1],
		)
	}
}
