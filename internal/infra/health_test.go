package infra

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/health"
	"github.com/gamepipe/gamepipe/internal/metrics"
	"github.com/gamepipe/gamepipe/internal/testutil"
)

// A background process answers readiness as the api does: status words in
// the body, the cause in the log; liveness stays 200; metrics are served.
func TestOpsMux(t *testing.T) {
	t.Parallel()
	reg := metrics.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "gamepipe_sink_rows_test_total", Help: "A test counter."})
	require.NoError(t, reg.Register(c))
	logs := &testutil.SyncBuffer{}
	srv := httptest.NewServer(OpsMux(zerolog.New(logs), reg,
		health.Check{Name: "nats", Check: func(context.Context) error { return nil }},
		health.Check{Name: "sink", Check: func(context.Context) error {
			return errors.New("postgres unavailable: dial tcp 10.9.8.7:5432: user worker_secret")
		}},
	))
	t.Cleanup(srv.Close)
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(raw)
	}

	code, body := get("/readyz")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.JSONEq(t, `{"status":"unavailable","checks":{"nats":"ok","sink":"unavailable"}}`, body)
	require.Contains(t, logs.String(), "worker_secret", "the cause is logged")

	code, body = get("/healthz")
	require.Equal(t, http.StatusOK, code)
	require.JSONEq(t, `{"status":"ok"}`, body)

	code, body = get("/metrics")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "gamepipe_sink_rows_test_total")
	require.Contains(t, body, "go_goroutines")
}
