package httpapi

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/auth"
	"github.com/gamepipe/gamepipe/internal/blob"
	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/generaitiv"
	"github.com/gamepipe/gamepipe/internal/jobs"
	"github.com/gamepipe/gamepipe/internal/natstest"
	"github.com/gamepipe/gamepipe/internal/ratelimit"
	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/upstreamsim/generaitivsim"
)

// nopPublisher stands in for JetStream telemetry publishing, which the
// generation routes do not use.
type nopPublisher struct{}

func (nopPublisher) Publish(context.Context, []eventstream.Message) (*eventstream.Result, error) {
	return &eventstream.Result{}, nil
}

// shortNamed gives dbtest a short test name: the schema name is part of
// River's LISTEN channel, which Postgres caps at 63 bytes.
type shortNamed struct {
	testing.TB
	name string
}

func (s shortNamed) Name() string { return s.name }

// genTestBundle is what the generation route tests share.
type genTestBundle struct {
	api     *httptest.Server
	pool    *pgxpool.Pool
	blobs   blob.Store
	insert  *river.Client[pgx.Tx]
	workers *river.Client[pgx.Tx] // nil unless started
	sim     *generaitivsim.Server
	simURL  string
	nc      *nats.Conn
	appA    *store.AppCredentials
	appB    *store.AppCredentials
}

type genTestOpts struct {
	// storageQuota is JobDeps.StorageQuotaBytes (0: none).
	storageQuota int64
	// workers starts a River client working the generaitiv queue.
	workers bool
	// concurrency is the generaitiv queue's MaxWorkers (default 4).
	concurrency int
	// webhook sets PUBLIC_BASE_URL to the api (else websocket mode).
	webhook      bool
	deadline     time.Duration
	simTime      time.Duration
	beforeCommit func(ctx context.Context, id uuid.UUID) error
	// eventsPollInterval defaults to 200ms; maxEventStreams to the route's
	// default.
	eventsPollInterval time.Duration
	maxEventStreams    int
}

func genSetup(t testing.TB, opts *genTestOpts) *genTestBundle {
	t.Helper()
	if opts == nil {
		opts = &genTestOpts{}
	}
	ctx := context.Background()
	db := dbtest.NewSchema(shortNamed{TB: t, name: "http_gen"})
	ns := natstest.Run(t)
	nc := ns.Connect(t)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	_, err = eventstream.EnsureNotifyStream(ctx, js)
	require.NoError(t, err)
	blobs, err := blob.NewDirStore(t.(interface{ TempDir() string }).TempDir())
	require.NoError(t, err)
	appA, err := store.AppCreate(ctx, db.Pool, "a")
	require.NoError(t, err)
	appB, err := store.AppCreate(ctx, db.Pool, "b")
	require.NoError(t, err)

	sim := generaitivsim.New(&generaitivsim.Config{GenerationTime: cmp.Or(opts.simTime, 300*time.Millisecond),
		WebhookRetryDelay: 100 * time.Millisecond, GenRate: 1000, GenBurst: 1000})
	simSrv := httptest.NewServer(sim)
	t.Cleanup(func() { simSrv.Close(); sim.Close() })

	insertClient, err := river.NewClient(riverpgxv5.New(db.Pool), &river.Config{Logger: discardSlog()})
	require.NoError(t, err)
	apiSrv := httptest.NewUnstartedServer(nil)
	publicURL := "http://" + apiSrv.Listener.Addr().String()
	routeDeps := &GeneraitivRouteDeps{Deadline: opts.deadline, NATS: nc, EventsPollInterval: cmp.Or(opts.eventsPollInterval, 200*time.Millisecond),
		BeforeCommit: opts.beforeCommit, MaxEventStreamsPerApp: opts.maxEventStreams}
	api, err := New(testConfig(t, &Config{RateLimit: ratelimit.Config{Rate: 100000, Burst: 100000}, RequestTimeout: 20 * time.Second}), &Deps{
		Logger:    zerolog.Nop(),
		Publisher: nopPublisher{},
		KeyLookup: func(ctx context.Context, h auth.Hash) (*store.KeyInfo, error) {
			return store.KeyLookup(ctx, db.Pool, h)
		},
		Jobs: &JobDeps{Pool: db.Pool, River: insertClient, Blob: blobs, Generaitiv: routeDeps, StorageQuotaBytes: opts.storageQuota},
	})
	require.NoError(t, err)
	apiSrv.Config = api.HTTPServer("")
	apiSrv.Start()
	t.Cleanup(apiSrv.Close)

	b := &genTestBundle{api: apiSrv, pool: db.Pool, blobs: blobs, insert: insertClient, sim: sim, simURL: simSrv.URL,
		nc: nc, appA: appA, appB: appB}
	if !opts.workers {
		return b
	}
	client, err := generaitiv.New(&generaitiv.Config{BaseURL: simSrv.URL + "/v1/", APIKey: "k", RateLimit: 1000, RateBurst: 1000,
		FollowBackoff: 20 * time.Millisecond})
	require.NoError(t, err)
	deps := &jobs.Deps{Logger: zerolog.Nop(), Pool: db.Pool, Blob: blobs, Notifier: eventstream.NewNotifier(js),
		Generaitiv: &jobs.GeneraitivDeps{Client: client, PublishRetry: 50 * time.Millisecond}}
	if opts.webhook {
		deps.Generaitiv.PublicBaseURL = publicURL
	}
	workers := river.NewWorkers()
	require.NoError(t, jobs.Register(workers, deps))
	b.workers, err = river.NewClient(riverpgxv5.New(db.Pool), &river.Config{
		Logger:            discardSlog(),
		Queues:            map[string]river.QueueConfig{jobs.QueueGeneraitiv: {MaxWorkers: max(opts.concurrency, 4)}},
		Workers:           workers,
		FetchCooldown:     5 * time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond,
		JobTimeout:        20 * time.Second,
	})
	require.NoError(t, err)
	require.NoError(t, b.workers.Start(ctx))
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = b.workers.Stop(sctx)
	})
	return b
}

// do sends a request as app (its secret key) and decodes a JSON answer.
func (b *genTestBundle) do(t testing.TB, app *store.AppCredentials, method, path string, body any, headers map[string]string) (int, map[string]any, http.Header) {
	t.Helper()
	status, raw, header := b.doRaw(t, app, method, path, body, headers)
	var out map[string]any
	if len(raw) > 0 && raw[0] == '{' {
		require.NoError(t, json.Unmarshal(raw, &out), string(raw))
	}
	return status, out, header
}

// doRaw sends a request as app (its secret key) and returns the answer's
// bytes as they came.
func (b *genTestBundle) doRaw(t testing.TB, app *store.AppCredentials, method, path string, body any, headers map[string]string) (int, []byte, http.Header) {
	t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(v)
	default:
		raw, err := json.Marshal(v)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, b.api.URL+path, rd)
	require.NoError(t, err)
	if app != nil {
		req.Header.Set("Authorization", "Bearer "+app.SecretKey)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, raw, resp.Header
}

// create posts a valid generation for app and returns its id.
func (b *genTestBundle) create(t testing.TB, app *store.AppCredentials, req map[string]any) uuid.UUID {
	t.Helper()
	if req == nil {
		req = validGeneration()
	}
	status, body, _ := b.do(t, app, http.MethodPost, "/v1/generations", req, nil)
	require.Equal(t, http.StatusAccepted, status, body)
	id, err := uuid.Parse(body["id"].(string))
	require.NoError(t, err)
	return id
}

func validGeneration() map[string]any {
	return map[string]any{
		"model": "stability-ai-sdxl",
		"input": map[string]any{
			"prompt": "a lighthouse at dusk", "prompt_strength": 0.8, "refine": "no_refiner", "scheduler": "K_EULER",
			"disable_safety_checker": true, "high_noise_frac": 0.8, "lora_scale": 0.6, "guidance_scale": 7.5,
			"width": 256, "height": 128, "num_inference_steps": 10,
		},
	}
}

func (b *genTestBundle) get(t testing.TB, id uuid.UUID) *store.Generation {
	t.Helper()
	g, err := store.GenerationGet(context.Background(), b.pool, id)
	require.NoError(t, err)
	return g
}

// waitFor polls the row until cond holds or the deadline passes.
func (b *genTestBundle) waitFor(t testing.TB, id uuid.UUID, within time.Duration, cond func(g *store.Generation) bool) *store.Generation {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		g := b.get(t, id)
		if cond(g) {
			return g
		}
		if time.Now().After(deadline) {
			require.Failf(t, "condition not reached", "generation %s is %s (%s: %s)", id, g.Status, g.ErrorCode, g.ErrorMessage)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// awaitingCallback inserts a generation that was submitted with a webhook
// token and returns it with the token.
func (b *genTestBundle) awaitingCallback(t testing.TB, app *store.AppCredentials) (*store.Generation, string) {
	t.Helper()
	ctx := context.Background()
	g := &store.Generation{ID: uuid.New(), AppID: app.AppID, Model: "m", Input: json.RawMessage(`{"prompt":"p"}`),
		DeadlineAt: time.Now().Add(time.Minute)}
	require.NoError(t, store.GenerationInsert(ctx, b.pool, g))
	token := uuid.NewString()
	h := sha256.Sum256([]byte(token))
	g, err := store.GenerationUpdate(ctx, b.pool, g.ID, func(_ pgx.Tx, g *store.Generation) error {
		g.Status, g.WorkloadID, g.CallbackTokenHashes = store.GenerationSubmitted, "0xw", [][]byte{h[:]}
		return nil
	})
	require.NoError(t, err)
	return g, token
}

// callback posts a webhook body.
func (b *genTestBundle) callback(t testing.TB, id, token string, body any) (int, map[string]any) {
	t.Helper()
	status, out, _ := b.do(t, nil, http.MethodPost, "/webhooks/generaitiv/"+id+"?token="+token, body, nil)
	return status, out
}

// finalizeJobs counts generaitiv_finalize jobs of a generation.
func (b *genTestBundle) finalizeJobs(t testing.TB, id uuid.UUID) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM river_job WHERE kind = 'generaitiv_finalize' AND args->>'generation_id' = $1`, id.String()).Scan(&n))
	return n
}

func discardSlog() *slog.Logger { return slog.New(slog.DiscardHandler) }
