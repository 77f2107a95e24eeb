package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/blob"
	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/upstreamsim/kinetixsim"
)

// Variables of the worker subprocess of TestKinetixWorkerKilled.
const (
	kinetixHelperDBEnv    = "GAMEPIPE_KINETIX_HELPER_DB"
	kinetixHelperSimEnv   = "GAMEPIPE_KINETIX_HELPER_SIM"
	kinetixHelperBlobEnv  = "GAMEPIPE_KINETIX_HELPER_BLOBS"
	kinetixHelperFaultEnv = "GAMEPIPE_KINETIX_HELPER_FAULT"
)

// TestKinetixHelperProcess is not a test: it is the worker process that
// TestKinetixWorkerKilled starts and that SIGKILLs itself at a fault stage.
func TestKinetixHelperProcess(t *testing.T) {
	ctx, logger, pool := helperProcess(t, kinetixHelperDBEnv)
	blobs, err := blob.NewDirStore(os.Getenv(kinetixHelperBlobEnv))
	require.NoError(t, err)
	fault := os.Getenv(kinetixHelperFaultEnv)
	workers := river.NewWorkers()
	require.NoError(t, Register(workers, &Deps{Logger: logger, Pool: pool, Blob: blobs, Kinetix: &KinetixDeps{
		BaseURL: os.Getenv(kinetixHelperSimEnv), APIKey: testKinetixKey, PollMin: 100 * time.Millisecond, PollMax: 200 * time.Millisecond,
		Fault: func(point FaultPoint, _ uuid.UUID) error {
			if string(point) == fault {
				killSelf(logger, point)
			}
			return nil
		},
	}}))
	workUntilKilled(ctx, t, pool, workers, QueueKinetix)
}

// TestKinetixWorkerKilled SIGKILLs a worker process in the middle of an
// emote job and lets a new worker finish it (docs/reliability.md #22 and #23):
// the job stays running until River rescues it, the new worker completes
// the emote, and the simulator sees exactly one POST /v1/process. After a
// kill right after the create, the retry finds the process through the
// token status route rather than creating another.
func TestKinetixWorkerKilled(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("chaos: kills a worker subprocess")
	}
	ctx := context.Background()

	for _, stage := range []FaultPoint{FaultAfterCreate, FaultBeforePoll} {
		t.Run(string(stage), func(t *testing.T) {
			t.Parallel()
			env := newKinetixEnv(t, &kinetixEnvOpts{sim: &kinetixsim.Config{ProcessDuration: 600 * time.Millisecond}})
			inserter, err := river.NewClient(riverpgxv5.New(env.db.Pool), &river.Config{})
			require.NoError(t, err)
			e := env.enqueue(t, inserter, nil)
			blobDir := t.TempDir()
			_, err = mustDirStore(t, blobDir).Put(ctx, bytes.NewReader(testVideo), 0)
			require.NoError(t, err)

			runUntilKilled(t, "TestKinetixHelperProcess", kinetixHelperDBEnv+"="+env.db.URL, kinetixHelperSimEnv+"="+env.simURL,
				kinetixHelperBlobEnv+"="+blobDir, kinetixHelperFaultEnv+"="+string(stage))

			require.Equal(t, rivertype.JobStateRunning, jobRow(t, inserter, e.JobID).State, "the dead worker's job")
			require.Equal(t, 1, env.sim.ProcessesCreated())
			row := env.get(t, e.ID)
			if stage == FaultAfterCreate {
				require.Equal(t, store.JobQueued, row.Status, "the uuid was never recorded")
				require.NotEmpty(t, row.Token, "but the token was")
			} else {
				require.Equal(t, store.JobProcessing, row.Status)
			}

			awaitRescuable(t, env.db.Pool, e.JobID, 0)
			client := env.riverClient(t, 2, func(c *river.Config) {
				c.JobTimeout, c.RescueStuckJobsAfter = chaosRescueAfter, chaosRescueAfter
			})
			start(t, client)
			final := env.waitStatus(t, e.ID, store.JobSucceeded, rescueWait)
			require.Equal(t, row.Token, final.Token)
			require.Eventually(t, func() bool {
				return jobRow(t, client, e.JobID).State == rivertype.JobStateCompleted
			}, time.Minute, 20*time.Millisecond)
			var meta map[string]any
			require.NoError(t, json.Unmarshal(jobRow(t, client, e.JobID).Metadata, &meta))
			require.GreaterOrEqual(t, meta["river:rescue_count"], float64(1))

			require.Equal(t, 1, env.sim.ProcessesCreated())
			require.Equal(t, 1, env.sim.Requests("POST /v1/process"))
			if stage == FaultAfterCreate {
				require.Positive(t, env.sim.Requests("GET /v1/process/token/{token}"))
			}
		})
	}
}

func mustDirStore(t *testing.T, dir string) *blob.DirStore {
	t.Helper()
	s, err := blob.NewDirStore(dir)
	require.NoError(t, err)
	return s
}
