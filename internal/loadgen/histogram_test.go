package loadgen

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestHistogram(t *testing.T) {
	t.Parallel()

	t.Run("BucketsCoverEveryValueWithinTheirError", func(t *testing.T) {
		t.Parallel()

		for _, v := range []int64{0, 1, 63, 64, 65, 127, 128, 129, 1000, 4095, 4096, 123456, 999999, histMax} {
			i := bucketOf(v)
			lo, hi := bucketRange(i)
			require.True(t, lo <= v && v <= hi, "value %d in bucket %d [%d, %d]", v, i, lo, hi)
			require.LessOrEqual(t, float64(hi-lo), float64(v)/histSub+1, "bucket of %d too wide", v)
			require.Less(t, i, histBuckets)
		}
	})

	t.Run("BucketsAreContiguous", func(t *testing.T) {
		t.Parallel()

		for i := 1; i < histBuckets; i++ {
			_, prevHi := bucketRange(i - 1)
			lo, _ := bucketRange(i)
			require.Equal(t, prevHi+1, lo, "bucket %d", i)
		}
	})

	t.Run("Empty", func(t *testing.T) {
		t.Parallel()

		var h Histogram
		require.Zero(t, h.Count())
		require.Zero(t, h.Quantile(0.99))
		require.Zero(t, h.Max())
		require.Zero(t, h.Mean())
	})

	t.Run("MergeAndReset", func(t *testing.T) {
		t.Parallel()

		var a, b Histogram
		a.Record(2 * time.Millisecond)
		b.Record(5 * time.Millisecond)
		b.Record(time.Millisecond)
		a.Merge(&b)
		require.EqualValues(t, 3, a.Count())
		require.Equal(t, time.Millisecond, a.Min())
		require.Equal(t, 5*time.Millisecond, a.Max())
		a.Reset()
		require.Zero(t, a.Count())
		a.Merge(&Histogram{}) // an empty one changes nothing
		require.Zero(t, a.Count())
	})

	t.Run("QuantilesOfAUniformRange", func(t *testing.T) {
		t.Parallel()

		var h Histogram
		for v := 1; v <= 10000; v++ {
			h.Record(time.Duration(v) * time.Microsecond)
		}
		for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
			want := q * 10000
			got := float64(h.Quantile(q) / time.Microsecond)
			require.GreaterOrEqual(t, got, want, "p%g is never optimistic", q*100)
			require.InDelta(t, want, got, want/histSub+1, "p%g", q*100)
		}
		require.Equal(t, 10*time.Millisecond, h.Quantile(1))
		require.Equal(t, 10*time.Millisecond, h.Max())
		require.Equal(t, time.Microsecond, h.Min())
	})

	t.Run("ClampsOutOfRange", func(t *testing.T) {
		t.Parallel()

		var h Histogram
		h.Record(-time.Second)
		h.Record(3 * time.Hour)
		require.Zero(t, h.Min())
		require.Equal(t, time.Hour, h.Max())
	})
}
