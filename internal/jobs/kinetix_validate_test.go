package jobs

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/testutil"
	"github.com/gamepipe/gamepipe/internal/upstreamsim/kinetixsim"
)

// awaitingValidation drives a new emote to awaiting_validation through the
// emote worker and the simulator's clock.
func awaitingValidation(t *testing.T, env *kinetixEnv, clock *testutil.Clock) *store.Emote {
	t.Helper()
	e := env.newEmote(t, nil)
	w := &KinetixEmoteWorker{k: env.k}
	workOnce(t, env, w, KinetixEmoteArgs{EmoteID: e.ID})
	clock.Advance(time.Hour)
	workOnce(t, env, w, KinetixEmoteArgs{EmoteID: e.ID})
	got := env.get(t, e.ID)
	require.Equal(t, store.EmoteAwaitingValidation, got.Status)
	return got
}

func TestKinetixValidateWorker(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		env   *kinetixEnv
		clock *testutil.Clock
	}
	setup := func(t *testing.T, validationKeys []string) (*KinetixValidateWorker, *testBundle) {
		t.Helper()
		clock := testutil.NewClock(time.Now())
		env := newKinetixEnv(t, &kinetixEnvOpts{nats: true, sim: &kinetixsim.Config{Now: clock.Now, ValidationKeys: validationKeys}})
		return &KinetixValidateWorker{k: env.k}, &testBundle{env: env, clock: clock}
	}

	t.Run("IgnoresAnEmoteNotValidating", func(t *testing.T) {
		t.Parallel()
		w, bundle := setup(t, []string{"*"})
		e := awaitingValidation(t, bundle.env, bundle.clock)

		require.Equal(t, river.EventKindJobCompleted, workOnce(t, bundle.env, w, KinetixValidateArgs{EmoteID: e.ID}).EventKind)
		require.Equal(t, store.EmoteAwaitingValidation, bundle.env.get(t, e.ID).Status)
		require.Zero(t, bundle.env.sim.Requests("POST /v1/process/{uuid}/validate"))
	})

	t.Run("RefusalRevertsToAwaitingValidation", func(t *testing.T) {
		t.Parallel()
		w, bundle := setup(t, []string{"*"})
		e := awaitingValidation(t, bundle.env, bundle.clock)
		// The upstream does not know the process (404): a permanent refusal.
		bundle.env.set(t, e.ID, func(e *store.Emote) { e.Status, e.ProcessUUID = store.EmoteValidating, uuid.New() })

		res := workOnce(t, bundle.env, w, KinetixValidateArgs{EmoteID: e.ID})
		require.Equal(t, river.EventKindJobCancelled, res.EventKind)
		got := bundle.env.get(t, e.ID)
		require.Equal(t, store.EmoteAwaitingValidation, got.Status)
		require.Equal(t, "validate_failed", got.ErrorCode)
		require.Equal(t, []string{"queued", "processing", "awaiting_validation", "validating", "awaiting_validation"},
			statusesOf(bundle.env.notifications(t), e.ID))
	})

	t.Run("ValidatesAndCompletes", func(t *testing.T) {
		t.Parallel()
		w, bundle := setup(t, []string{"*"})
		e := awaitingValidation(t, bundle.env, bundle.clock)
		bundle.env.set(t, e.ID, func(e *store.Emote) { e.Status = store.EmoteValidating })

		require.Equal(t, river.EventKindJobCompleted, workOnce(t, bundle.env, w, KinetixValidateArgs{EmoteID: e.ID}).EventKind)
		got := bundle.env.get(t, e.ID)
		require.Equal(t, store.JobSucceeded, got.Status)
		require.Equal(t, "done", got.UpstreamStatus)
		require.NotEmpty(t, got.Result)
		require.False(t, got.FinishedAt.IsZero())

		// Run twice: the row is succeeded, nothing happens.
		workOnce(t, bundle.env, w, KinetixValidateArgs{EmoteID: e.ID})
		require.Equal(t, 1, bundle.env.sim.Requests("POST /v1/process/{uuid}/validate"))
		require.Equal(t, []string{"queued", "processing", "awaiting_validation", "validating", "succeeded"},
			statusesOf(bundle.env.notifications(t), e.ID))
	})

	t.Run("ValidatedUpstreamBeforeACrash", func(t *testing.T) {
		t.Parallel()
		w, bundle := setup(t, []string{"*"})
		e := awaitingValidation(t, bundle.env, bundle.clock)
		bundle.env.set(t, e.ID, func(e *store.Emote) { e.Status = store.EmoteValidating })
		// A first run validated it upstream, then crashed before its write;
		// the simulator answers a second validate as the first.
		workOnce(t, bundle.env, w, KinetixValidateArgs{EmoteID: e.ID})
		bundle.env.set(t, e.ID, func(e *store.Emote) { e.Status = store.EmoteValidating })

		require.Equal(t, river.EventKindJobCompleted, workOnce(t, bundle.env, w, KinetixValidateArgs{EmoteID: e.ID}).EventKind)
		require.Equal(t, store.JobSucceeded, bundle.env.get(t, e.ID).Status)
	})
}
