package loadgen

import (
	"math/bits"
	"time"
)

// histSub is the number of linear sub-buckets per power of two: every
// recorded value is kept within 1/histSub (1.6%) of its true value, as an
// HDR histogram with two significant digits would.
const (
	histSubBits = 6
	histSub     = 1 << histSubBits
	// histMax is the largest value recorded, in microseconds (one hour);
	// larger values are clamped to it.
	histMax = int64(time.Hour / time.Microsecond)
)

// histBuckets is how many buckets cover 0..histMax.
var histBuckets = bucketOf(histMax) + 1

// Histogram records durations with a bounded relative error, in
// microseconds, in a fixed number of buckets (log-linear, like an HDR
// histogram). The zero value is ready to use. It is not safe for concurrent
// use: give each goroutine its own and Merge them.
type Histogram struct {
	counts []uint64
	n      uint64
	sum    int64 // microseconds
	min    int64
	max    int64
}

// bucketOf returns the bucket of a value in microseconds: values below
// histSub have a bucket each, above that each power of two is split into
// histSub equal parts.
func bucketOf(v int64) int {
	if v < histSub {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - histSubBits - 1
	return (shift+1)*histSub + int(v>>shift) - histSub
}

// bucketRange returns the smallest and largest values of bucket i.
func bucketRange(i int) (lo, hi int64) {
	if i < histSub {
		return int64(i), int64(i)
	}
	shift := i/histSub - 1
	lo = int64(i%histSub+histSub) << shift
	return lo, lo + int64(1)<<shift - 1
}

// Record adds one duration. Negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := min(max(int64(d/time.Microsecond), 0), histMax)
	if h.counts == nil {
		h.counts = make([]uint64, histBuckets)
	}
	h.counts[bucketOf(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	h.max = max(h.max, v)
	h.n++
	h.sum += v
}

// Merge adds every value of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	if h.counts == nil {
		h.counts = make([]uint64, histBuckets)
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// Reset forgets every value, keeping the buckets' memory.
func (h *Histogram) Reset() {
	clear(h.counts)
	h.n, h.sum, h.min, h.max = 0, 0, 0, 0
}

// Count is the number of values recorded.
func (h *Histogram) Count() uint64 { return h.n }

// Max is the largest value recorded (exact, to the microsecond).
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) * time.Microsecond }

// Min is the smallest value recorded (exact, to the microsecond).
func (h *Histogram) Min() time.Duration { return time.Duration(h.min) * time.Microsecond }

// Mean is the average of the values recorded.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum/int64(h.n)) * time.Microsecond
}

// Quantile returns the value below which a fraction q (0..1) of the
// recorded values fall: the highest value of the bucket holding the
// ceil(q×n)-th smallest value, capped at Max, so a reported p99 is never
// optimistic. It is 0 when nothing was recorded.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.999999)
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			_, hi := bucketRange(i)
			return time.Duration(min(hi, h.max)) * time.Microsecond
		}
	}
	return h.Max()
}
