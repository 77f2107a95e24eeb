//go:build chaos

package e2e

import (
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

// TestPostgresRestartChaos is RELIABILITY.md #17: a real `pg_ctl restart -m
// fast` of a throwaway cluster while the api accepts events, the sink writes
// them and River works jobs, all on pools opened before the restart. Run it
// with `make chaos` (build tag chaos).
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

	// The telemetry path: api, JetStream, sink, on the cluster.
	s := newStack(t, &stackOpts{db: &dbtest.Schema{Name: "public", URL: cluster.URL("chaos"), Pool: pool}})

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

	// Events keep coming before, during and after the restart; every one
	// answered 200 must be stored once, and nothing else.
	var accepted, refused atomic.Int64
	posting := make(chan struct{})
	go func() {
		defer close(posting)
		for i := range 60 {
			batch := make([]map[string]any, 25)
			for j := range batch {
				batch[j] = gameplay(s.app.AppID.String(), i*25+j)
			}
			status, _ := s.post(t, pack(t, batch))
			switch status {
			case http.StatusOK:
				accepted.Add(25)
			case http.StatusServiceUnavailable:
				refused.Add(25) // a clear refusal, retryable: nothing was accepted
			default:
				t.Errorf("batch %d answered %d", i, status)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()

	time.Sleep(time.Second)
	restartedAt := time.Now()
	cluster.Restart(t)
	t.Logf("postgres restarted in %s", time.Since(restartedAt).Round(time.Millisecond))
	<-posting
	t.Logf("events: %d accepted, %d refused with 503", accepted.Load(), refused.Load())
	require.Positive(t, accepted.Load())

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
			restartedAt.Add(-time.Minute)).Scan(&leaders)
		return err == nil && leaders == 1
	}, 2*time.Minute, 100*time.Millisecond, "a River leader holds office after the restart")
}
