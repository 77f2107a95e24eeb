package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/blob"
	"github.com/gamepipe/gamepipe/internal/generaitiv"
	"github.com/gamepipe/gamepipe/internal/store"
)

// Variables of the worker subprocess of TestGeneraitivWorkerKilled and
// TestGeneraitivFollowWorkerKilled.
const (
	generaitivHelperDBEnv     = "GAMEPIPE_GENERAITIV_HELPER_DB"
	generaitivHelperSimEnv    = "GAMEPIPE_GENERAITIV_HELPER_SIM"
	generaitivHelperPublicEnv = "GAMEPIPE_GENERAITIV_HELPER_PUBLIC"
	generaitivHelperFaultEnv  = "GAMEPIPE_GENERAITIV_HELPER_FAULT"
)

// TestGeneraitivHelperProcess is not a test: it is the worker process that
// the Generaitiv chaos tests start and that SIGKILLs itself at the fault
// point they name: right after Generaitiv accepted a generation, before
// the row records it ("after_submit", with webhooks), or while following
// the websocket ("follow:progress", without).
func TestGeneraitivHelperProcess(t *testing.T) {
	ctx, logger, pool := helperProcess(t, generaitivHelperDBEnv)
	blobs, err := blob.NewDirStore(t.TempDir())
	require.NoError(t, err)
	fault := os.Getenv(generaitivHelperFaultEnv)
	workers := river.NewWorkers()
	require.NoError(t, Register(workers, &Deps{Logger: logger, Pool: pool, Blob: blobs, Generaitiv: &GeneraitivDeps{
		ClientConfig:  generaitiv.Config{BaseURL: os.Getenv(generaitivHelperSimEnv) + "/v1/", APIKey: "k", RateLimit: 1000, RateBurst: 1000},
		PublicBaseURL: os.Getenv(generaitivHelperPublicEnv),
		Fault: func(point FaultPoint, _ uuid.UUID) error {
			if string(point) == fault {
				killSelf(logger, point)
			}
			return nil
		},
	}}))
	workUntilKilled(ctx, t, pool, workers, QueueGeneraitiv)
}

// rescuingClient starts a River client on the bundle's database with
// workers, as a new worker process after a crash would, once stuck (the
// dead worker's job, whose kind's timeout is timeout) is old enough for the
// rescuer's first pass to take it.
func rescuingClient(t *testing.T, bundle *genBundle, stuck *rivertype.JobRow, workers *river.Workers, timeout time.Duration) *river.Client[pgx.Tx] {
	t.Helper()
	awaitRescuable(t, bundle.pool, stuck.ID, timeout)
	client, err := river.NewClient(riverpgxv5.New(bundle.pool), &river.Config{
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Queues:  map[string]river.QueueConfig{QueueGeneraitiv: {MaxWorkers: 2}},
		Workers: workers, FetchCooldown: 20 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond, TestOnly: true,
		JobTimeout: chaosRescueAfter, RescueStuckJobsAfter: chaosRescueAfter,
	})
	require.NoError(t, err)
	start(t, client)
	return client
}

// caughtCallback is a webhook the simulator delivered.
type caughtCallback struct {
	token string
	body  []byte
}

// TestGeneraitivWorkerKilled is docs/reliability.md #23, Generaitiv variant: the
// worker is SIGKILLed right after Generaitiv accepted the generation and
// before the row records it. The upstream cannot be asked whether that POST
// landed, so the rescued job submits again and records the duplicate
// (resubmits 1, one callback token per attempt); both attempts' callbacks
// then land on the same generation row: the first moves it on, the other is
// counted as late.
func TestGeneraitivWorkerKilled(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("chaos: kills a worker subprocess")
	}
	ctx := context.Background()

	var (
		mu     sync.Mutex
		caught []caughtCallback
	)
	catcher := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		caught = append(caught, caughtCallback{token: r.URL.Query().Get("token"), body: body})
		mu.Unlock()
	}))
	t.Cleanup(catcher.Close)
	bundle := genSetup(t, &genSetupOpts{publicBaseURL: catcher.URL})
	g := bundle.insertGeneration(t, nil, nil)
	inserter, err := river.NewClient(riverpgxv5.New(bundle.pool), &river.Config{})
	require.NoError(t, err)
	job, err := inserter.Insert(ctx, GeneraitivGenerateArgs{GenerationID: g.ID}, nil)
	require.NoError(t, err)

	runUntilKilled(t, "TestGeneraitivHelperProcess", generaitivHelperDBEnv+"="+bundle.dbURL,
		generaitivHelperSimEnv+"="+bundle.simURL, generaitivHelperPublicEnv+"="+catcher.URL, generaitivHelperFaultEnv+"="+string(FaultAfterSubmit))

	require.Equal(t, rivertype.JobStateRunning, jobRow(t, inserter, job.Job.ID).State, "the dead worker's job")
	row := bundle.get(t, g.ID)
	require.Equal(t, store.GenerationSubmitting, row.Status, "the submit was never recorded")
	require.Len(t, row.CallbackTokenHashes, 1, "but its callback token was")
	require.Equal(t, 1, bundle.sim.Stats().GenAccepted)

	// A new worker: River rescues the job, which submits again.
	workers := river.NewWorkers()
	require.NoError(t, Register(workers, bundle.deps))
	client := rescuingClient(t, bundle, jobRow(t, inserter, job.Job.ID), workers, 0)
	require.Eventually(t, func() bool {
		return jobRow(t, client, job.Job.ID).State == rivertype.JobStateCompleted
	}, rescueWait, 20*time.Millisecond)
	row = bundle.get(t, g.ID)
	require.Equal(t, store.GenerationSubmitted, row.Status)
	require.Equal(t, int32(1), row.Resubmits, "the duplicate submit is recorded")
	require.Len(t, row.CallbackTokenHashes, 2)
	require.Equal(t, 2, bundle.sim.Stats().GenAccepted, "the upstream could not be asked: it ran twice")

	// Both attempts call back; both tokens belong to this row.
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(caught) == 2
	}, 30*time.Second, 20*time.Millisecond, "both attempts' callbacks")
	applied := 0
	for _, cb := range caught {
		h := sha256.Sum256([]byte(cb.token))
		done, err := store.GenerationComplete(ctx, bundle.pool, g.ID, store.Completion{OK: true, Link: "https://img/" + cb.token[:8], At: time.Now()},
			func(_ pgx.Tx, done *store.Completed) error {
				require.Contains(t, done.CallbackTokenHashes, h[:], "the callback's token is one of this row's")
				return nil
			})
		require.NoError(t, err)
		if done.Applied {
			applied++
		}
	}
	require.Equal(t, 1, applied)
	row = bundle.get(t, g.ID)
	require.Equal(t, store.GenerationFinalizing, row.Status)
	require.Equal(t, int32(2), row.Completions)
	require.Equal(t, int32(1), row.LateCompletions)
}

// TestGeneraitivFollowWorkerKilled is docs/reliability.md #23, websocket
// variant: without webhooks a worker is SIGKILLed while it follows the
// websocket. The follow job's timeout is finite, so River rescues it; the
// new worker reconnects, the upstream resumes the stream, and the
// generation succeeds with its image instead of waiting for its deadline.
// The upstream saw one submit.
func TestGeneraitivFollowWorkerKilled(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("chaos: kills a worker subprocess")
	}
	ctx := context.Background()
	bundle := genSetup(t, &genSetupOpts{simTime: 4 * time.Second})
	g := bundle.insertGeneration(t, nil, func(g *store.Generation) { g.DeadlineAt = time.Now().Add(30 * time.Minute) })
	inserter, err := river.NewClient(riverpgxv5.New(bundle.pool), &river.Config{})
	require.NoError(t, err)
	_, err = inserter.Insert(ctx, GeneraitivGenerateArgs{GenerationID: g.ID}, nil)
	require.NoError(t, err)

	runUntilKilled(t, "TestGeneraitivHelperProcess", generaitivHelperDBEnv+"="+bundle.dbURL,
		generaitivHelperSimEnv+"="+bundle.simURL, generaitivHelperFaultEnv+"="+string(FaultFollowProgress))

	row := bundle.get(t, g.ID)
	require.Equal(t, store.JobProcessing, row.Status, "the dead worker was following")
	require.Positive(t, row.Progress)
	jobs, err := inserter.JobList(ctx, river.NewJobListParams().Kinds(GeneraitivFollowArgs{}.Kind()))
	require.NoError(t, err)
	require.Len(t, jobs.Jobs, 1)
	follow := jobs.Jobs[0]
	require.Equal(t, rivertype.JobStateRunning, follow.State, "the dead worker's follow job")

	// A new worker, with short sessions: River rescues the follow job and
	// the new run reconnects.
	const session = 2 * time.Second
	workers := river.NewWorkers()
	river.AddWorker(workers, &GeneraitivGenerateWorker{deps: bundle.deps})
	river.AddWorker(workers, &GeneraitivFollowWorker{deps: bundle.deps, session: session})
	river.AddWorker(workers, &GeneraitivFinalizeWorker{deps: bundle.deps})
	river.AddWorker(workers, &GeneraitivDeadlineWorker{deps: bundle.deps})
	client := rescuingClient(t, bundle, follow, workers, session+session/2)
	deadline := time.Now().Add(rescueWait)
	for !bundle.get(t, g.ID).Status.Terminal() {
		require.True(t, time.Now().Before(deadline), "the generation never ended; its follow job is %s", jobRow(t, client, follow.ID).State)
		time.Sleep(50 * time.Millisecond) // polling the row, bounded by the deadline
	}

	row = bundle.get(t, g.ID)
	require.Equal(t, store.JobSucceeded, row.Status, "%s: %s", row.ErrorCode, row.ErrorMessage)
	require.Equal(t, int16(100), row.Progress)
	require.Contains(t, row.UpstreamLink, "/images/asset/")
	rc, info, err := bundle.deps.Blob.Open(ctx, row.ImageKey)
	require.NoError(t, err, "the image is stored")
	require.NoError(t, rc.Close())
	require.Positive(t, info.Size)
	require.Equal(t, int32(1), row.Completions)

	// River records the follow job's end after its run returns, so
	// possibly after the finalize job it inserted has run.
	require.Eventually(t, func() bool {
		return jobRow(t, client, follow.ID).State == rivertype.JobStateCompleted
	}, time.Minute, 20*time.Millisecond, "the follow job completes")
	job := jobRow(t, client, follow.ID)
	var meta map[string]any
	require.NoError(t, json.Unmarshal(job.Metadata, &meta))
	require.GreaterOrEqual(t, meta["river:rescue_count"], float64(1), "River rescued the follow job")
	st := bundle.sim.Stats()
	require.Equal(t, 1, st.GenAccepted, "the generation was submitted once")
	require.GreaterOrEqual(t, st.WSConnections, 2, "the new worker reconnected")
}
