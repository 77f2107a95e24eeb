package infra

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/gamepipe/gamepipe/internal/metrics"
)

// Check is one named health probe; nil means healthy.
type Check struct {
	Name  string
	Check func(ctx context.Context) error
}

// HealthMux serves a background process's /healthz, /readyz and /metrics.
// /healthz is liveness: always 200, with "degraded" and the failing checks
// in the body while a dependency is away; /readyz answers 503 then.
func HealthMux(m *metrics.Metrics, checks ...Check) *http.ServeMux {
	run := func(r *http.Request) (map[string]string, bool) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		out, ok := make(map[string]string, len(checks)), true
		for _, c := range checks {
			if err := c.Check(ctx); err != nil {
				out[c.Name], ok = err.Error(), false
				continue
			}
			out[c.Name] = "ok"
		}
		return out, ok
	}
	write := func(w http.ResponseWriter, status int, ok bool, results map[string]string) {
		s := "ok"
		if !ok {
			s = "degraded"
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"status": s, "checks": results})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		results, ok := run(r)
		write(w, http.StatusOK, ok, results)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		results, ok := run(r)
		status := http.StatusOK
		if !ok {
			status = http.StatusServiceUnavailable
		}
		write(w, status, ok, results)
	})
	mux.Handle("GET /metrics", m.Handler())
	return mux
}

// HealthServer is an http.Server for HealthMux with sane timeouts.
func HealthServer(addr string, h http.Handler) *http.Server {
	return &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
}
