package jobs

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/testutil"
	"github.com/gamepipe/gamepipe/internal/upstreamsim/kinetixsim"
)

func TestKinetixRetakeWorker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	type testBundle struct {
		env   *kinetixEnv
		clock *testutil.Clock
	}
	setup := func(t *testing.T) (*KinetixRetakeWorker, *testBundle) {
		t.Helper()
		clock := testutil.NewClock(time.Now())
		env := newKinetixEnv(t, &kinetixEnvOpts{nats: true, sim: &kinetixsim.Config{Now: clock.Now, ValidationKeys: []string{"*"}}})
		return &KinetixRetakeWorker{k: env.k}, &testBundle{env: env, clock: clock}
	}

	t.Run("WaitsForTheNewVideo", func(t *testing.T) {
		t.Parallel()
		w, bundle := setup(t)
		e := awaitingValidation(t, bundle.env, bundle.clock)
		bundle.env.set(t, e.ID, func(e *store.Emote) { e.Status, e.VideoPending, e.RetakeCount = store.EmoteRetaking, true, 1 })

		require.Equal(t, river.EventKindJobCompleted, workOnce(t, bundle.env, w, KinetixRetakeArgs{EmoteID: e.ID}).EventKind)
		got := bundle.env.get(t, e.ID)
		require.Equal(t, store.EmoteAwaitingVideo, got.Status)
		require.NotEmpty(t, got.Token)
		require.Equal(t, store.TokenIssued, got.TokenStatus)
		require.Equal(t, []uuid.UUID{e.ProcessUUID}, got.PreviousProcessUUIDs)
		require.Equal(t, uuid.Nil, got.ProcessUUID)
		require.Nil(t, got.Result)
		require.Equal(t, 2, countJobs(t, bundle.env, "kinetix_emote"), "only the two runs of awaitingValidation")

		notes := bundle.env.notifications(t)
		last := notes[len(notes)-1]
		require.Equal(t, "awaiting_video", last.Status)
		require.Equal(t, got.Token, last.Data.(map[string]any)["retake_token"])
	})

	t.Run("WithTheVideoQueuesTheNextProcess", func(t *testing.T) {
		t.Parallel()
		w, bundle := setup(t)
		e := awaitingValidation(t, bundle.env, bundle.clock)
		bundle.env.set(t, e.ID, func(e *store.Emote) { e.Status, e.RetakeCount = store.EmoteRetaking, 1 })

		require.Equal(t, river.EventKindJobCompleted, workOnce(t, bundle.env, w, KinetixRetakeArgs{EmoteID: e.ID}).EventKind)
		got := bundle.env.get(t, e.ID)
		require.Equal(t, store.JobQueued, got.Status)
		require.Equal(t, 3, countJobs(t, bundle.env, "kinetix_emote"))
		job, err := bundle.env.db.Pool.Query(ctx, "SELECT kind, state FROM river_job WHERE id = $1", got.JobID)
		require.NoError(t, err)
		row, err := pgx.CollectExactlyOneRow(job, pgx.RowToStructByPos[struct{ Kind, State string }])
		require.NoError(t, err)
		require.Equal(t, struct{ Kind, State string }{"kinetix_emote", "available"}, row)

		// The emote worker creates the next process with the retake token.
		retakeToken := got.Token
		require.Equal(t, river.EventKindJobSnoozed,
			workJob(t, bundle.env, &KinetixEmoteWorker{k: bundle.env.k}, got.JobID).EventKind)
		got = bundle.env.get(t, e.ID)
		require.Equal(t, store.JobProcessing, got.Status)
		require.Equal(t, retakeToken, got.Token)
		require.Equal(t, 2, bundle.env.sim.ProcessesCreated())
	})

	t.Run("RetakenUpstreamBeforeACrash", func(t *testing.T) {
		t.Parallel()
		w, bundle := setup(t)
		e := awaitingValidation(t, bundle.env, bundle.clock)
		bundle.env.set(t, e.ID, func(e *store.Emote) { e.Status, e.VideoPending = store.EmoteRetaking, true })
		workOnce(t, bundle.env, w, KinetixRetakeArgs{EmoteID: e.ID})
		first := bundle.env.get(t, e.ID).Token
		// As if that run had crashed before its write: the same token again.
		bundle.env.set(t, e.ID, func(row *store.Emote) {
			row.Status, row.ProcessUUID, row.Token, row.PreviousProcessUUIDs = store.EmoteRetaking, e.ProcessUUID, "", nil
		})

		workOnce(t, bundle.env, w, KinetixRetakeArgs{EmoteID: e.ID})
		got := bundle.env.get(t, e.ID)
		require.Equal(t, store.EmoteAwaitingVideo, got.Status)
		require.Equal(t, first, got.Token)
	})
}

func countJobs(t *testing.T, env *kinetixEnv, kind string) int {
	t.Helper()
	var n int
	require.NoError(t, env.db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM river_job WHERE kind = $1", kind).Scan(&n))
	return n
}
