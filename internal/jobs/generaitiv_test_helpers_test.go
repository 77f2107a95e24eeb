package jobs

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/blob"
	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/generaitiv"
	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/upstreamsim/generaitivsim"
)

// genBundle is what the generaitiv job tests share.
type genBundle struct {
	pool   *pgxpool.Pool
	dbURL  string
	deps   *Deps
	sim    *generaitivsim.Server
	simURL string
	client *generaitiv.Client
	appID  uuid.UUID
}

type genSetupOpts struct {
	simTime       time.Duration
	publicBaseURL string
	allowHosts    []string
	maxImageBytes int64
}

func genSetup(t *testing.T, opts *genSetupOpts) *genBundle {
	t.Helper()
	if opts == nil {
		opts = &genSetupOpts{}
	}
	ctx := context.Background()
	db := dbtest.NewSchema(shortNamed{TB: t, name: "jobs_gen"})
	sim := generaitivsim.New(&generaitivsim.Config{GenerationTime: cmp.Or(opts.simTime, 300*time.Millisecond)})
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { srv.Close(); sim.Close() })
	client, err := generaitiv.New(&generaitiv.Config{BaseURL: srv.URL + "/v1/", APIKey: "k", RateLimit: 1000, RateBurst: 1000,
		FollowBackoff: 20 * time.Millisecond, AllowHosts: opts.allowHosts})
	require.NoError(t, err)
	blobs, err := blob.NewDirStore(t.TempDir())
	require.NoError(t, err)
	app, err := store.AppCreate(ctx, db.Pool, "app")
	require.NoError(t, err)
	deps := &Deps{Logger: zerolog.Nop(), Pool: db.Pool, Blob: blobs, Now: time.Now, Secrets: testSecrets,
		Generaitiv: &GeneraitivDeps{Client: client, PublicBaseURL: opts.publicBaseURL, MaxImageBytes: opts.maxImageBytes,
			PublishRetry: 50 * time.Millisecond}}
	require.NoError(t, Register(river.NewWorkers(), deps))
	return &genBundle{pool: db.Pool, dbURL: db.URL, deps: deps, sim: sim, simURL: srv.URL, client: client, appID: app.AppID}
}

// insertGeneration adds a generation and applies mutate to it.
func (b *genBundle) insertGeneration(t *testing.T, publish *GeneraitivPublish, mutate func(g *store.Generation)) *store.Generation {
	t.Helper()
	ctx := context.Background()
	g := &store.Generation{ID: uuid.New(), AppID: b.appID, Model: "stability-ai-sdxl",
		Input: json.RawMessage(`{"prompt":"a red fox","width":128,"height":128,"num_inference_steps":10}`), DeadlineAt: time.Now().Add(time.Minute)}
	if publish != nil {
		g.Publish, _ = json.Marshal(publish)
	}
	require.NoError(t, store.GenerationInsert(ctx, b.pool, g))
	if mutate != nil {
		var err error
		g, err = store.GenerationUpdate(ctx, b.pool, g.ID, func(_ pgx.Tx, g *store.Generation) error { mutate(g); return nil })
		require.NoError(t, err)
	}
	return g
}

func (b *genBundle) get(t *testing.T, id uuid.UUID) *store.Generation {
	t.Helper()
	g, err := store.GenerationGet(context.Background(), b.pool, id)
	require.NoError(t, err)
	return g
}

// tx begins a transaction for rivertest, rolled back at cleanup.
func (b *genBundle) tx(t *testing.T) pgx.Tx {
	t.Helper()
	tx, err := b.pool.Begin(context.Background())
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(context.WithoutCancel(context.Background())) })
	return tx
}

// completedLink runs a websocket generation on the simulator to its end
// and returns its image link.
func (b *genBundle) completedLink(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	w, h, steps := 96, 64, 5
	resp, err := b.client.Generate(ctx, &generaitiv.GenRequest{Model: "m", Input: generaitiv.GenInput{Prompt: "p", Width: &w, Height: &h, NumInferenceSteps: &steps}})
	require.NoError(t, err)
	res, err := b.client.Follow(ctx, resp.WorkloadID, resp.JWT, nil)
	require.NoError(t, err)
	require.True(t, res.Completed)
	return res.Link
}

func newTestWorker[T river.JobArgs](t *testing.T, b *genBundle, w river.Worker[T]) *rivertest.Worker[T, pgx.Tx] {
	t.Helper()
	return rivertest.NewWorker(t, riverpgxv5.New(b.pool), &river.Config{}, w)
}

// shortNamed gives dbtest a short test name: the schema name is part of
// River's LISTEN channel, which Postgres caps at 63 bytes, and long subtest
// names would push it past that.
type shortNamed struct {
	testing.TB
	name string
}

func (s shortNamed) Name() string { return s.name }
