package jobs

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/upstreamsim/generaitivsim"
)

func TestGeneraitivFollowWorker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	// submitted runs the generate job (websocket mode) for a new generation.
	submitted := func(t *testing.T, bundle *genBundle, prompt string) *store.Generation {
		t.Helper()
		g := bundle.insertGeneration(t, nil, nil)
		if prompt != "" {
			_, err := bundle.pool.Exec(ctx, `UPDATE generations SET input = jsonb_set(input, '{prompt}', to_jsonb($2::text)) WHERE id = $1`, g.ID, prompt)
			require.NoError(t, err)
		}
		_, err := newTestWorker(t, bundle, &GeneraitivGenerateWorker{deps: bundle.deps}).
			Work(ctx, t, bundle.tx(t), GeneraitivGenerateArgs{GenerationID: g.ID}, nil)
		require.NoError(t, err)
		return bundle.get(t, g.ID)
	}

	t.Run("ErrorFailsTheGeneration", func(t *testing.T) {
		t.Parallel()
		bundle := genSetup(t, nil)
		g := submitted(t, bundle, "[fail] please")
		tx := bundle.tx(t)
		res, err := newTestWorker(t, bundle, &GeneraitivFollowWorker{deps: bundle.deps}).
			Work(ctx, t, tx, GeneraitivFollowArgs{GenerationID: g.ID}, nil)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobCompleted, res.EventKind)
		g = bundle.get(t, g.ID)
		require.Equal(t, store.JobFailed, g.Status)
		require.Equal(t, "upstream_failed", g.ErrorCode)
		rivertest.RequireInsertedTx[*riverpgxv5.Driver](ctx, t, tx, GeneraitivFinalizeArgs{}, nil)
	})

	t.Run("RefusedHandshakeFailsTheGeneration", func(t *testing.T) {
		t.Parallel()
		bundle := genSetup(t, nil)
		g := submitted(t, bundle, "")
		_, err := bundle.pool.Exec(ctx, "UPDATE generations SET ws_jwt = 'not-a-valid-jwt' WHERE id = $1", g.ID)
		require.NoError(t, err)
		res, err := newTestWorker(t, bundle, &GeneraitivFollowWorker{deps: bundle.deps}).
			Work(ctx, t, bundle.tx(t), GeneraitivFollowArgs{GenerationID: g.ID}, nil)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobCancelled, res.EventKind, "a refusal does not get better by retrying")
		g = bundle.get(t, g.ID)
		require.Equal(t, store.JobFailed, g.Status)
		require.Equal(t, "upstream_error", g.ErrorCode)
		require.Contains(t, g.ErrorMessage, "401")
	})

	t.Run("RecordsProgressAndCompletion", func(t *testing.T) {
		t.Parallel()
		bundle := genSetup(t, &genSetupOpts{simTime: 600 * time.Millisecond})
		g := submitted(t, bundle, "")
		require.Equal(t, store.GenerationSubmitted, g.Status)
		tx := bundle.tx(t)
		res, err := newTestWorker(t, bundle, &GeneraitivFollowWorker{deps: bundle.deps}).
			Work(ctx, t, tx, GeneraitivFollowArgs{GenerationID: g.ID}, nil)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobCompleted, res.EventKind)
		g = bundle.get(t, g.ID)
		require.Equal(t, store.GenerationFinalizing, g.Status)
		require.Equal(t, int16(100), g.Progress)
		require.Contains(t, g.UpstreamLink, "/images/asset/")
		require.Equal(t, int32(1), g.Completions)
		job := rivertest.RequireInsertedTx[*riverpgxv5.Driver](ctx, t, tx, GeneraitivFinalizeArgs{}, nil)
		require.Equal(t, g.ID, job.Args.GenerationID)
	})

	t.Run("ReconnectsWhenDroppedMidStream", func(t *testing.T) {
		t.Parallel()
		// Long enough that the first connection drops before the end.
		bundle := genSetup(t, &genSetupOpts{simTime: 5 * time.Second})
		bundle.sim.SetFaults(generaitivsim.Faults{WSDropAfter: 3})
		g := submitted(t, bundle, "")
		res, err := newTestWorker(t, bundle, &GeneraitivFollowWorker{deps: bundle.deps}).
			Work(ctx, t, bundle.tx(t), GeneraitivFollowArgs{GenerationID: g.ID}, nil)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobCompleted, res.EventKind)
		require.Equal(t, store.GenerationFinalizing, bundle.get(t, g.ID).Status)
		require.Equal(t, 2, bundle.sim.Stats().WSConnections)
	})

	t.Run("SessionEndsInASnoozeAndTheNextRunResumes", func(t *testing.T) {
		t.Parallel()
		// A run follows for one session at most, then snoozes without
		// using an attempt; the next run reconnects and carries on from the
		// progress the upstream has reached.
		bundle := genSetup(t, &genSetupOpts{simTime: 8 * time.Second})
		g := submitted(t, bundle, "")
		worker := &GeneraitivFollowWorker{deps: bundle.deps, session: 2 * time.Second}
		require.Equal(t, 3*time.Second, worker.Timeout(nil), "a finite timeout, so River rescues a lost run")
		require.Equal(t, 3*time.Minute, (&GeneraitivFollowWorker{deps: bundle.deps}).Timeout(nil))
		w := newTestWorker(t, bundle, worker)

		res, err := w.Work(ctx, t, bundle.tx(t), GeneraitivFollowArgs{GenerationID: g.ID}, nil)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobSnoozed, res.EventKind)
		require.Equal(t, 0, res.Job.Attempt, "a snooze does not use an attempt")
		first := bundle.get(t, g.ID)
		require.Equal(t, store.JobProcessing, first.Status)
		require.Less(t, first.Progress, int16(100))

		// Each further run is another session; the simulated generation
		// takes 8 s, so a few of them see it through.
		runs := 1
		for ; res.EventKind == river.EventKindJobSnoozed; runs++ {
			require.Less(t, runs, 50, "the follow never reached the end")
			res, err = w.Work(ctx, t, bundle.tx(t), GeneraitivFollowArgs{GenerationID: g.ID}, nil)
			require.NoError(t, err)
		}
		require.Equal(t, river.EventKindJobCompleted, res.EventKind)
		g = bundle.get(t, g.ID)
		require.Equal(t, store.GenerationFinalizing, g.Status)
		require.Equal(t, int16(100), g.Progress)
		require.GreaterOrEqual(t, g.Progress, first.Progress)
		require.Equal(t, runs, bundle.sim.Stats().WSConnections, "one connection per session")
		require.Equal(t, 1, bundle.sim.Stats().GenAccepted)
	})

	t.Run("StopsWhenCancelledMidStream", func(t *testing.T) {
		t.Parallel()
		bundle := genSetup(t, &genSetupOpts{simTime: 30 * time.Second})
		g := submitted(t, bundle, "")
		done := make(chan error, 1)
		tx := bundle.tx(t)
		w := newTestWorker(t, bundle, &GeneraitivFollowWorker{deps: bundle.deps})
		go func() {
			_, err := w.Work(ctx, t, tx, GeneraitivFollowArgs{GenerationID: g.ID}, nil)
			done <- err
		}()
		deadline := time.Now().Add(time.Minute)
		for bundle.get(t, g.ID).Status != store.JobProcessing {
			require.True(t, time.Now().Before(deadline), "the job never recorded progress")
			time.Sleep(20 * time.Millisecond) // polling the row, bounded by the deadline
		}
		_, err := store.GenerationUpdate(ctx, bundle.pool, g.ID, func(_ pgx.Tx, g *store.Generation) error {
			g.Status = store.JobCanceled
			return nil
		})
		require.NoError(t, err)
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(time.Minute):
			t.Fatal("the follow job did not stop")
		}
		g = bundle.get(t, g.ID)
		require.Equal(t, store.JobCanceled, g.Status)
		require.Less(t, g.Progress, int16(100))
	})
}
