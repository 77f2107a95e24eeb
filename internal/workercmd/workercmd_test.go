package workercmd

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/natstest"
	"github.com/gamepipe/gamepipe/internal/testutil"
)

func TestRun(t *testing.T) {
	t.Parallel()

	t.Run("ServesHealthAndStopsCleanly", func(t *testing.T) {
		t.Parallel()
		db := dbtest.NewSchema(t)
		ns := natstest.Run(t)
		addr := testutil.FreeAddr(t)
		env := map[string]string{
			"DATABASE_URL": db.URL, "NATS_URL": ns.ClientURL(), "DATA_DIR": t.TempDir(),
			"WORKER_HTTP_ADDR": addr, "LOG_FORMAT": "json", "SINK_CONCURRENCY": "2",
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- Run(ctx, func(k string) string { return env[k] }, io.Discard) }()

		ready := testutil.WaitReady(t, addr)
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
			"WORKER_HTTP_ADDR": testutil.FreeAddr(t),
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
