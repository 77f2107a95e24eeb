package apicmd

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/natstest"
	"github.com/gamepipe/gamepipe/internal/store"
)

func TestRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.NewSchema(t)
	ns := natstest.Run(t)
	app, err := store.AppCreate(ctx, db.Pool, "game")
	require.NoError(t, err)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	metricsAddr := mln.Addr().String()
	require.NoError(t, mln.Close())
	env := map[string]string{
		"DATABASE_URL": db.URL, "NATS_URL": ns.ClientURL(), "DATA_DIR": t.TempDir(),
		"HTTP_ADDR": addr, "LOG_FORMAT": "json", "METRICS_ADDR": metricsAddr,
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- Run(runCtx, func(k string) string { return env[k] }, io.Discard) }()

	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 50*time.Millisecond)

	body, err := msgpack.Marshal(map[string]any{
		"funnel_step_name": "Tutorial_Start", "app_id": app.AppID.String(), "build_id": "b", "player_id": "p",
		"session_id": "s", "timestamp": "2026-02-12T10:00:00Z",
	})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/api/funnel", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/msgpack")
	req.Header.Set("x-public-token", app.PublicToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// Metrics are served on METRICS_ADDR only, never on the public address.
	resp, err = http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, err = http.Get("http://" + metricsAddr + "/metrics")
	require.NoError(t, err)
	scraped, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(scraped), `gamepipe_http_requests_total{code="200",route="POST /api/funnel"} 1`)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("api did not stop")
	}
}
