package jobs

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/upstreamsim/kinetixsim"
)

// fastRetry retries errored jobs after 100ms (River's default waits
// attempt⁴ seconds), so storms of upstream errors finish in a test.
type fastRetry struct{}

func (fastRetry) NextRetry(*rivertype.JobRow) time.Time {
	return time.Now().Add(100 * time.Millisecond)
}

// jobRow reads a job.
func jobRow(t *testing.T, client *river.Client[pgx.Tx], id int64) *rivertype.JobRow {
	t.Helper()
	job, err := client.JobGet(context.Background(), id)
	require.NoError(t, err)
	return job
}

// transition moves an emote to status with a new job, in one transaction,
// as the API's validate, retake and video routes do.
func transition(t *testing.T, env *kinetixEnv, client *river.Client[pgx.Tx], id uuid.UUID, status store.JobStatus,
	args river.JobArgs, mutate func(e *store.Emote),
) {
	t.Helper()
	ctx := context.Background()
	_, err := store.EmoteUpdate(ctx, env.db.Pool, id, func(tx pgx.Tx, e *store.Emote) error {
		res, err := client.InsertTx(ctx, tx, args, nil)
		if err != nil {
			return err
		}
		e.Status, e.JobID = status, res.Job.ID
		if mutate != nil {
			mutate(e)
		}
		return nil
	})
	require.NoError(t, err)
}

func TestKinetixJobsWithRiver(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("GracefulShutdownMidPoll", func(t *testing.T) {
		t.Parallel()
		// docs/reliability.md #24: a job blocked in an upstream call when the
		// worker stops goes back to available, its attempt not counted.
		env := newKinetixEnv(t, &kinetixEnvOpts{sim: &kinetixsim.Config{ProcessDuration: 300 * time.Millisecond}})
		// The blocked call would take far longer than the stop may: a stop
		// that waited for it could not return within stopWithin.
		const blocked, stopWithin = 10 * time.Minute, 2 * time.Minute
		env.sim.AddFault(kinetixsim.Fault{Route: "GET /v1/process/{uuid}", Kind: kinetixsim.FaultLatency, Count: 1, Delay: blocked})
		client := env.riverClient(t, 2, func(c *river.Config) { c.SoftStopTimeout = time.Second })
		require.NoError(t, client.Start(ctx))
		e := env.enqueue(t, client, nil)

		deadline := time.Now().Add(time.Minute)
		for env.sim.Stats().InFlight == 0 || env.sim.Requests("GET /v1/process/{uuid}") == 0 {
			require.True(t, time.Now().Before(deadline), "the poll never started")
			time.Sleep(20 * time.Millisecond) // polling the simulator, bounded by the deadline
		}
		stopCtx, cancel := context.WithTimeout(ctx, stopWithin)
		defer cancel()
		require.NoError(t, client.Stop(stopCtx), "stop cancels the blocked job after SoftStopTimeout")

		job := jobRow(t, client, env.get(t, e.ID).JobID)
		require.Equal(t, rivertype.JobStateAvailable, job.State)
		require.Zero(t, job.Attempt)
		require.Empty(t, job.Errors)
		require.Equal(t, store.JobProcessing, env.get(t, e.ID).Status)

		next := env.riverClient(t, 2, nil)
		start(t, next)
		env.waitStatus(t, e.ID, store.JobSucceeded, 2*time.Minute)
		require.Eventually(t, func() bool {
			var running int
			require.NoError(t, env.db.Pool.QueryRow(ctx, "SELECT count(*) FROM river_job WHERE state = 'running'").Scan(&running))
			return running == 0
		}, time.Minute, 20*time.Millisecond, "no job is left running")
		require.Equal(t, 1, env.sim.ProcessesCreated())
	})

	t.Run("HappyPathPublishesEveryStatus", func(t *testing.T) {
		t.Parallel()
		env := newKinetixEnv(t, &kinetixEnvOpts{nats: true, sim: &kinetixsim.Config{ProcessDuration: 300 * time.Millisecond}})
		client := env.riverClient(t, 3, nil)
		start(t, client)

		var ids []uuid.UUID
		for range 3 {
			ids = append(ids, env.enqueue(t, client, nil).ID)
		}
		notes := []string{}
		for _, id := range ids {
			e := env.waitStatus(t, id, store.JobSucceeded, 2*time.Minute)
			require.NotEmpty(t, e.Result)
			job := jobRow(t, client, e.JobID)
			require.Eventually(t, func() bool { return jobRow(t, client, e.JobID).State == rivertype.JobStateCompleted },
				time.Minute, 20*time.Millisecond)
			require.Equal(t, 1, job.Attempt)
			notes = append(notes, statusesOf(env.notifications(t), id)...)
		}
		require.Equal(t, 3, env.sim.ProcessesCreated())
		require.Equal(t, 3, env.sim.Requests("POST /v1/process"))
		for range ids {
			require.Subset(t, notes, []string{"queued", "processing", "succeeded"})
		}
		require.Len(t, notes, 9)
	})

	t.Run("PollingNeverFinishes", func(t *testing.T) {
		t.Parallel()
		// docs/reliability.md #26: a 5 s deadline fails the emote and cancels
		// the job, after at most deadline/interval + 1 snoozes.
		env := newKinetixEnv(t, &kinetixEnvOpts{
			sim: &kinetixsim.Config{Faults: []kinetixsim.Fault{{Kind: kinetixsim.FaultStuckProcess}}},
			kinetix: func(k *KinetixDeps) {
				k.Deadline, k.PollMin, k.PollMax = 5*time.Second, 500*time.Millisecond, time.Second
			},
		})
		client := env.riverClient(t, 2, nil)
		start(t, client)
		e := env.enqueue(t, client, nil)

		got := env.waitStatus(t, e.ID, store.JobTimedOut, 2*time.Minute)
		require.Equal(t, "timed_out", got.ErrorCode)
		require.Eventually(t, func() bool { return jobRow(t, client, got.JobID).State == rivertype.JobStateCancelled },
			time.Minute, 20*time.Millisecond)
		var meta struct {
			Snoozes int `json:"snoozes"`
		}
		require.NoError(t, json.Unmarshal(jobRow(t, client, got.JobID).Metadata, &meta))
		require.Positive(t, meta.Snoozes)
		require.LessOrEqual(t, meta.Snoozes, int(5*time.Second/(500*time.Millisecond))+1)
		require.WithinDuration(t, got.ProcessingStartedAt.Add(5*time.Second), got.FinishedAt, 10*time.Second, "failed at the deadline, give or take a busy machine")
	})

	t.Run("RateLimitStorm", func(t *testing.T) {
		t.Parallel()
		// docs/reliability.md #25: 429s snooze for Retry-After without using
		// attempts; the upstream never sees more than the concurrency.
		const concurrency, emotes = 4, 20
		env := newKinetixEnv(t, &kinetixEnvOpts{sim: &kinetixsim.Config{
			ProcessDuration: 200 * time.Millisecond,
			Faults: []kinetixsim.Fault{{Route: "POST /v1/process", Kind: kinetixsim.FaultRateLimit, Count: 10,
				RetryAfter: time.Second}},
		}})
		client := env.riverClient(t, concurrency, nil)
		start(t, client)
		var ids []uuid.UUID
		for range emotes {
			ids = append(ids, env.enqueue(t, client, nil).ID)
		}
		for _, id := range ids {
			e := env.waitStatus(t, id, store.JobSucceeded, 3*time.Minute)
			require.Eventually(t, func() bool { return jobRow(t, client, e.JobID).State == rivertype.JobStateCompleted },
				time.Minute, 20*time.Millisecond)
			job := jobRow(t, client, e.JobID)
			require.Equal(t, 1, job.Attempt, "snoozes do not count as attempts")
			require.Empty(t, job.Errors)
		}
		st := env.sim.Stats()
		require.Equal(t, 10, st.Faulted)
		require.Equal(t, emotes, st.ProcessesCreated)
		require.LessOrEqual(t, st.MaxInFlight, concurrency)
	})

	t.Run("ServerErrorStorm", func(t *testing.T) {
		t.Parallel()
		env := newKinetixEnv(t, &kinetixEnvOpts{sim: &kinetixsim.Config{
			ProcessDuration: 200 * time.Millisecond,
			Faults:          []kinetixsim.Fault{{Kind: kinetixsim.FaultServerError, Count: 15, Status: 502}},
		}})
		client := env.riverClient(t, 4, func(c *river.Config) { c.RetryPolicy = fastRetry{} })
		start(t, client)
		var ids []uuid.UUID
		for range 8 {
			ids = append(ids, env.enqueue(t, client, nil).ID)
		}
		errored := 0
		for _, id := range ids {
			e := env.waitStatus(t, id, store.JobSucceeded, 3*time.Minute)
			require.Eventually(t, func() bool { return jobRow(t, client, e.JobID).State == rivertype.JobStateCompleted },
				time.Minute, 20*time.Millisecond)
			errored += len(jobRow(t, client, e.JobID).Errors)
		}
		require.Equal(t, 15, errored, "each 502 is one recorded attempt error")
		require.Equal(t, 8, env.sim.ProcessesCreated(), "no duplicate processes")
	})

	t.Run("ValidationRetakeAndValidate", func(t *testing.T) {
		t.Parallel()
		env := newKinetixEnv(t, &kinetixEnvOpts{nats: true, sim: &kinetixsim.Config{
			ProcessDuration: 200 * time.Millisecond, ValidationKeys: []string{"*"},
		}})
		client := env.riverClient(t, 2, nil)
		start(t, client)
		e := env.enqueue(t, client, nil)
		first := env.waitStatus(t, e.ID, store.EmoteAwaitingValidation, 2*time.Minute)

		transition(t, env, client, e.ID, store.EmoteRetaking, KinetixRetakeArgs{EmoteID: e.ID}, func(e *store.Emote) {
			e.RetakeCount++
		})
		second := env.waitStatus(t, e.ID, store.EmoteAwaitingValidation, 2*time.Minute)
		require.NotEqual(t, first.ProcessUUID, second.ProcessUUID)
		require.Equal(t, []uuid.UUID{first.ProcessUUID}, second.PreviousProcessUUIDs)

		transition(t, env, client, e.ID, store.EmoteValidating, KinetixValidateArgs{EmoteID: e.ID}, nil)
		done := env.waitStatus(t, e.ID, store.JobSucceeded, 2*time.Minute)
		require.Equal(t, 1, done.RetakeCount)
		require.Equal(t, 2, env.sim.ProcessesCreated())
		require.Eventually(t, func() bool {
			return len(statusesOf(env.notifications(t), e.ID)) == 9
		}, time.Minute, 20*time.Millisecond)
		require.Equal(t, []string{"queued", "processing", "awaiting_validation", "retaking", "queued", "processing",
			"awaiting_validation", "validating", "succeeded"}, statusesOf(env.notifications(t), e.ID))
	})
}
