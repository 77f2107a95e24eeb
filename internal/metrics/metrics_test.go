package metrics

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Each process serves only the collectors it updates.
func TestProcessSets(t *testing.T) {
	t.Parallel()
	names := func(m *Metrics) string {
		m.HTTPRequests.WithLabelValues("r", "200").Inc()
		m.EventsAccepted.WithLabelValues("gameplay").Inc()
		m.EventsRejected.WithLabelValues("x").Inc()
		m.HTTPDuration.WithLabelValues("r").Observe(1)
		m.SinkRows.WithLabelValues("gameplay").Inc()
		families, err := m.Registry.Gather()
		require.NoError(t, err)
		var b strings.Builder
		for _, f := range families {
			b.WriteString(f.GetName() + "\n")
		}
		return b.String()
	}
	api, worker, exporter, all := names(NewAPI()), names(NewWorker()), names(NewExporter()), names(New())
	for _, s := range []string{api, worker, exporter, all} {
		require.Contains(t, s, "go_goroutines")
		require.Contains(t, s, "process_resident_memory_bytes")
	}
	require.Contains(t, api, "gamepipe_http_requests_total")
	require.Contains(t, api, "gamepipe_events_accepted_total")
	require.NotContains(t, api, "gamepipe_sink")
	require.Contains(t, worker, "gamepipe_sink_rows_total")
	require.Contains(t, worker, "gamepipe_sink_lag_seconds")
	require.NotContains(t, worker, "gamepipe_http")
	require.NotContains(t, exporter, "gamepipe_")
	require.Contains(t, all, "gamepipe_http_requests_total")
	require.Contains(t, all, "gamepipe_sink_rows_total")
}
