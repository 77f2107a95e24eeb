package health

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/testutil"
)

func get(t *testing.T, h http.Handler, path string) (int, map[string]any, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	var body map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
	return rec.Code, body, rec.Body.String()
}

func TestRegister(t *testing.T) {
	t.Parallel()

	var (
		mu    sync.Mutex
		cause error
	)
	logs := &testutil.SyncBuffer{}
	mux := http.NewServeMux()
	Register(mux, zerolog.New(logs),
		Check{Name: "postgres", Check: func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			return cause
		}},
		Check{Name: "nats", Check: func(context.Context) error { return nil }},
	)

	code, body, _ := get(t, mux, "/readyz")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, map[string]any{"status": "ok", "checks": map[string]any{"postgres": "ok", "nats": "ok"}}, body)

	mu.Lock()
	cause = errors.New("dial tcp 10.1.2.3:5432: user secret_user refused")
	mu.Unlock()
	code, body, raw := get(t, mux, "/readyz")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, map[string]any{"status": "unavailable", "checks": map[string]any{"postgres": "unavailable", "nats": "ok"}}, body)
	require.NotContains(t, raw, "secret_user", "the cause stays out of the body")
	require.NotContains(t, raw, "10.1.2.3")
	require.Contains(t, logs.String(), "secret_user", "the cause is logged")
	require.Contains(t, logs.String(), `"check":"postgres"`)

	// Liveness does not depend on the checks.
	code, body, _ = get(t, mux, "/healthz")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, map[string]any{"status": "ok"}, body)

	mu.Lock()
	cause = nil
	mu.Unlock()
	code, body, _ = get(t, mux, "/readyz")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ok", body["status"])
}

// The request's logger, when the caller's middleware set one, gets the
// cause, so the line carries the request's fields.
func TestReadyUsesRequestLogger(t *testing.T) {
	t.Parallel()
	fallback, reqLogs := &testutil.SyncBuffer{}, &testutil.SyncBuffer{}
	h := Ready(zerolog.New(fallback), Check{Name: "sink", Check: func(context.Context) error { return errors.New("postgres unavailable") }})
	rl := zerolog.New(reqLogs).With().Str("request_id", "r1").Logger()
	req := httptest.NewRequest(http.MethodGet, "/readyz", nil)
	req = req.WithContext(rl.WithContext(req.Context()))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Contains(t, reqLogs.String(), `"request_id":"r1"`)
	require.Contains(t, reqLogs.String(), "postgres unavailable")
	require.Empty(t, fallback.String())
}
