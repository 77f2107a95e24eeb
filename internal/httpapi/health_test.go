package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/auth"
	"github.com/gamepipe/gamepipe/internal/health"
	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/testutil"
)

// TestMetricsNotPublic: the api's handler, which serves the public address,
// has no /metrics; the cmd layer serves it on METRICS_ADDR.
func TestMetricsNotPublic(t *testing.T) {
	t.Parallel()
	api, err := New(testConfig(t, &Config{}), &Deps{
		Logger:    zerolog.Nop(),
		Publisher: nopPublisher{},
		KeyLookup: func(context.Context, auth.Hash) (*store.KeyInfo, error) { return nil, store.ErrNotFound },
	})
	require.NoError(t, err)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.NotContains(t, string(raw), "gamepipe_")
}

func TestReadyz(t *testing.T) {
	t.Parallel()

	// A Postgres that is not there: a port nothing listens on, with a user
	// and database name that must not reach the public answer.
	port := testutil.FreePort(t)
	const user, database = "readyz_secret_user", "readyz_secret_db"
	pool, err := pgxpool.New(context.Background(),
		"postgres://"+user+"@127.0.0.1:"+strconv.Itoa(port)+"/"+database+"?connect_timeout=1")
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	logs := &testutil.SyncBuffer{}
	api, err := New(testConfig(t, &Config{}), &Deps{
		Logger:    zerolog.New(logs),
		Publisher: nopPublisher{},
		KeyLookup: func(context.Context, auth.Hash) (*store.KeyInfo, error) { return nil, store.ErrNotFound },
		Ready: []health.Check{
			{Name: "postgres", Check: pool.Ping},
			{Name: "nats", Check: func(context.Context) error { return nil }},
		},
	})
	require.NoError(t, err)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)

	resp, err := http.Get(srv.URL + "/readyz")
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	var body map[string]any
	require.NoError(t, json.Unmarshal(raw, &body))
	require.Equal(t, map[string]any{
		"status": "unavailable",
		"checks": map[string]any{"postgres": "unavailable", "nats": "ok"},
	}, body)
	for _, secret := range []string{user, database, "127.0.0.1", strconv.Itoa(port)} {
		require.NotContains(t, string(raw), secret)
	}
	require.Contains(t, logs.String(), user, "the cause is logged")
}
