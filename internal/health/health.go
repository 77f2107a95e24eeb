// Package health answers a process's liveness (GET /healthz) and readiness
// (GET /readyz) in one vocabulary, for the api, the worker and the exporter
// alike.
//
// A check is either StatusOK or StatusUnavailable; there is no third state.
// Liveness says only that the process runs and serves HTTP: it is always 200
// {"status":"ok"}, so an orchestrator never restarts a process for a
// dependency that is away (each retries on its own). Readiness runs every
// check: 200 when all pass, else 503 with status "unavailable". Its body
// names each check with a status word only, since the address may be public
// and a driver's error names hosts, ports and users; why a check failed goes
// to the log. docs/architecture.md ("Health and readiness") describes it.
package health

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/rs/zerolog"
)

// The status words of a check and of a whole answer.
const (
	// StatusOK: the check passed (or, for liveness, the process runs).
	StatusOK = "ok"
	// StatusUnavailable: the check failed; the process keeps retrying.
	StatusUnavailable = "unavailable"
)

// checkTimeout bounds one readiness answer, all checks together.
const checkTimeout = 2 * time.Second

// Check is one named readiness probe; a nil error means ready.
type Check struct {
	// Name is the key of the check in the readiness body ("postgres").
	Name string
	// Check probes the dependency within ctx's deadline.
	Check func(ctx context.Context) error
}

// Response is the JSON body of /healthz and /readyz.
type Response struct {
	// Status is StatusOK or StatusUnavailable.
	Status string `json:"status"`
	// Checks holds each readiness check's status word; empty for liveness.
	Checks map[string]string `json:"checks,omitempty"`
}

// Register adds GET /healthz and GET /readyz to mux. logger receives the
// cause of a failed check unless the request's context carries a logger
// (zerolog.Ctx), which then wins so the line keeps the request's fields.
func Register(mux *http.ServeMux, logger zerolog.Logger, checks ...Check) {
	mux.HandleFunc("GET /healthz", Live)
	mux.Handle("GET /readyz", Ready(logger, checks...))
}

// Live answers liveness: 200 {"status":"ok"} while the process runs.
func Live(w http.ResponseWriter, _ *http.Request) {
	write(w, http.StatusOK, &Response{Status: StatusOK})
}

// Ready answers readiness from checks: 200 when every check passes, else
// 503; each failure is logged with its check's name.
func Ready(logger zerolog.Logger, checks ...Check) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log := zerolog.Ctx(r.Context())
		if log.GetLevel() == zerolog.Disabled {
			log = &logger
		}
		ctx, cancel := context.WithTimeout(r.Context(), checkTimeout)
		defer cancel()
		resp, code := &Response{Status: StatusOK, Checks: make(map[string]string, len(checks))}, http.StatusOK
		for _, c := range checks {
			if err := c.Check(ctx); err != nil {
				log.Warn().Err(err).Str("check", c.Name).Msg("health: readiness check failed")
				resp.Checks[c.Name], resp.Status, code = StatusUnavailable, StatusUnavailable, http.StatusServiceUnavailable
				continue
			}
			resp.Checks[c.Name] = StatusOK
		}
		write(w, code, resp)
	})
}

// write sends resp as JSON with the status code.
func write(w http.ResponseWriter, code int, resp *Response) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(resp)
}
