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
func killSelf(logger zerolog.Logger, point string) {
	logger.Info().Str("point", point).Msg("helper: SIGKILL")
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
