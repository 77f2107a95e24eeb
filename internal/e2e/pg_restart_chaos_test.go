//go:build chaos

package e2e

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/pgcluster"
	"github.com/gamepipe/gamepipe/internal/store"
)

// chaosSleepArgs is a job that takes a little time, so that some are
// running when Postgres restarts.
type chaosSleepArgs struct {
	N int `json:"n"`
}

func (chaosSleepArgs) Kind() string { return "chaos_sleep" }

type chaosSleepWorker struct {
	river.WorkerDefaults[chaosSleepArgs]
}

func (chaosSleepWorker) Work(ctx context.Context, _ *river.Job[chaosSleepArgs]) error {
	select {
	case <-time.After(20 * time.Millisecond):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestPostgresRestartChaos is docs/reliability.md #17: a real restart of a
// throwaway cluster (pg_ctl stop -m fast, a while down, pg_ctl start) while
// the api accepts events, the sink writes them and River works jobs, all on
// pools opened before the restart. The api needs Postgres only to check
// tokens: a known token is accepted throughout the outage from its cache
// (docs/telemetry.md, "Authentication"). Run it with `make chaos` (build
// tag chaos).
func TestPostgresRestartChaos(t *testing.T) {
	ctx := context.Background()
	cluster := pgcluster.Start(t)

	admin, err := pgx.Connect(ctx, cluster.URL("postgres"))
	require.NoError(t, err)
	_, err = admin.Exec(ctx, "CREATE DATABASE chaos")
	require.NoError(t, err)
	require.NoError(t, admin.Close(ctx))
	cfg, err := pgxpool.ParseConfig(cluster.URL("chaos"))
	require.NoError(t, err)
	cfg.MaxConns = 20
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = store.Migrate(ctx, pool)
	require.NoError(t, err)

	// The telemetry path: api, JetStream, sink, on the cluster. The key
	// cache's TTL is short, so the token is stale during the outage and its
	// check fails: the api serves it from its cache.
	const keyTTL = 200 * time.Millisecond
	s := newStack(t, &stackOpts{db: &dbtest.Schema{Name: "public", URL: cluster.URL("chaos"), Pool: pool}, keyTTL: keyTTL})
	unseen, err := store.AppCreate(ctx, pool, "unseen") // its token is first sent during the outage
	require.NoError(t, err)

	// River: 300 jobs inserted before the restart, worked through it.
	workers := river.NewWorkers()
	river.AddWorker(workers, &chaosSleepWorker{})
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Logger:               slog.New(slog.NewTextHandler(io.Discard, nil)), // the restart makes it log errors, as expected
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 10}},
		Workers:              workers,
		FetchPollInterval:    100 * time.Millisecond,
		JobTimeout:           2 * time.Second,
		RescueStuckJobsAfter: 5 * time.Second,
	})
	require.NoError(t, err)
	params := make([]river.InsertManyParams, 300)
	for i := range params {
		params[i] = river.InsertManyParams{Args: chaosSleepArgs{N: i}}
	}
	_, err = client.InsertMany(ctx, params)
	require.NoError(t, err)
	require.NoError(t, client.Start(ctx))
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_ = client.Stop(stopCtx)
	})

	// Events keep coming before, during and after the outage, with a token
	// the api has seen: every batch is answered 200, and every event is
	// stored once.
	var (
		accepted, refused, duringOutage atomic.Int64
		down                            atomic.Bool
	)
	stopPosting, posting := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(posting)
		for i := 0; ; i++ {
			select {
			case <-stopPosting:
				return
			default:
			}
			batch := make([]map[string]any, 25)
			for j := range batch {
				batch[j] = gameplay(s.app.AppID.String(), i*25+j)
			}
			wasDown := down.Load()
			status, body := s.post(t, pack(t, batch))
			switch {
			case status == http.StatusOK:
				accepted.Add(25)
				if wasDown && down.Load() {
					duringOutage.Add(1)
				}
			default:
				refused.Add(25)
				t.Errorf("batch %d answered %d: %v", i, status, body)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()

	require.Eventually(t, func() bool { return accepted.Load() >= 100 }, 30*time.Second, 10*time.Millisecond)
	stoppedAt := time.Now()
	cluster.Stop(t)
	down.Store(true)
	t.Logf("postgres stopped in %s", time.Since(stoppedAt).Round(time.Millisecond))
	// Down for 40 batches (at least two seconds, many times the key TTL).
	require.Eventually(t, func() bool { return duringOutage.Load() >= 40 }, 60*time.Second, 10*time.Millisecond,
		"batches with a known token are accepted while postgres is down")

	// A token not seen before the outage cannot be checked: a retryable 503.
	req, err := http.NewRequest(http.MethodPost, s.api.URL+"/api/events",
		bytes.NewReader(pack(t, []map[string]any{gameplay(unseen.AppID.String(), 0)})))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/msgpack")
	req.Header.Set("x-public-token", unseen.PublicToken)
	resp, err := s.api.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.NotEmpty(t, resp.Header.Get("Retry-After"))

	down.Store(false)
	cluster.Resume(t)
	t.Logf("postgres down for %s", time.Since(stoppedAt).Round(time.Millisecond))
	after := accepted.Load()
	require.Eventually(t, func() bool { return accepted.Load() >= after+250 }, 30*time.Second, 10*time.Millisecond)
	close(stopPosting)
	<-posting
	t.Logf("events: %d accepted (%d batches while postgres was down), %d refused", accepted.Load(), duringOutage.Load(), refused.Load())
	require.Zero(t, refused.Load())

	// The pools opened before the restart serve again: no process restart.
	s.eventuallyCount(t, int(accepted.Load()), "SELECT count(*) FROM gameplay_events")
	require.Eventually(t, func() bool {
		var left int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'chaos_sleep' AND state <> 'completed'`).Scan(&left)
		return err == nil && left == 0
	}, 3*time.Minute, 100*time.Millisecond, "every job inserted before the restart completes") // past River's rescuer interval (30 s), retry backoff and scheduler
	require.Eventually(t, func() bool {
		var leaders int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM river_leader WHERE expires_at > now() AND elected_at >= $1`,
			stoppedAt.Add(-time.Minute)).Scan(&leaders)
		return err == nil && leaders == 1
	}, 2*time.Minute, 100*time.Millisecond, "a River leader holds office after the restart")
}
