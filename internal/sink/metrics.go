package sink

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// sinkMetrics are the sink's collectors.
type sinkMetrics struct {
	// batchSize observes how many messages each commit held.
	batchSize prometheus.Histogram
	// lag observes, per committed event, now minus received_at.
	lag prometheus.Histogram
	// rows counts rows written, by kind.
	rows *prometheus.CounterVec
	// deadLetters counts messages sent to the dead-letter table.
	deadLetters prometheus.Counter
	// errors counts failed batches (not acked, redelivered later).
	errors prometheus.Counter
}

// newSinkMetrics builds the collectors and registers them on reg when it is
// not nil. Several sinks of one process share a registry: a collector
// already registered there by another sink is used instead of the new one,
// so their counts add up.
func newSinkMetrics(reg prometheus.Registerer) (*sinkMetrics, error) {
	m := &sinkMetrics{
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "gamepipe_sink_batch_size", Help: "Messages per sink commit.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12),
		}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "gamepipe_sink_lag_seconds", Help: "Time from an event's acceptance to its commit in Postgres.",
			Buckets: lagBuckets,
		}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gamepipe_sink_rows_total", Help: "Telemetry rows committed by the sink, by kind.",
		}, []string{"kind"}),
		deadLetters: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gamepipe_sink_dead_letters_total", Help: "Messages the sink could not decode, kept in dead_letters.",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gamepipe_sink_batch_errors_total", Help: "Sink batches that failed and were left for redelivery.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.batchSize, err = register(reg, m.batchSize); err != nil {
		return nil, err
	}
	if m.lag, err = register(reg, m.lag); err != nil {
		return nil, err
	}
	if m.rows, err = register(reg, m.rows); err != nil {
		return nil, err
	}
	if m.deadLetters, err = register(reg, m.deadLetters); err != nil {
		return nil, err
	}
	if m.errors, err = register(reg, m.errors); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c on reg, or returns the equal collector registered
// there before.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("error registering sink metrics: %w", err)
}

// lagBuckets are fine around the one-second objective of make bench's lag
// row (and of a dashboard's alert): with doubling buckets a p99 between
// 0.64 s and 1.28 s could not be told from 1.2 s.
var lagBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1,
	1.25, 1.5, 2, 2.5, 3, 4, 5, 7.5, 10, 20, 30, 60, 120, 300}
