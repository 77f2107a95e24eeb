package httpapi

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// apiMetrics are the api's collectors.
type apiMetrics struct {
	// HTTPRequests counts API requests by route and status code.
	HTTPRequests *prometheus.CounterVec
	// HTTPDuration observes API request durations by route.
	HTTPDuration *prometheus.HistogramVec
	// EventsAccepted counts events acknowledged by JetStream, by kind.
	EventsAccepted *prometheus.CounterVec
	// EventsRejected counts rejected events (or requests, where no event
	// could be read) by reason: the error code sent to the client.
	EventsRejected *prometheus.CounterVec
	// PublishLatency observes the time from the first publish of a request
	// to its last JetStream ack.
	PublishLatency prometheus.Histogram
}

// newAPIMetrics builds the collectors and registers them on reg when it is
// not nil.
func newAPIMetrics(reg prometheus.Registerer) (*apiMetrics, error) {
	m := &apiMetrics{
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gamepipe_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		HTTPDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gamepipe_http_request_duration_seconds", Help: "HTTP request durations by route.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"route"}),
		EventsAccepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gamepipe_events_accepted_total", Help: "Telemetry events acknowledged by JetStream, by kind.",
		}, []string{"kind"}),
		EventsRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gamepipe_events_rejected_total", Help: "Rejected telemetry requests by reason.",
		}, []string{"reason"}),
		PublishLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "gamepipe_publish_latency_seconds", Help: "Time from a request's first publish to its last JetStream ack.",
			Buckets: prometheus.ExponentialBuckets(0.0002, 2, 14),
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.HTTPRequests, m.HTTPDuration, m.EventsAccepted, m.EventsRejected, m.PublishLatency} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("error registering api metrics: %w", err)
		}
	}
	return m, nil
}
