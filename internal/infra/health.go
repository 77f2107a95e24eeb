package infra

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/gamepipe/gamepipe/internal/health"
	"github.com/gamepipe/gamepipe/internal/metrics"
)

// OpsMux serves a background process's (worker, exporter) /healthz,
// /readyz and /metrics, the first two as package health describes.
func OpsMux(logger zerolog.Logger, g prometheus.Gatherer, checks ...health.Check) *http.ServeMux {
	mux := http.NewServeMux()
	health.Register(mux, logger, checks...)
	mux.Handle("GET /metrics", metrics.Handler(g))
	return mux
}

// HealthServer is an http.Server for OpsMux or a metrics handler, with sane
// timeouts.
func HealthServer(addr string, h http.Handler) *http.Server {
	return &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
}
