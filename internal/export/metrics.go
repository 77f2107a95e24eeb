package export

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// exporterMetrics are the exporter's collectors.
type exporterMetrics struct {
	events        *prometheus.CounterVec
	files         prometheus.Counter
	flushes       *prometheus.CounterVec
	flushErrors   prometheus.Counter
	flushDuration prometheus.Histogram
	poison        prometheus.Counter
	buffered      prometheus.Gauge
}

// newExporterMetrics builds the collectors and registers them on reg when
// it is not nil.
func newExporterMetrics(reg prometheus.Registerer) (*exporterMetrics, error) {
	m := &exporterMetrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gamepipe_export_events_total", Help: "Events written to export files and acknowledged, by kind.",
		}, []string{"kind"}),
		files: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gamepipe_export_files_total", Help: "Export files written.",
		}),
		flushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gamepipe_export_flushes_total", Help: "Exporter flushes by reason: size, age, count, request, shutdown.",
		}, []string{"reason"}),
		flushErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gamepipe_export_flush_errors_total", Help: "Day directories whose files could not all be written (events redelivered).",
		}),
		flushDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "gamepipe_export_flush_duration_seconds", Help: "Time to write, list and acknowledge one flush.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		poison: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gamepipe_export_poison_total", Help: "Messages terminated because they cannot be exported.",
		}),
		buffered: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gamepipe_export_buffered_events", Help: "Events held in memory, not yet written.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{
		m.events, m.files, m.flushes, m.flushErrors, m.flushDuration, m.poison, m.buffered,
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("error registering export metrics: %w", err)
		}
	}
	return m, nil
}
