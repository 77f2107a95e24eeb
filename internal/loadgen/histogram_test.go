package loadgen

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestHistogram(t *testing.T) {
	t.Parallel()

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
		require.InDelta(t, time.Millisecond, a.Min(), float64(time.Millisecond)/100)
		require.InDelta(t, 5*time.Millisecond, a.Max(), float64(5*time.Millisecond)/100)
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
			require.InDelta(t, want, got, want/100+1, "p%g is within 1%%", q*100)
		}
		require.InDelta(t, 10*time.Millisecond, h.Quantile(1), float64(10*time.Millisecond)/100)
		require.InDelta(t, 10*time.Millisecond, h.Max(), float64(10*time.Millisecond)/100)
		require.Equal(t, time.Microsecond, h.Min())
	})

	t.Run("ClampsOutOfRange", func(t *testing.T) {
		t.Parallel()

		var h Histogram
		h.Record(-time.Second)
		h.Record(3 * time.Hour)
		require.Zero(t, h.Min())
		require.InDelta(t, time.Hour, h.Max(), float64(time.Hour)/100)
	})
}
