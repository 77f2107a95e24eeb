package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/kinetix"
	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/testutil"
	"github.com/gamepipe/gamepipe/internal/upstreamsim/kinetixsim"
)

// workOnce runs one job of the worker in its own committed transaction.
func workOnce[T river.JobArgs](t *testing.T, env *kinetixEnv, w river.Worker[T], args T) *rivertest.WorkResult {
	t.Helper()
	ctx := context.Background()
	tw := rivertest.NewWorker(t, riverpgxv5.New(env.db.Pool), &river.Config{}, w)
	tx, err := env.db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	res, err := tw.Work(ctx, t, tx, args, nil)
	if res == nil {
		require.NoError(t, err)
	}
	require.NoError(t, tx.Commit(ctx))
	return res
}

// workJob runs an existing job (by id) with the worker.
func workJob[T river.JobArgs](t *testing.T, env *kinetixEnv, w river.Worker[T], id int64) *rivertest.WorkResult {
	t.Helper()
	ctx := context.Background()
	client, err := river.NewClient(riverpgxv5.New(env.db.Pool), &river.Config{})
	require.NoError(t, err)
	job, err := client.JobGet(ctx, id)
	require.NoError(t, err)
	tx, err := env.db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	res, err := rivertest.NewWorker(t, riverpgxv5.New(env.db.Pool), &river.Config{}, w).WorkJob(ctx, t, tx, job)
	if res == nil {
		require.NoError(t, err)
	}
	require.NoError(t, tx.Commit(ctx))
	return res
}

func TestKinetixEmoteWorker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	type testBundle struct {
		env   *kinetixEnv
		clock *testutil.Clock
	}
	setup := func(t *testing.T, opts *kinetixEnvOpts) (*KinetixEmoteWorker, *testBundle) {
		t.Helper()
		clock := testutil.NewClock(time.Now())
		if opts == nil {
			opts = &kinetixEnvOpts{}
		}
		if opts.sim == nil {
			opts.sim = &kinetixsim.Config{}
		}
		if opts.sim.Now == nil {
			opts.sim.Now = clock.Now
		}
		env := newKinetixEnv(t, opts)
		return &KinetixEmoteWorker{k: env.k}, &testBundle{env: env, clock: clock}
	}
	// upstreamProcess creates a process at the simulator with token, as a
	// run that crashed right after its create would have.
	upstreamProcess := func(t *testing.T, env *kinetixEnv, token string) string {
		t.Helper()
		c, err := kinetix.New(&kinetix.Config{BaseURL: env.simURL, APIKey: testKinetixKey})
		require.NoError(t, err)
		p, err := c.CreateProcess(ctx, token, &kinetix.CreateProcessRequest{Name: "wave", Start: "00:00:00.000",
			End: "00:00:02.000", Video: bytes.NewReader(testVideo), VideoSize: int64(len(testVideo))})
		require.NoError(t, err)
		return p.UUID
	}
	// newToken issues a token for the emote's player, in the app's
	// namespace as the worker sends it.
	newToken := func(t *testing.T, env *kinetixEnv) string {
		t.Helper()
		c, err := kinetix.New(&kinetix.Config{BaseURL: env.simURL, APIKey: testKinetixKey})
		require.NoError(t, err)
		tok, err := c.WithUserNamespace(env.appID.String()).CreateToken(ctx, "player-1")
		require.NoError(t, err)
		return tok.Token
	}

	t.Run("CancelledEmoteIsLeftAlone", func(t *testing.T) {
		t.Parallel()
		w, bundle := setup(t, nil)
		e := bundle.env.newEmote(t, func(e *store.Emote) { e.Status = store.JobCanceled })

		res := workOnce(t, bundle.env, w, KinetixEmoteArgs{EmoteID: e.ID})
		require.Equal(t, river.EventKindJobCompleted, res.EventKind)
		require.Zero(t, bundle.env.sim.Stats().TokensIssued)
	})

	t.Run("ConcurrentRunsCreateOneProcess", func(t *testing.T) {
		t.Parallel()
		w, bundle := setup(t, &kinetixEnvOpts{sim: &kinetixsim.Config{Now: time.Now}})
		e := bundle.env.newEmote(t, nil)

		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 5 {
			wg.Go(func() {
				<-start
				workOnce(t, bundle.env, w, KinetixEmoteArgs{EmoteID: e.ID})
			})
		}
		close(start)
		wg.Wait()
		require.Equal(t, 1, bundle.env.sim.ProcessesCreated())
		got := bundle.env.get(t, e.ID)
		require.Equal(t, store.JobProcessing, got.Status)
		require.Equal(t, 2, got.StatusSeq)
	})

	t.Run("CreatesTheProcessThenSnoozes", func(t *testing.T) {
		t.Parallel()
		w, bundle := setup(t, nil)
		e := bundle.env.newEmote(t, nil)

		res := workOnce(t, bundle.env, w, KinetixEmoteArgs{EmoteID: e.ID})
		require.Equal(t, river.EventKindJobSnoozed, res.EventKind)
		require.Equal(t, 1, bundle.env.sim.ProcessesCreated())
		got := bundle.env.get(t, e.ID)
		require.Equal(t, store.JobProcessing, got.Status)
		require.NotEqual(t, uuid.Nil, got.ProcessUUID)
		require.NotEmpty(t, got.Token)
		require.Equal(t, store.TokenUsed, got.TokenStatus)
		require.False(t, got.ProcessingStartedAt.IsZero())
		require.Equal(t, "pending", got.UpstreamStatus)
	})

	t.Run("DeadlineTimesOutTheEmote", func(t *testing.T) {
		t.Parallel()
		w, bundle := setup(t, nil)
		e := bundle.env.newEmote(t, nil)
		bundle.env.set(t, e.ID, func(e *store.Emote) {
			e.Status, e.ProcessUUID = store.JobProcessing, uuid.New()
			e.ProcessingStartedAt = time.Now().Add(-11 * time.Minute)
		})

		res := workOnce(t, bundle.env, w, KinetixEmoteArgs{EmoteID: e.ID})
		require.Equal(t, river.EventKindJobCancelled, res.EventKind)
		got := bundle.env.get(t, e.ID)
		require.Equal(t, store.JobTimedOut, got.Status)
		require.Equal(t, "timed_out", got.ErrorCode)
		require.Contains(t, got.ErrorMessage, "did not finish within 10m0s")
		require.Zero(t, bundle.env.sim.Requests("GET /v1/process/{uuid}"))
	})

	t.Run("MissingEmoteCancels", func(t *testing.T) {
		t.Parallel()
		w, bundle := setup(t, nil)
		res := workOnce(t, bundle.env, w, KinetixEmoteArgs{EmoteID: uuid.New()})
		require.Equal(t, river.EventKindJobCancelled, res.EventKind)
	})

	t.Run("PermanentErrorFailsAndCancels", func(t *testing.T) {
		t.Parallel()
		w, bundle := setup(t, &kinetixEnvOpts{sim: &kinetixsim.Config{Keys: []string{"someone-else"}}})
		e := bundle.env.newEmote(t, nil)

		res := workOnce(t, bundle.env, w, KinetixEmoteArgs{EmoteID: e.ID})
		require.Equal(t, river.EventKindJobCancelled, res.EventKind)
		got := bundle.env.get(t, e.ID)
		require.Equal(t, store.JobFailed, got.Status)
		require.Equal(t, "kinetix_error", got.ErrorCode)
		require.Contains(t, got.ErrorMessage, "invalid api key")
		require.False(t, got.FinishedAt.IsZero())
	})

	t.Run("PollPersistsEveryEndState", func(t *testing.T) {
		t.Parallel()
		w, bundle := setup(t, &kinetixEnvOpts{sim: &kinetixsim.Config{Faults: []kinetixsim.Fault{
			{Kind: kinetixsim.FaultFailProcess, Count: 1},
		}}})
		failing := bundle.env.newEmote(t, nil)
		done := bundle.env.newEmote(t, nil)
		for _, e := range []*store.Emote{failing, done} {
			require.Equal(t, river.EventKindJobSnoozed, workOnce(t, bundle.env, w, KinetixEmoteArgs{EmoteID: e.ID}).EventKind)
			// Still working upstream: another snooze.
			require.Equal(t, river.EventKindJobSnoozed, workOnce(t, bundle.env, w, KinetixEmoteArgs{EmoteID: e.ID}).EventKind)
		}
		require.Equal(t, "pending", bundle.env.get(t, done.ID).UpstreamStatus)
		bundle.clock.Advance(time.Hour)

		for _, e := range []*store.Emote{failing, done} {
			require.Equal(t, river.EventKindJobCompleted, workOnce(t, bundle.env, w, KinetixEmoteArgs{EmoteID: e.ID}).EventKind)
		}
		got := bundle.env.get(t, failing.ID)
		require.Equal(t, store.JobFailed, got.Status)
		require.Equal(t, "kinetix_no_character_detected", got.ErrorCode)
		got = bundle.env.get(t, done.ID)
		require.Equal(t, store.JobSucceeded, got.Status)
		require.Equal(t, "done", got.UpstreamStatus)
		var result kinetix.Emote
		require.NoError(t, json.Unmarshal(got.Result, &result))
		require.NotEmpty(t, result.AnimationURL)
		require.False(t, got.ValidationFlow)

		// A further run changes nothing.
		require.Equal(t, river.EventKindJobCompleted, workOnce(t, bundle.env, w, KinetixEmoteArgs{EmoteID: done.ID}).EventKind)
		require.Equal(t, got.UpdatedAt, bundle.env.get(t, done.ID).UpdatedAt)
	})

	t.Run("PublishesEachStatusOnce", func(t *testing.T) {
		t.Parallel()
		w, bundle := setup(t, &kinetixEnvOpts{nats: true})
		e := bundle.env.newEmote(t, nil)

		workOnce(t, bundle.env, w, KinetixEmoteArgs{EmoteID: e.ID})
		bundle.clock.Advance(time.Hour)
		workOnce(t, bundle.env, w, KinetixEmoteArgs{EmoteID: e.ID})
		// Publishing again (as a crashed run's retry would) is deduplicated.
		row := bundle.env.get(t, e.ID)
		row.NotifiedSeq = 0
		require.NoError(t, bundle.env.k.announce(ctx, row))
		workOnce(t, bundle.env, w, KinetixEmoteArgs{EmoteID: e.ID})

		notes := bundle.env.notifications(t)
		require.Equal(t, []string{"queued", "processing", "succeeded"}, statusesOf(notes, e.ID))
		last := notes[len(notes)-1]
		require.Equal(t, bundle.env.appID.String(), last.AppID)
		data := last.Data.(map[string]any)
		require.Equal(t, "player-1", data["user_id"])
		require.NotNil(t, data["result"])
		require.Equal(t, row.StatusSeq, bundle.env.get(t, e.ID).NotifiedSeq)
	})

	t.Run("RateLimitSnoozesWithoutAnAttempt", func(t *testing.T) {
		t.Parallel()
		w, bundle := setup(t, &kinetixEnvOpts{sim: &kinetixsim.Config{Faults: []kinetixsim.Fault{
			{Route: "GET /v1/process/token", Kind: kinetixsim.FaultRateLimit, Count: 1, RetryAfter: 2 * time.Second},
		}}})
		e := bundle.env.newEmote(t, nil)

		before := time.Now()
		res := workOnce(t, bundle.env, w, KinetixEmoteArgs{EmoteID: e.ID})
		require.Equal(t, river.EventKindJobSnoozed, res.EventKind)
		require.Zero(t, res.Job.Attempt)
		require.Empty(t, res.Job.Errors)
		require.False(t, res.Job.ScheduledAt.Before(before.Add(2*time.Second)))
		require.Equal(t, store.JobQueued, bundle.env.get(t, e.ID).Status)
	})

	t.Run("OwnKeySendsTheUserAsIs", func(t *testing.T) {
		t.Parallel()
		w, bundle := setup(t, nil)
		own := "app-own-key"
		require.NoError(t, store.AppSetUpstreamKeys(ctx, bundle.env.db.Pool, testSecrets, bundle.env.appID, &own, nil))
		e := bundle.env.newEmote(t, nil)

		workOnce(t, bundle.env, w, KinetixEmoteArgs{EmoteID: e.ID})
		got := bundle.env.get(t, e.ID)
		require.Equal(t, store.JobProcessing, got.Status)
		require.Equal(t, kinetixsim.TokenUser{Key: own, UserID: "player-1"}, bundle.env.sim.TokenUsers()[got.Token])
	})

	t.Run("RecoversTheProcessItsTokenMade", func(t *testing.T) {
		t.Parallel()
		w, bundle := setup(t, nil)
		tok := newToken(t, bundle.env)
		e := bundle.env.newEmote(t, nil)
		bundle.env.set(t, e.ID, func(e *store.Emote) {
			e.Token, e.TokenCreatedAt, e.TokenStatus = tok, time.Now(), store.TokenIssued
		})
		// The crashed run created the process but never recorded it.
		pid := upstreamProcess(t, bundle.env, tok)

		res := workOnce(t, bundle.env, w, KinetixEmoteArgs{EmoteID: e.ID})
		require.Equal(t, river.EventKindJobSnoozed, res.EventKind)
		require.Equal(t, 1, bundle.env.sim.ProcessesCreated())
		require.Equal(t, 1, bundle.env.sim.Requests("POST /v1/process"))
		got := bundle.env.get(t, e.ID)
		require.Equal(t, store.JobProcessing, got.Status)
		require.Equal(t, pid, got.ProcessUUID.String())
	})

	t.Run("ReplacesAStaleToken", func(t *testing.T) {
		t.Parallel()
		w, bundle := setup(t, nil)
		tok := newToken(t, bundle.env)
		e := bundle.env.newEmote(t, nil)
		bundle.env.set(t, e.ID, func(e *store.Emote) {
			e.Token, e.TokenCreatedAt, e.TokenStatus = tok, time.Now().Add(-6*time.Minute), store.TokenIssued
		})

		workOnce(t, bundle.env, w, KinetixEmoteArgs{EmoteID: e.ID})
		got := bundle.env.get(t, e.ID)
		require.Equal(t, store.JobProcessing, got.Status)
		require.NotEqual(t, tok, got.Token)
		require.Equal(t, 2, bundle.env.sim.Stats().TokensIssued)
	})

	t.Run("SharedKeySendsTheUserInTheAppsNamespace", func(t *testing.T) {
		t.Parallel()
		w, bundle := setup(t, nil)
		e := bundle.env.newEmote(t, nil)

		workOnce(t, bundle.env, w, KinetixEmoteArgs{EmoteID: e.ID})
		got := bundle.env.get(t, e.ID)
		require.Equal(t, store.JobProcessing, got.Status)
		require.Equal(t, "player-1", got.UserID)
		seen := bundle.env.sim.TokenUsers()[got.Token]
		require.Equal(t, kinetixsim.TokenUser{Key: testKinetixKey, UserID: bundle.env.appID.String() + ":player-1"}, seen)
	})

	t.Run("ServerErrorReturnsForRetry", func(t *testing.T) {
		t.Parallel()
		w, bundle := setup(t, &kinetixEnvOpts{sim: &kinetixsim.Config{Faults: []kinetixsim.Fault{
			{Route: "POST /v1/process", Kind: kinetixsim.FaultServerError, Count: 1},
		}}})
		e := bundle.env.newEmote(t, nil)

		res := workOnce(t, bundle.env, w, KinetixEmoteArgs{EmoteID: e.ID})
		require.Equal(t, river.EventKindJobFailed, res.EventKind)
		require.Equal(t, rivertype.JobStateAvailable, res.Job.State)
		require.Len(t, res.Job.Errors, 1)
		require.Contains(t, res.Job.Errors[0].Error, "status 503")
		got := bundle.env.get(t, e.ID)
		require.Equal(t, store.JobQueued, got.Status)
		require.NotEmpty(t, got.Token, "the token is recorded before the create")
	})

	t.Run("TokenExpiredBetweenRetries", func(t *testing.T) {
		t.Parallel()
		w, bundle := setup(t, &kinetixEnvOpts{sim: &kinetixsim.Config{TokenTTL: time.Minute, Faults: []kinetixsim.Fault{
			{Route: "POST /v1/process", Kind: kinetixsim.FaultServerError, Count: 1},
		}}})
		e := bundle.env.newEmote(t, nil)

		require.Equal(t, river.EventKindJobFailed, workOnce(t, bundle.env, w, KinetixEmoteArgs{EmoteID: e.ID}).EventKind)
		first := bundle.env.get(t, e.ID).Token
		bundle.clock.Advance(2 * time.Minute) // the retry comes after the token's life

		require.Equal(t, river.EventKindJobSnoozed, workOnce(t, bundle.env, w, KinetixEmoteArgs{EmoteID: e.ID}).EventKind)
		got := bundle.env.get(t, e.ID)
		require.Equal(t, store.JobProcessing, got.Status)
		require.NotEqual(t, first, got.Token)
		require.Equal(t, 1, bundle.env.sim.ProcessesCreated())
		require.Equal(t, 2, bundle.env.sim.Stats().TokensIssued)
	})

	t.Run("UsesTheAppsOwnKey", func(t *testing.T) {
		t.Parallel()
		w, bundle := setup(t, &kinetixEnvOpts{sim: &kinetixsim.Config{Keys: []string{"app-own-key"}}})
		appKey := "app-own-key"
		require.NoError(t, store.AppSetUpstreamKeys(ctx, bundle.env.db.Pool, testSecrets, bundle.env.appID, &appKey, nil))
		var stored string
		require.NoError(t, bundle.env.db.Pool.QueryRow(ctx, "SELECT kinetix_api_key FROM apps WHERE id = $1", bundle.env.appID).Scan(&stored))
		require.NotContains(t, stored, appKey, "the row holds the key sealed")
		e := bundle.env.newEmote(t, nil)

		// The simulator accepts only the app's key in clear: the worker
		// opened the sealed one.
		require.Equal(t, river.EventKindJobSnoozed, workOnce(t, bundle.env, w, KinetixEmoteArgs{EmoteID: e.ID}).EventKind)
		require.Equal(t, 1, bundle.env.sim.ProcessesCreated())
	})

	t.Run("DisabledAppWaitsUntilEnabled", func(t *testing.T) {
		t.Parallel()
		w, bundle := setup(t, nil)
		e := bundle.env.newEmote(t, nil)
		require.NoError(t, store.AppSetDisabled(ctx, bundle.env.db.Pool, bundle.env.appID, true))

		require.Equal(t, river.EventKindJobSnoozed, workOnce(t, bundle.env, w, KinetixEmoteArgs{EmoteID: e.ID}).EventKind)
		require.Zero(t, bundle.env.sim.Stats().TokensIssued, "nothing was sent upstream")
		require.Zero(t, bundle.env.sim.ProcessesCreated())
		require.Equal(t, store.JobQueued, bundle.env.get(t, e.ID).Status)

		require.NoError(t, store.AppSetDisabled(ctx, bundle.env.db.Pool, bundle.env.appID, false))
		require.Equal(t, river.EventKindJobSnoozed, workOnce(t, bundle.env, w, KinetixEmoteArgs{EmoteID: e.ID}).EventKind)
		require.Equal(t, 1, bundle.env.sim.ProcessesCreated())
		require.Equal(t, store.JobProcessing, bundle.env.get(t, e.ID).Status)
	})

	t.Run("ValidationFlowAwaitsValidation", func(t *testing.T) {
		t.Parallel()
		w, bundle := setup(t, &kinetixEnvOpts{sim: &kinetixsim.Config{ValidationKeys: []string{"*"}}})
		e := bundle.env.newEmote(t, nil)

		workOnce(t, bundle.env, w, KinetixEmoteArgs{EmoteID: e.ID})
		bundle.clock.Advance(time.Hour)
		require.Equal(t, river.EventKindJobCompleted, workOnce(t, bundle.env, w, KinetixEmoteArgs{EmoteID: e.ID}).EventKind)
		got := bundle.env.get(t, e.ID)
		require.Equal(t, store.EmoteAwaitingValidation, got.Status)
		require.True(t, got.ValidationFlow)
		require.NotEmpty(t, got.Result)
		require.True(t, got.FinishedAt.IsZero())
	})
}

func TestKinetixEmoteBackoff(t *testing.T) {
	t.Parallel()

	w := &KinetixEmoteWorker{k: &kinetixRunner{cfg: KinetixDeps{PollMin: time.Second, PollMax: 30 * time.Second}}}
	for polls, want := range map[int]time.Duration{0: time.Second, 1: 2 * time.Second, 3: 8 * time.Second, 5: 30 * time.Second, 500: 30 * time.Second} {
		require.Equal(t, want, w.backoff(polls), polls)
	}
	// The count is the job's own; River's snooze count (which other
	// snoozes raise too) is not read.
	for meta, want := range map[string]int{
		`{}`: 0, `{"snoozes": 7}`: 0, `{"kinetix_polls": 3, "snoozes": 9}`: 3, `not json`: 0,
	} {
		require.Equal(t, want, pollsOf(&rivertype.JobRow{Metadata: []byte(meta)}), meta)
	}
	require.Equal(t, "01:02:03.004", formatClock(3_723_004))
	require.Equal(t, "00:00:00.000", formatClock(0))
}

// Compile-time checks that the workers are River workers.
var (
	_ river.Worker[KinetixEmoteArgs]    = (*KinetixEmoteWorker)(nil)
	_ river.Worker[KinetixValidateArgs] = (*KinetixValidateWorker)(nil)
	_ river.Worker[KinetixRetakeArgs]   = (*KinetixRetakeWorker)(nil)
	_ river.Worker[KinetixNotifyArgs]   = (*KinetixNotifyWorker)(nil)
	_                                   = pgx.ErrNoRows
)

// TestKinetixPollBackoffCountsOnlyPolls holds an emote's job at the app
// gate between two polls: the gate's snoozes must not lengthen the wait
// before the next poll, which grows with the polls alone.
func TestKinetixPollBackoffCountsOnlyPolls(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	clock := testutil.NewClock(time.Now()) // never advanced: the process stays working
	env := newKinetixEnv(t, &kinetixEnvOpts{
		sim:     &kinetixsim.Config{Now: clock.Now},
		kinetix: func(k *KinetixDeps) { k.PollMin, k.PollMax = time.Second, time.Hour },
	})
	env.deps.AppShare = AppShare{KinetixInFlight: 1, Wait: 10 * time.Millisecond}
	inserter, err := river.NewClient(riverpgxv5.New(env.db.Pool), &river.Config{})
	require.NoError(t, err)
	e := env.enqueue(t, inserter, nil)
	w := &KinetixEmoteWorker{k: env.k}

	// runPoll works the job once and checks it snoozed for want, counted
	// as the polls-th wait for a poll.
	runPoll := func(t *testing.T, polls int, want time.Duration) *rivertest.WorkResult {
		t.Helper()
		before := time.Now()
		res := workJob(t, env, w, e.JobID)
		after := time.Now()
		require.Equal(t, river.EventKindJobSnoozed, res.EventKind)
		require.Equal(t, polls, pollsOf(res.Job))
		require.False(t, res.Job.ScheduledAt.Before(before.Add(want)), "snoozed for less than %s", want)
		require.False(t, res.Job.ScheduledAt.After(after.Add(want)), "snoozed for more than %s", want)
		return res
	}
	runPoll(t, 1, time.Second) // the create, then the wait for the first poll
	runPoll(t, 2, 2*time.Second)
	require.Equal(t, 1, env.sim.Requests("GET /v1/process/{uuid}"))

	// Another job of the app holds its only kinetix slot: the emote's job
	// is snoozed by the gate, without polling.
	blocker, err := inserter.Insert(ctx, KinetixNotifyArgs{EmoteID: uuid.New()}, nil)
	require.NoError(t, err)
	_, err = env.db.Pool.Exec(ctx, "UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now() WHERE id = $1", blocker.Job.ID)
	require.NoError(t, err)
	taken, err := store.AppSlotTake(ctx, env.db.Pool, &store.AppSlotParams{AppID: env.appID, Queue: QueueKinetix,
		JobID: blocker.Job.ID, Attempt: 1, Cap: 1})
	require.NoError(t, err)
	require.True(t, taken)
	var res *rivertest.WorkResult
	for range 4 {
		res = workJob(t, env, w, e.JobID)
		require.Equal(t, river.EventKindJobSnoozed, res.EventKind)
	}
	require.Equal(t, 1, env.sim.Requests("GET /v1/process/{uuid}"), "the gate held every run")
	var meta struct {
		Snoozes int `json:"snoozes"`
	}
	require.NoError(t, json.Unmarshal(res.Job.Metadata, &meta))
	require.Equal(t, 6, meta.Snoozes, "River counted the gate's snoozes")
	require.Equal(t, 2, pollsOf(res.Job), "the job did not")

	require.NoError(t, store.AppSlotRelease(ctx, env.db.Pool, blocker.Job.ID, 1))
	runPoll(t, 3, 4*time.Second)
	require.Equal(t, 2, env.sim.Requests("GET /v1/process/{uuid}"))
}
