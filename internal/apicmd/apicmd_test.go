package apicmd

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/natstest"
	"github.com/gamepipe/gamepipe/internal/natstest/roletest"
	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/testutil"
)

func TestRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.NewSchema(t)
	// A closed NATS: the api connects as its role's user, allowed only
	// what the api does (eventstream.RoleAPI's permissions).
	ns := roletest.Run(t)
	creds := roletest.Credentials(eventstream.RoleAPI)
	app, err := store.AppCreate(ctx, db.Pool, "game")
	require.NoError(t, err)

	addr, metricsAddr := testutil.FreeAddr(t), testutil.FreeAddr(t)
	env := map[string]string{
		"DATABASE_URL": db.URL, "NATS_URL": ns.ClientURL(), "DATA_DIR": t.TempDir(),
		"HTTP_ADDR": addr, "LOG_FORMAT": "json", "METRICS_ADDR": metricsAddr,
		// Only the flush at shutdown can write the rejected events.
		"REJECTIONS_FLUSH_INTERVAL": "1h",
		"NATS_USER":                 creds.User, "NATS_PASSWORD": creds.Password,
	}
	logs := &testutil.SyncBuffer{}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- Run(runCtx, func(k string) string { return env[k] }, logs) }()

	testutil.WaitReady(t, addr)

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

	// A refused event of the app: counted in memory, added at shutdown.
	bad, err := msgpack.Marshal(map[string]any{"funnel_step_name": "Tutorial_Start", "app_id": app.AppID.String()})
	require.NoError(t, err)
	req, err = http.NewRequest(http.MethodPost, "http://"+addr+"/api/funnel", bytes.NewReader(bad))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/msgpack")
	req.Header.Set("x-public-token", app.PublicToken)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("api did not stop")
	}
	var rejected int64
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT sum(events) FROM ingest_rejections WHERE app_id = $1 AND reason = 'missing_field'`,
		app.AppID).Scan(&rejected))
	require.Equal(t, int64(1), rejected)
	require.Contains(t, logs.String(), `"auth":"password"`)
	require.NotContains(t, logs.String(), "NATS refused", "the api's user may do all the api did")
	require.NotContains(t, logs.String(), creds.Password)
}

// TestRunWithoutPostgres starts the api while Postgres cannot be reached: it
// serves /healthz, answers /readyz 503 and refuses ingestion with a
// retryable 503, then becomes ready once Postgres answers.
func TestRunWithoutPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.NewSchema(t)
	ns := natstest.Run(t)
	app, err := store.AppCreate(ctx, db.Pool, "game")
	require.NoError(t, err)

	// Postgres's address for the api: a port where nothing listens yet.
	pgAddr, addr := testutil.FreeAddr(t), testutil.FreeAddr(t)
	u, err := url.Parse(db.URL)
	require.NoError(t, err)
	target := u.Host
	u.Host = pgAddr
	env := map[string]string{
		"DATABASE_URL": u.String(), "NATS_URL": ns.ClientURL(), "DATA_DIR": t.TempDir(),
		"HTTP_ADDR": addr, "METRICS_ADDR": testutil.FreeAddr(t), "LOG_FORMAT": "json",
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Run(runCtx, func(k string) string { return env[k] }, io.Discard) }()

	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	var (
		exited bool
		runErr error
	)
	require.Eventually(t, func() bool {
		select {
		case runErr = <-done:
			exited = true
			return true
		default:
		}
		status, _ := get("/healthz")
		return status == http.StatusOK
	}, 20*time.Second, 50*time.Millisecond, "api serves /healthz without Postgres")
	require.False(t, exited, "api exited: %v", runErr)
	status, body := get("/readyz")
	require.Equal(t, http.StatusServiceUnavailable, status, body)
	require.Contains(t, body, "postgres")

	funnel := func() (int, string) {
		b, err := msgpack.Marshal(map[string]any{
			"funnel_step_name": "Tutorial_Start", "app_id": app.AppID.String(), "build_id": "b", "player_id": "p",
			"session_id": "s", "timestamp": "2026-02-12T10:00:00Z",
		})
		require.NoError(t, err)
		req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/api/funnel", bytes.NewReader(b))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/msgpack")
		req.Header.Set("x-public-token", app.PublicToken)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(raw)
	}
	// A key never seen cannot be checked yet: retry later, not "invalid".
	status, body = funnel()
	require.Equal(t, http.StatusServiceUnavailable, status, body)

	// Postgres comes up at that address.
	forward(t, pgAddr, target)
	testutil.WaitReady(t, addr) // once Postgres answers
	status, body = funnel()
	require.Equal(t, http.StatusOK, status, body)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("api did not stop")
	}
}

// forward listens on addr and relays each connection to target until the
// test ends.
func forward(t *testing.T, addr, target string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	track := func(c net.Conn) {
		mu.Lock()
		defer mu.Unlock()
		conns = append(conns, c)
	}
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				_ = in.Close()
				continue
			}
			track(in)
			track(out)
			go func() { _, _ = io.Copy(out, in); _ = out.Close() }()
			go func() { _, _ = io.Copy(in, out); _ = in.Close() }()
		}
	}()
}
