package loadgen

import (
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// histMax is the largest value recorded, in microseconds (one hour); larger
// values are clamped to it, negative ones to zero.
const histMax = int64(time.Hour / time.Microsecond)

// histDigits is the histogram's precision in significant decimal digits:
// every recorded value is kept within 1% of its true value.
const histDigits = 2

// Histogram records durations in microseconds with a bounded relative
// error: a thin layer over an HDR histogram that keeps durations as
// durations and clamps what falls outside its range. The zero value is
// ready to use. It is not safe for concurrent use: give each goroutine its
// own and Merge them.
type Histogram struct {
	h *hdrhistogram.Histogram
}

func (h *Histogram) init() {
	if h.h == nil {
		h.h = hdrhistogram.New(0, histMax, histDigits)
	}
}

// Record adds one duration.
func (h *Histogram) Record(d time.Duration) {
	h.init()
	// In range by construction, so RecordValue cannot fail.
	_ = h.h.RecordValue(min(max(int64(d/time.Microsecond), 0), histMax))
}

// Merge adds every value of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.h == nil || o.h.TotalCount() == 0 {
		return
	}
	h.init()
	h.h.Merge(o.h)
}

// Reset forgets every value, keeping the histogram's memory.
func (h *Histogram) Reset() {
	if h.h != nil {
		h.h.Reset()
	}
}

// Count is the number of values recorded.
func (h *Histogram) Count() uint64 {
	if h.h == nil {
		return 0
	}
	return uint64(h.h.TotalCount())
}

func (h *Histogram) micros(v int64) time.Duration {
	if h.Count() == 0 {
		return 0
	}
	return time.Duration(v) * time.Microsecond
}

// Max is the largest value recorded, to the histogram's precision.
func (h *Histogram) Max() time.Duration {
	if h.h == nil {
		return 0
	}
	return h.micros(h.h.Max())
}

// Min is the smallest value recorded, to the histogram's precision.
func (h *Histogram) Min() time.Duration {
	if h.h == nil {
		return 0
	}
	return h.micros(h.h.Min())
}

// Mean is the average of the values recorded.
func (h *Histogram) Mean() time.Duration {
	if h.h == nil {
		return 0
	}
	return h.micros(int64(h.h.Mean()))
}

// Quantile returns the value below which a fraction q (0..1) of the
// recorded values fall: the highest value equivalent to the one at that
// rank, so a reported p99 is never optimistic. It is 0 when nothing was
// recorded.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.h == nil {
		return 0
	}
	return h.micros(h.h.ValueAtQuantile(q * 100))
}
