package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/generaitiv"
	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/upstreamsim/generaitivsim"
)

func TestGeneraitivGenerateWorker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("CallbackTokenCommittedBeforeSubmit", func(t *testing.T) {
		t.Parallel()
		// The receiver checks, while the upstream is still inside
		// /consumer/gen, that the presented token's hash is committed.
		var bundle *genBundle
		var committed, calls atomic.Int32
		receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			id, _ := uuid.Parse(r.URL.Path[len("/webhooks/generaitiv/"):])
			h := sha256.Sum256([]byte(r.URL.Query().Get("token")))
			if g, err := store.GenerationGet(r.Context(), bundle.pool, id); err == nil && g.Status == store.GenerationSubmitting &&
				len(g.CallbackTokenHashes) == 1 && string(g.CallbackTokenHashes[0]) == string(h[:]) {
				committed.Add(1)
			}
		}))
		t.Cleanup(receiver.Close)
		bundle = genSetup(t, &genSetupOpts{publicBaseURL: receiver.URL + "/"})
		bundle.sim.SetFaults(generaitivsim.Faults{CallbackBeforeResponse: true})
		g := bundle.insertGeneration(t, nil, nil)

		res, err := newTestWorker(t, bundle, &GeneraitivGenerateWorker{deps: bundle.deps}).
			Work(ctx, t, bundle.tx(t), GeneraitivGenerateArgs{GenerationID: g.ID}, nil)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobCompleted, res.EventKind)
		require.Equal(t, int32(1), calls.Load())
		require.Equal(t, int32(1), committed.Load(), "the callback saw its token committed")
		g = bundle.get(t, g.ID)
		require.Equal(t, store.GenerationSubmitted, g.Status)
		require.NotEmpty(t, g.WorkloadID)
		require.Empty(t, g.WSJWT)
	})

	t.Run("DisabledAppWaitsUntilEnabled", func(t *testing.T) {
		t.Parallel()
		bundle := genSetup(t, &genSetupOpts{publicBaseURL: "http://127.0.0.1:1"})
		g := bundle.insertGeneration(t, nil, nil)
		require.NoError(t, store.AppSetDisabled(ctx, bundle.pool, bundle.appID, true))
		worker := newTestWorker(t, bundle, &GeneraitivGenerateWorker{deps: bundle.deps})

		res, err := worker.Work(ctx, t, bundle.tx(t), GeneraitivGenerateArgs{GenerationID: g.ID}, nil)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobSnoozed, res.EventKind)
		got := bundle.get(t, g.ID)
		require.Equal(t, store.JobQueued, got.Status, "the row is left as it was")
		require.Zero(t, got.SubmitAttempts)
		require.Empty(t, got.WorkloadID)

		require.NoError(t, store.AppSetDisabled(ctx, bundle.pool, bundle.appID, false))
		res, err = worker.Work(ctx, t, bundle.tx(t), GeneraitivGenerateArgs{GenerationID: g.ID}, nil)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobCompleted, res.EventKind)
		got = bundle.get(t, g.ID)
		require.Equal(t, store.GenerationSubmitted, got.Status)
		require.Zero(t, got.Resubmits)
	})

	t.Run("PaymentRequiredFails", func(t *testing.T) {
		t.Parallel()
		bundle := genSetup(t, nil)
		bundle.sim.SetFaults(generaitivsim.Faults{PaymentRequired: true})
		g := bundle.insertGeneration(t, nil, nil)
		res, err := newTestWorker(t, bundle, &GeneraitivGenerateWorker{deps: bundle.deps}).
			Work(ctx, t, bundle.tx(t), GeneraitivGenerateArgs{GenerationID: g.ID}, nil)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobCancelled, res.EventKind)
		g = bundle.get(t, g.ID)
		require.Equal(t, store.JobFailed, g.Status)
		require.Equal(t, "payment_required", g.ErrorCode)
		require.Contains(t, g.ErrorMessage, "402 Payment Required")
	})

	t.Run("CustomModelFailsClearly", func(t *testing.T) {
		t.Parallel()
		bundle := genSetup(t, nil)
		g := &store.Generation{ID: uuid.New(), AppID: bundle.appID, Model: "0x" + strings.Repeat("e", 64),
			Input: json.RawMessage(`{"prompt":"a red fox"}`), DeadlineAt: time.Now().Add(time.Minute)}
		require.NoError(t, store.GenerationInsert(ctx, bundle.pool, g))
		res, err := newTestWorker(t, bundle, &GeneraitivGenerateWorker{deps: bundle.deps}).
			Work(ctx, t, bundle.tx(t), GeneraitivGenerateArgs{GenerationID: g.ID}, nil)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobCancelled, res.EventKind)
		g = bundle.get(t, g.ID)
		require.Equal(t, store.JobFailed, g.Status)
		require.Equal(t, "custom_model_unsupported", g.ErrorCode)
		require.Contains(t, g.ErrorMessage, "custom models")
	})

	t.Run("UnreachableRetriesThenFailsOnTheLastAttempt", func(t *testing.T) {
		t.Parallel()
		bundle := genSetup(t, nil)
		down, err := generaitiv.New(&generaitiv.Config{BaseURL: "http://127.0.0.1:1/v1/", APIKey: "k", RateLimit: 1000, RateBurst: 1000})
		require.NoError(t, err)
		bundle.deps.Generaitiv.Client = down
		w := newTestWorker(t, bundle, &GeneraitivGenerateWorker{deps: bundle.deps})

		g := bundle.insertGeneration(t, nil, nil)
		res, err := w.Work(ctx, t, bundle.tx(t), GeneraitivGenerateArgs{GenerationID: g.ID}, &river.InsertOpts{MaxAttempts: 2})
		require.Error(t, err)
		require.Equal(t, river.EventKindJobFailed, res.EventKind, "retried")
		require.Equal(t, store.GenerationSubmitting, bundle.get(t, g.ID).Status)

		g = bundle.insertGeneration(t, nil, nil)
		res, err = w.Work(ctx, t, bundle.tx(t), GeneraitivGenerateArgs{GenerationID: g.ID}, &river.InsertOpts{MaxAttempts: 1})
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobCancelled, res.EventKind)
		g = bundle.get(t, g.ID)
		require.Equal(t, store.JobFailed, g.Status)
		require.Equal(t, "upstream_unavailable", g.ErrorCode)
	})

	t.Run("RateLimitedSnoozesWithoutAttempt", func(t *testing.T) {
		t.Parallel()
		bundle := genSetup(t, &genSetupOpts{publicBaseURL: "http://127.0.0.1:1"})
		bundle.sim.SetFaults(generaitivsim.Faults{RateLimitNext: 1, RetryAfter: 2 * time.Second})
		g := bundle.insertGeneration(t, nil, nil)
		before := time.Now()
		res, err := newTestWorker(t, bundle, &GeneraitivGenerateWorker{deps: bundle.deps}).
			Work(ctx, t, bundle.tx(t), GeneraitivGenerateArgs{GenerationID: g.ID}, nil)
		after := time.Now()
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobSnoozed, res.EventKind)
		require.Zero(t, res.Job.Attempt, "a snooze gives its attempt back")
		require.Empty(t, res.Job.Errors)
		// Retry-After from the moment of the snooze, which is inside Work.
		require.False(t, res.Job.ScheduledAt.Before(before.Add(2*time.Second)))
		require.False(t, res.Job.ScheduledAt.After(after.Add(2*time.Second)))
		g = bundle.get(t, g.ID)
		require.Equal(t, store.JobQueued, g.Status)
		require.Empty(t, g.CallbackTokenHashes, "the refused attempt's token is withdrawn")
	})

	t.Run("ResubmitAfterCrashIsRecorded", func(t *testing.T) {
		t.Parallel()
		bundle := genSetup(t, &genSetupOpts{publicBaseURL: "http://127.0.0.1:1"})
		crash := errors.New("crash after the upstream POST")
		var crashed atomic.Bool
		bundle.deps.Generaitiv.Fault = func(point FaultPoint, _ uuid.UUID) error {
			if point == FaultAfterSubmit && crashed.CompareAndSwap(false, true) {
				return crash
			}
			return nil
		}
		g := bundle.insertGeneration(t, nil, nil)
		w := newTestWorker(t, bundle, &GeneraitivGenerateWorker{deps: bundle.deps})
		_, err := w.Work(ctx, t, bundle.tx(t), GeneraitivGenerateArgs{GenerationID: g.ID}, nil)
		require.ErrorIs(t, err, crash)
		require.Equal(t, store.GenerationSubmitting, bundle.get(t, g.ID).Status)

		res, err := w.Work(ctx, t, bundle.tx(t), GeneraitivGenerateArgs{GenerationID: g.ID}, nil)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobCompleted, res.EventKind)
		g = bundle.get(t, g.ID)
		require.Equal(t, store.GenerationSubmitted, g.Status)
		// The upstream cannot be asked whether the first POST landed: the
		// duplicate is recorded, and both tokens stay valid so whichever
		// callback comes lands on this row.
		require.Equal(t, int32(1), g.Resubmits)
		require.Len(t, g.CallbackTokenHashes, 2)
		require.Equal(t, 2, bundle.sim.Stats().GenAccepted)
	})

	t.Run("SafeToRunTwice", func(t *testing.T) {
		t.Parallel()
		bundle := genSetup(t, &genSetupOpts{publicBaseURL: "http://127.0.0.1:1"})
		g := bundle.insertGeneration(t, nil, nil)
		w := newTestWorker(t, bundle, &GeneraitivGenerateWorker{deps: bundle.deps})
		for range 2 {
			res, err := w.Work(ctx, t, bundle.tx(t), GeneraitivGenerateArgs{GenerationID: g.ID}, nil)
			require.NoError(t, err)
			require.Equal(t, river.EventKindJobCompleted, res.EventKind)
		}
		require.Equal(t, 1, bundle.sim.Stats().GenRequests)
	})

	t.Run("WebsocketModeInsertsFollowJob", func(t *testing.T) {
		t.Parallel()
		bundle := genSetup(t, nil)
		g := bundle.insertGeneration(t, nil, nil)
		tx := bundle.tx(t)
		res, err := newTestWorker(t, bundle, &GeneraitivGenerateWorker{deps: bundle.deps}).
			Work(ctx, t, tx, GeneraitivGenerateArgs{GenerationID: g.ID}, nil)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobCompleted, res.EventKind)
		g = bundle.get(t, g.ID)
		require.Equal(t, store.GenerationSubmitted, g.Status)
		require.NotEmpty(t, g.WSJWT)
		require.Empty(t, g.CallbackTokenHashes)
		job := rivertest.RequireInsertedTx[*riverpgxv5.Driver](ctx, t, tx, GeneraitivFollowArgs{}, nil)
		require.Equal(t, g.ID, job.Args.GenerationID)
	})
}
