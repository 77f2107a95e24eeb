package jobs

import (
	"context"
	"crypto/sha256"
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

// Variables of the worker subprocess of TestGeneraitivWorkerKilled.
const (
	generaitivHelperDBEnv     = "GAMEPIPE_GENERAITIV_HELPER_DB"
	generaitivHelperSimEnv    = "GAMEPIPE_GENERAITIV_HELPER_SIM"
	generaitivHelperPublicEnv = "GAMEPIPE_GENERAITIV_HELPER_PUBLIC"
)

// TestGeneraitivHelperProcess is not a test: it is the worker process that
// TestGeneraitivWorkerKilled starts and that SIGKILLs itself right after
// Generaitiv accepted a generation, before the row records it.
func TestGeneraitivHelperProcess(t *testing.T) {
	ctx, logger, pool := helperProcess(t, generaitivHelperDBEnv)
	blobs, err := blob.NewDirStore(t.TempDir())
	require.NoError(t, err)
	workers := river.NewWorkers()
	require.NoError(t, Register(workers, &Deps{Logger: logger, Pool: pool, Blob: blobs, Generaitiv: &GeneraitivDeps{
		ClientConfig:  generaitiv.Config{BaseURL: os.Getenv(generaitivHelperSimEnv) + "/v1/", APIKey: "k", RateLimit: 1000, RateBurst: 1000},
		PublicBaseURL: os.Getenv(generaitivHelperPublicEnv),
		Fault: func(point string, _ uuid.UUID) error {
			if point == "after_submit" {
				killSelf(logger, point)
			}
			return nil
		},
	}}))
	workUntilKilled(ctx, t, pool, workers, QueueGeneraitiv)
}

// caughtCallback is a webhook the simulator delivered.
type caughtCallback struct {
	token string
	body  []byte
}

// TestGeneraitivWorkerKilled is RELIABILITY.md #23, Generaitiv variant: the
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
		generaitivHelperSimEnv+"="+bundle.simURL, generaitivHelperPublicEnv+"="+catcher.URL)

	require.Equal(t, rivertype.JobStateRunning, jobRow(t, inserter, job.Job.ID).State, "the dead worker's job")
	row := bundle.get(t, g.ID)
	require.Equal(t, store.GenerationSubmitting, row.Status, "the submit was never recorded")
	require.Len(t, row.CallbackTokenHashes, 1, "but its callback token was")
	require.Equal(t, 1, bundle.sim.Stats().GenAccepted)

	// A new worker: River rescues the job, which submits again.
	workers := river.NewWorkers()
	require.NoError(t, Register(workers, bundle.deps))
	client, err := river.NewClient(riverpgxv5.New(bundle.pool), &river.Config{
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Queues:  map[string]river.QueueConfig{QueueGeneraitiv: {MaxWorkers: 2}},
		Workers: workers, FetchCooldown: 20 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond, TestOnly: true,
		JobTimeout: 2 * time.Second, RescueStuckJobsAfter: 2 * time.Second,
	})
	require.NoError(t, err)
	start(t, client)
	require.Eventually(t, func() bool {
		return jobRow(t, client, job.Job.ID).State == rivertype.JobStateCompleted
	}, 30*time.Second, 20*time.Millisecond)
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
