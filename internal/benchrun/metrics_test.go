package benchrun

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const sampleMetrics = `# HELP gamepipe_sink_rows_total Telemetry rows committed by the sink, by kind.
# TYPE gamepipe_sink_rows_total counter
gamepipe_sink_rows_total{kind="gameplay"} 600
gamepipe_sink_rows_total{kind="realtime"} 200
gamepipe_sink_lag_seconds_bucket{le="0.005"} 0
gamepipe_sink_lag_seconds_bucket{le="0.01"} 10
gamepipe_sink_lag_seconds_bucket{le="0.02"} 90
gamepipe_sink_lag_seconds_bucket{le="0.04"} 100
gamepipe_sink_lag_seconds_bucket{le="+Inf"} 100
gamepipe_sink_lag_seconds_sum 1.5
gamepipe_sink_lag_seconds_count 100
go_goroutines 12
`

func TestMetrics(t *testing.T) {
	t.Parallel()

	s, err := parseMetrics(strings.NewReader(sampleMetrics))
	require.NoError(t, err)

	t.Run("Sum", func(t *testing.T) {
		t.Parallel()

		require.InDelta(t, 800, s.sum("gamepipe_sink_rows_total"), 1e-9)
		require.InDelta(t, 12, s.sum("go_goroutines"), 1e-9)
		require.Zero(t, s.sum("missing"))
	})

	t.Run("Quantile", func(t *testing.T) {
		t.Parallel()

		h := s.histogram("gamepipe_sink_lag_seconds")
		require.Len(t, h, 5)
		require.True(t, math.IsInf(h[4].le, 1))
		p50, above := quantile(0.5, h)
		require.False(t, above)
		require.InDelta(t, 0.015, p50, 1e-9, "rank 50 is half-way through the (0.01, 0.02] bucket")
		p99, _ := quantile(0.99, h)
		require.InDelta(t, 0.038, p99, 1e-9)
	})

	t.Run("InTheInfBucket", func(t *testing.T) {
		t.Parallel()

		h := []bucket{{0.5, 1}, {1, 2}, {math.Inf(1), 100}}
		v, above := quantile(0.99, h)
		require.True(t, above)
		require.InDelta(t, 1, v, 1e-9)
	})

	t.Run("Empty", func(t *testing.T) {
		t.Parallel()

		v, _ := quantile(0.99, nil)
		require.True(t, math.IsNaN(v))
		v, _ = quantile(0.99, []bucket{{1, 0}, {math.Inf(1), 0}})
		require.True(t, math.IsNaN(v))
	})

	t.Run("Delta", func(t *testing.T) {
		t.Parallel()

		before := []bucket{{0.01, 5}, {math.Inf(1), 5}}
		after := []bucket{{0.01, 15}, {math.Inf(1), 25}}
		require.Equal(t, []bucket{{0.01, 10}, {math.Inf(1), 20}}, histogramDelta(before, after))
	})
}

func TestSlope(t *testing.T) {
	t.Parallel()

	x := []float64{0, 1, 2, 3, 4}
	require.InDelta(t, 2, slope(x, []float64{10, 12, 14, 16, 18}), 1e-9, "a growing backlog")
	require.InDelta(t, 0, slope(x, []float64{500, 900, 100, 900, 500}), 1e-9, "one that comes and goes")
	require.InDelta(t, -1, slope(x, []float64{4, 3, 2, 1, 0}), 1e-9)
	require.Zero(t, slope([]float64{1}, []float64{5}), "too few points")
}
