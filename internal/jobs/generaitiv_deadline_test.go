package jobs

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/store"
)

func TestGeneraitivDeadlineWorker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	type testBundle struct {
		*genBundle
		worker *GeneraitivDeadlineWorker
	}
	// One schema for the subtests; each works on its own generation.
	shared := genSetup(t, nil)
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		return &testBundle{genBundle: shared, worker: &GeneraitivDeadlineWorker{deps: shared.deps}}
	}
	run := func(t *testing.T, bundle *testBundle, g *store.Generation) river.EventKind {
		t.Helper()
		res, err := newTestWorker(t, bundle.genBundle, bundle.worker).
			Work(ctx, t, bundle.tx(t), GeneraitivDeadlineArgs{GenerationID: g.ID}, nil)
		require.NoError(t, err)
		return res.EventKind
	}

	t.Run("LateCompletionChangesNothing", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		g := bundle.insertGeneration(t, nil, func(g *store.Generation) {
			g.Status, g.DeadlineAt = store.GenerationSubmitted, time.Now().Add(-time.Second)
		})
		require.Equal(t, river.EventKindJobCompleted, run(t, bundle, g))
		late := store.Completion{OK: true, Link: "http://x/late.png", At: time.Now()}
		done, err := store.GenerationComplete(t.Context(), bundle.pool, g.ID, late, func(pgx.Tx, *store.Completed) error { return nil })
		require.NoError(t, err)
		require.False(t, done.Applied)
		g = bundle.get(t, g.ID)
		require.Equal(t, store.JobTimedOut, g.Status)
		require.Equal(t, int32(1), g.LateCompletions)
		require.Equal(t, "http://x/late.png", g.LateLink)
		require.Empty(t, g.UpstreamLink)
	})

	t.Run("LeavesCompletedAlone", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		for _, status := range []store.JobStatus{store.GenerationFinalizing, store.JobSucceeded, store.JobCanceled} {
			g := bundle.insertGeneration(t, nil, func(g *store.Generation) {
				g.Status, g.DeadlineAt = status, time.Now().Add(-time.Second)
			})
			require.Equal(t, river.EventKindJobCompleted, run(t, bundle, g))
			require.Equal(t, status, bundle.get(t, g.ID).Status)
		}
	})

	t.Run("SnoozesWhenEarly", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		g := bundle.insertGeneration(t, nil, func(g *store.Generation) { g.DeadlineAt = time.Now().Add(time.Hour) })
		require.Equal(t, river.EventKindJobSnoozed, run(t, bundle, g))
		require.Equal(t, store.JobQueued, bundle.get(t, g.ID).Status)
	})

	t.Run("TimesOutAWaitingGeneration", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		for _, status := range []store.JobStatus{store.JobQueued, store.GenerationSubmitting, store.GenerationSubmitted, store.JobProcessing} {
			g := bundle.insertGeneration(t, nil, func(g *store.Generation) {
				g.Status, g.DeadlineAt = status, time.Now().Add(-time.Second)
			})
			require.Equal(t, river.EventKindJobCompleted, run(t, bundle, g))
			g = bundle.get(t, g.ID)
			require.Equal(t, store.JobTimedOut, g.Status, status)
			require.Equal(t, "timed_out", g.ErrorCode)
			require.NotNil(t, g.FinishedAt)
		}
	})
}
