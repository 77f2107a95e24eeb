package sink

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// The sinks of one process share a registry, and their counts add up.
func TestMetricsShareARegistry(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	a, err := newSinkMetrics(reg)
	require.NoError(t, err)
	b, err := newSinkMetrics(reg)
	require.NoError(t, err)
	a.rows.WithLabelValues("gameplay").Add(2)
	b.rows.WithLabelValues("gameplay").Add(3)
	b.errors.Inc()
	families, err := reg.Gather()
	require.NoError(t, err)
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			got[f.GetName()] += m.GetCounter().GetValue()
		}
	}
	require.Equal(t, 5.0, got["gamepipe_sink_rows_total"])
	require.Equal(t, 1.0, got["gamepipe_sink_batch_errors_total"])

	// Unregistered: every collector still works.
	c, err := newSinkMetrics(nil)
	require.NoError(t, err)
	c.lag.Observe(1)
}
