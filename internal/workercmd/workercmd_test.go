package workercmd

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/natstest"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

func TestRun(t *testing.T) {
	t.Parallel()

	t.Run("ServesHealthAndStopsCleanly", func(t *testing.T) {
		t.Parallel()
		db := dbtest.NewSchema(t)
		ns := natstest.Run(t)
		addr := freeAddr(t)
		env := map[string]string{
			"DATABASE_URL": db.URL, "NATS_URL": ns.ClientURL(), "DATA_DIR": t.TempDir(),
			"WORKER_HTTP_ADDR": addr, "LOG_FORMAT": "json", "SINK_CONCURRENCY": "2",
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- Run(ctx, func(k string) string { return env[k] }, io.Discard) }()

		var ready string
		require.Eventually(t, func() bool {
			resp, err := http.Get("http://" + addr + "/readyz")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			raw, err := io.ReadAll(resp.Body)
			ready = string(raw)
			return err == nil && resp.StatusCode == http.StatusOK
		}, 20*time.Second, 50*time.Millisecond)
		require.JSONEq(t, `{"status":"ok","checks":{"postgres":"ok","nats":"ok","sink":"ok"}}`, ready)

		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Fatal("worker did not stop")
		}
	})

	t.Run("RefusesASmallPool", func(t *testing.T) {
		t.Parallel()
		db := dbtest.NewSchema(t)
		ns := natstest.Run(t)
		env := map[string]string{
			"DATABASE_URL": db.URL + "&pool_max_conns=4", "NATS_URL": ns.ClientURL(), "DATA_DIR": t.TempDir(),
			"WORKER_HTTP_ADDR": freeAddr(t),
		}
		err := Run(context.Background(), func(k string) string { return env[k] }, io.Discard)
		require.ErrorContains(t, err, "pool_max_conns=4 is too small")
	})

	t.Run("BadConfigIsOneLine", func(t *testing.T) {
		t.Parallel()
		err := Run(context.Background(), func(k string) string {
			return map[string]string{"SINK_ACK_WAIT": "forever"}[k]
		}, io.Discard)
		require.ErrorContains(t, err, "SINK_ACK_WAIT")
		require.NotContains(t, fmt.Sprint(err), "\n")
	})
}
