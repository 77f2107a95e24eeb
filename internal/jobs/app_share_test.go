package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/blob"
	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/generaitiv"
	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/upstreamsim/generaitivsim"
	"github.com/gamepipe/gamepipe/internal/upstreamsim/kinetixsim"
)

// holdUpstream wraps a simulator: requests that match are held until the
// test ends (or their caller gives up), as a very slow upstream would
// hold them; it counts how many it holds at once.
type holdUpstream struct {
	next    http.Handler
	match   func(r *http.Request) bool
	release chan struct{}

	mu      sync.Mutex
	held    int
	maxHeld int
	total   int
}

func (h *holdUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.match(r) {
		h.next.ServeHTTP(w, r)
		return
	}
	h.mu.Lock()
	h.held++
	h.total++
	h.maxHeld = max(h.maxHeld, h.held)
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.held--
		h.mu.Unlock()
	}()
	select {
	case <-h.release:
	case <-r.Context().Done():
	}
	http.Error(w, `{"error":"unavailable","message":"held"}`, http.StatusServiceUnavailable)
}

func (h *holdUpstream) stats() (total, maxHeld int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.total, h.maxHeld
}

func TestAppShare(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	type testBundle struct {
		pool         *dbtest.Schema
		appA, appB   uuid.UUID
		blobs        blob.Store
		river        *river.Client[pgx.Tx]
		kinetixHold  *holdUpstream
		generateHold *holdUpstream
	}
	const (
		sharedKey = "shared-key"
		keyA      = "app-a-key"
		queueSize = 4
		appCap    = 2
	)
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		db := dbtest.NewSchema(shortNamed{TB: t, name: "jobs_share"})
		a, err := store.AppCreate(ctx, db.Pool, "a")
		require.NoError(t, err)
		b, err := store.AppCreate(ctx, db.Pool, "b")
		require.NoError(t, err)
		// App A has keys of its own, so the simulators can tell its calls.
		ka, ga := keyA, keyA
		require.NoError(t, store.AppSetUpstreamKeys(ctx, db.Pool, testSecrets, a.AppID, &ka, &ga))

		release := make(chan struct{})
		ksim := kinetixsim.New(&kinetixsim.Config{ProcessDuration: 200 * time.Millisecond})
		kHold := &holdUpstream{next: ksim, release: release, match: func(r *http.Request) bool {
			return r.Method == http.MethodPost && r.URL.Path == "/v1/process" && r.Header.Get("X-Api-Key") == keyA
		}}
		ksrv := httptest.NewServer(kHold)
		t.Cleanup(ksrv.Close)
		gsim := generaitivsim.New(&generaitivsim.Config{GenerationTime: 200 * time.Millisecond})
		gHold := &holdUpstream{next: gsim, release: release, match: func(r *http.Request) bool {
			return r.URL.Path == "/v1/consumer/gen" && strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ") == keyA
		}}
		gsrv := httptest.NewServer(gHold)
		t.Cleanup(func() { gsrv.Close(); gsim.Close() })
		t.Cleanup(func() { close(release) }) // runs before the servers close

		gclient, err := generaitiv.New(&generaitiv.Config{BaseURL: gsrv.URL + "/v1/", APIKey: sharedKey, RateLimit: 1000,
			RateBurst: 1000, FollowBackoff: 20 * time.Millisecond, RequestTimeout: 5 * time.Minute})
		require.NoError(t, err)
		blobs, err := blob.NewDirStore(t.TempDir())
		require.NoError(t, err)
		deps := &Deps{Logger: zerolog.Nop(), Pool: db.Pool, Blob: blobs, Now: time.Now, Secrets: testSecrets,
			Kinetix: &KinetixDeps{BaseURL: ksrv.URL, APIKey: sharedKey, PollMin: 50 * time.Millisecond,
				PollMax: 200 * time.Millisecond, RequestTimeout: 5 * time.Second, UploadTimeout: 5 * time.Minute},
			Generaitiv: &GeneraitivDeps{Client: gclient},
			AppShare:   AppShare{KinetixInFlight: appCap, GeneraitivInFlight: appCap, Wait: 100 * time.Millisecond},
		}
		workers := river.NewWorkers()
		require.NoError(t, Register(workers, deps))
		client, err := river.NewClient(riverpgxv5.New(db.Pool), &river.Config{
			Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
			Queues:            map[string]river.QueueConfig{QueueKinetix: {MaxWorkers: queueSize}, QueueGeneraitiv: {MaxWorkers: queueSize}},
			Workers:           workers,
			FetchCooldown:     20 * time.Millisecond,
			FetchPollInterval: 50 * time.Millisecond,
			JobTimeout:        5 * time.Minute,
			TestOnly:          true,
		})
		require.NoError(t, err)
		return &testBundle{pool: db, appA: a.AppID, appB: b.AppID, blobs: blobs, river: client,
			kinetixHold: kHold, generateHold: gHold}
	}
	emote := func(t *testing.T, bundle *testBundle, appID uuid.UUID) uuid.UUID {
		t.Helper()
		info, err := bundle.blobs.Put(ctx, bytes.NewReader(testVideo), 0)
		require.NoError(t, err)
		e := &store.Emote{ID: uuid.Must(uuid.NewV7()), AppID: appID, UserID: "player-1", Name: "wave",
			EndMS: 2000, VideoKey: info.Key, VideoSize: info.Size, VideoFormat: "mp4"}
		require.NoError(t, pgx.BeginFunc(ctx, bundle.pool.Pool, func(tx pgx.Tx) error {
			res, err := bundle.river.InsertTx(ctx, tx, KinetixEmoteArgs{EmoteID: e.ID}, nil)
			if err != nil {
				return err
			}
			e.JobID = res.Job.ID
			return store.EmoteInsert(ctx, tx, e)
		}))
		return e.ID
	}
	generation := func(t *testing.T, bundle *testBundle, appID uuid.UUID) uuid.UUID {
		t.Helper()
		g := &store.Generation{ID: uuid.New(), AppID: appID, Model: "stability-ai-sdxl",
			Input:      json.RawMessage(`{"prompt":"a red fox","width":64,"height":64,"num_inference_steps":4}`),
			DeadlineAt: time.Now().Add(10 * time.Minute)}
		require.NoError(t, pgx.BeginFunc(ctx, bundle.pool.Pool, func(tx pgx.Tx) error {
			if err := store.GenerationInsert(ctx, tx, g); err != nil {
				return err
			}
			_, err := bundle.river.InsertTx(ctx, tx, GeneraitivGenerateArgs{GenerationID: g.ID}, nil)
			return err
		}))
		return g.ID
	}

	t.Run("AFloodDoesNotStallB", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		// App A sends far more than the queues hold, and its upstream
		// calls never end.
		for range 3 * queueSize {
			emote(t, bundle, bundle.appA)
			generation(t, bundle, bundle.appA)
		}
		start(t, bundle.river)
		require.Eventually(t, func() bool {
			kt, _ := bundle.kinetixHold.stats()
			gt, _ := bundle.generateHold.stats()
			return kt >= appCap && gt >= appCap
		}, 60*time.Second, 20*time.Millisecond, "app A's jobs reach its slow upstream")

		emoteB := emote(t, bundle, bundle.appB)
		genB := generation(t, bundle, bundle.appB)
		require.Eventually(t, func() bool {
			e, err := store.EmoteGet(ctx, bundle.pool.Pool, emoteB)
			require.NoError(t, err)
			return e.Status == store.JobSucceeded
		}, 60*time.Second, 50*time.Millisecond, "app B's emote completes")
		require.Eventually(t, func() bool {
			g, err := store.GenerationGet(ctx, bundle.pool.Pool, genB)
			require.NoError(t, err)
			return g.Status == store.JobSucceeded
		}, 60*time.Second, 50*time.Millisecond, "app B's generation completes")

		// A never ran more than its cap at once on either upstream.
		_, kmax := bundle.kinetixHold.stats()
		_, gmax := bundle.generateHold.stats()
		require.LessOrEqual(t, kmax, appCap)
		require.LessOrEqual(t, gmax, appCap)
		for _, q := range []string{QueueKinetix, QueueGeneraitiv} {
			held, err := store.AppSlotsHeld(ctx, bundle.pool.Pool, bundle.appA, q)
			require.NoError(t, err)
			require.LessOrEqual(t, held, appCap)
		}
	})
}
