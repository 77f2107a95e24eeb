package jobs

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
)

// The chaos tests run a worker in a subprocess, which is this test binary
// running one Test…HelperProcess with helperEnv=1 and the test's own
// variables, and which SIGKILLs itself at a fault point.
const helperEnv = "GAMEPIPE_JOBS_HELPER"

// runUntilKilled runs helperTest in a subprocess with env added, waits for
// it to exit, and requires that it died of SIGKILL.
func runUntilKilled(t *testing.T, helperTest string, env ...string) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(os.Args[0], "-test.run=^"+helperTest+"$", "-test.v")
	cmd.Env = append(append(os.Environ(), helperEnv+"=1"), env...)
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	err := cmd.Wait()
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "helper: %v\n%s", err, out.String())
	status := exit.Sys().(syscall.WaitStatus)
	require.True(t, status.Signaled() && status.Signal() == syscall.SIGKILL, "helper: %v\n%s", err, out.String())
}

// helperProcess is the subprocess side: it skips unless it is one, and
// returns a context bounding the helper's life, its logger, and a pool on
// the database at dbEnv.
func helperProcess(t *testing.T, dbEnv string) (context.Context, zerolog.Logger, *pgxpool.Pool) {
	t.Helper()
	if os.Getenv(helperEnv) != "1" {
		t.Skip("the worker subprocess of a chaos test")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	pool, err := pgxpool.New(ctx, os.Getenv(dbEnv))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return ctx, zerolog.New(os.Stderr).With().Str("process", "helper").Logger(), pool
}

// killSelf SIGKILLs the helper process at a fault point and never returns.
func killSelf(logger zerolog.Logger, point FaultPoint) {
	logger.Info().Str("point", string(point)).Msg("helper: SIGKILL")
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	time.Sleep(time.Minute) // the signal is on its way
}

// workUntilKilled works queue with workers until the fault kills the
// process; reaching the end of ctx fails the helper.
func workUntilKilled(ctx context.Context, t *testing.T, pool *pgxpool.Pool, workers *river.Workers, queue string) {
	t.Helper()
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Logger:  slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Queues:  map[string]river.QueueConfig{queue: {MaxWorkers: 2}},
		Workers: workers, FetchCooldown: 20 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond, TestOnly: true,
	})
	require.NoError(t, err)
	require.NoError(t, client.Start(ctx))
	<-ctx.Done()
	t.Fatal("helper: the fault never fired")
}

// chaosRescueAfter is the JobTimeout and RescueStuckJobsAfter of the River
// client that takes over from a killed worker.
const chaosRescueAfter = 2 * time.Second

// rescueWait bounds the wait for a job rescued from a killed worker: the
// dead worker's River leadership runs out (up to 15 s) and a new leader is
// elected (every 5 to 6 s), the rescuer's first pass runs, the scheduler
// makes the retried job available (every 5 s), and the job runs, on a
// machine that may be busy. It is far past that sum, so a slow run is not
// a failure.
const rescueWait = 3 * time.Minute

// awaitRescuable waits until the job has been running for longer than
// every delay River's rescuer applies to it (chaosRescueAfter, and timeout,
// its kind's own timeout, when longer), measured by the database's clock.
// A client started after that rescues it in the first pass of its rescuer,
// which runs as soon as the client leads; a test never waits for a second
// pass, whose interval (30 s) it cannot set.
func awaitRescuable(t *testing.T, pool *pgxpool.Pool, jobID int64, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var age time.Duration
		require.NoError(t, pool.QueryRow(context.Background(),
			`SELECT now() - attempted_at FROM river_job WHERE id = $1 AND state = 'running'`, jobID).Scan(&age),
			"job %d is not running", jobID)
		if age > max(chaosRescueAfter, timeout)+time.Second {
			return
		}
		require.True(t, time.Now().Before(deadline), "job %d never grew old enough to rescue", jobID)
		time.Sleep(50 * time.Millisecond) // polling the row, bounded by the deadline
	}
}
