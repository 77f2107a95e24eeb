package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/rs/zerolog"
)

// handleHealthz answers 200 while the process runs.
func (s *Server) handleHealthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// handleReadyz answers 200 when every dependency answers, else 503. The
// route is public, so the body names each check with a status word only
// ("ok" or "unavailable"); why a check failed (a driver's error names the
// database user, host and port) goes to the log.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	status, checks := http.StatusOK, make(map[string]string, len(s.ready))
	for _, c := range s.ready {
		if err := c.Check(ctx); err != nil {
			zerolog.Ctx(r.Context()).Warn().Err(err).Str("check", c.Name).Msg("httpapi: readiness check failed")
			status, checks[c.Name] = http.StatusServiceUnavailable, "unavailable"
			continue
		}
		checks[c.Name] = "ok"
	}
	body := map[string]any{"status": "ok", "checks": checks}
	if status != http.StatusOK {
		body["status"] = "unavailable"
	}
	writeJSON(w, status, body)
}
