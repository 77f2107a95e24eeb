package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/auth"
	"github.com/gamepipe/gamepipe/internal/blob"
	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/natstest"
	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/upstreamsim/kinetixsim"
)

// testVideo is a small MP4 (an ftyp box and some bytes).
var testVideo = append([]byte("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"), bytes.Repeat([]byte{7}, 4096)...)

// kinetixEnv is a test's world: a migrated schema with an app, the
// simulator over real HTTP, blob storage, optionally JetStream, and the
// Deps the emote workers use. Only the upstream is simulated.
type kinetixEnv struct {
	db     *dbtest.Schema
	sim    *kinetixsim.Server
	simURL string
	blobs  blob.Store
	appID  uuid.UUID
	deps   *Deps
	k      *kinetixRunner
	stream jetstream.Stream // nil without NATS
}

type kinetixEnvOpts struct {
	// sim configures the simulator; nil is the defaults.
	sim *kinetixsim.Config
	// kinetix adjusts the KinetixDeps.
	kinetix func(*KinetixDeps)
	// nats starts JetStream and a Notifier.
	nats bool
	// poolConns, when set, gives the workers and River their own pool of
	// that size (the schema's pool has 10).
	poolConns int32
}

const testKinetixKey = "gamepipe-test"

// testSecrets seals the apps' upstream keys in the job tests.
var testSecrets = func() *auth.SecretBox {
	b, err := auth.NewSecretBox(bytes.Repeat([]byte{3}, auth.SecretsKeySize))
	if err != nil {
		panic(err)
	}
	return b
}()

func newKinetixEnv(t testing.TB, opts *kinetixEnvOpts) *kinetixEnv {
	t.Helper()
	ctx := context.Background()
	if opts == nil {
		opts = &kinetixEnvOpts{}
	}
	db := dbtest.NewSchema(t)
	app, err := store.AppCreate(ctx, db.Pool, "game")
	require.NoError(t, err)
	sim := kinetixsim.New(opts.sim)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	blobs, err := blob.NewDirStore(t.TempDir())
	require.NoError(t, err)

	if opts.poolConns > 0 {
		cfg, err := pgxpool.ParseConfig(db.URL)
		require.NoError(t, err)
		cfg.MaxConns = opts.poolConns
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		require.NoError(t, err)
		t.Cleanup(pool.Close)
		db = &dbtest.Schema{Name: db.Name, URL: db.URL, Pool: pool}
	}
	env := &kinetixEnv{db: db, sim: sim, simURL: srv.URL, blobs: blobs, appID: app.AppID}
	kd := &KinetixDeps{BaseURL: srv.URL, APIKey: testKinetixKey, PollMin: 50 * time.Millisecond, PollMax: 400 * time.Millisecond,
		RequestTimeout: 5 * time.Second}
	if opts.kinetix != nil {
		opts.kinetix(kd)
	}
	env.deps = &Deps{Logger: zerolog.Nop(), Pool: db.Pool, Blob: blobs, Kinetix: kd, Now: time.Now, Secrets: testSecrets}
	if opts.nats {
		ns := natstest.Run(t)
		js, err := jetstream.New(ns.Connect(t))
		require.NoError(t, err)
		env.stream, err = eventstream.EnsureNotifyStream(ctx, js)
		require.NoError(t, err)
		env.deps.Notifier = eventstream.NewNotifier(js)
	}
	env.k, err = newKinetixRunner(env.deps)
	require.NoError(t, err)
	return env
}

// newEmote stores the test video and inserts a queued emote row without a
// job; mutate may change it first.
func (env *kinetixEnv) newEmote(t testing.TB, mutate func(e *store.Emote)) *store.Emote {
	t.Helper()
	ctx := context.Background()
	info, err := env.blobs.Put(ctx, bytes.NewReader(testVideo), 0)
	require.NoError(t, err)
	e := &store.Emote{ID: uuid.Must(uuid.NewV7()), AppID: env.appID, UserID: "player-1", Name: "wave",
		StartMS: 0, EndMS: 2000, VideoKey: info.Key, VideoSize: info.Size, VideoFormat: "mp4"}
	if mutate != nil {
		mutate(e)
	}
	require.NoError(t, store.EmoteInsert(ctx, env.db.Pool, e))
	return e
}

// set changes a row directly, as an earlier step or the API would have.
func (env *kinetixEnv) set(t testing.TB, id uuid.UUID, fn func(e *store.Emote)) *store.Emote {
	t.Helper()
	e, err := store.EmoteUpdate(context.Background(), env.db.Pool, id, func(_ pgx.Tx, e *store.Emote) error { fn(e); return nil })
	require.NoError(t, err)
	return e
}

func (env *kinetixEnv) get(t testing.TB, id uuid.UUID) *store.Emote {
	t.Helper()
	e, err := store.EmoteGet(context.Background(), env.db.Pool, id)
	require.NoError(t, err)
	return e
}

// riverClient builds a working River client on the schema with the emote
// workers (not started).
func (env *kinetixEnv) riverClient(t testing.TB, workers int, adjust func(*river.Config)) *river.Client[pgx.Tx] {
	t.Helper()
	ws := river.NewWorkers()
	require.NoError(t, registerKinetix(ws, env.deps))
	cfg := &river.Config{
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
		Queues:            map[string]river.QueueConfig{QueueKinetix: {MaxWorkers: workers}},
		Workers:           ws,
		FetchCooldown:     20 * time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond,
		JobTimeout:        30 * time.Second,
		TestOnly:          true,
	}
	if adjust != nil {
		adjust(cfg)
	}
	client, err := river.NewClient(riverpgxv5.New(env.db.Pool), cfg)
	require.NoError(t, err)
	return client
}

// start starts a client and stops it at cleanup.
func start(t testing.TB, client *river.Client[pgx.Tx]) {
	t.Helper()
	require.NoError(t, client.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.StopAndCancel(ctx)
	})
}

// enqueue inserts an emote, then its kinetix_emote job and the row's job_id
// in one transaction.
func (env *kinetixEnv) enqueue(t testing.TB, client *river.Client[pgx.Tx], mutate func(e *store.Emote)) *store.Emote {
	t.Helper()
	ctx := context.Background()
	e := env.newEmote(t, mutate)
	e, err := store.EmoteUpdate(ctx, env.db.Pool, e.ID, func(tx pgx.Tx, row *store.Emote) error {
		res, err := client.InsertTx(ctx, tx, KinetixEmoteArgs{EmoteID: row.ID}, nil)
		if err != nil {
			return err
		}
		row.JobID = res.Job.ID
		return nil
	})
	require.NoError(t, err)
	return e
}

// waitStatus polls the row until it has status, failing after timeout.
func (env *kinetixEnv) waitStatus(t testing.TB, id uuid.UUID, status store.JobStatus, timeout time.Duration) *store.Emote {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		e := env.get(t, id)
		if e.Status == status {
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("emote %s: status %s after %s, want %s (error %s: %s)", id, e.Status, timeout, status, e.ErrorCode, e.ErrorMessage)
		}
		time.Sleep(25 * time.Millisecond) // polling external state, bounded by the deadline
	}
}

// notifications returns every notification published so far.
func (env *kinetixEnv) notifications(t testing.TB) []eventstream.Notification {
	t.Helper()
	ctx := context.Background()
	info, err := env.stream.Info(ctx)
	require.NoError(t, err)
	var out []eventstream.Notification
	for seq := info.State.FirstSeq; seq > 0 && seq <= info.State.LastSeq; seq++ {
		msg, err := env.stream.GetMsg(ctx, seq)
		require.NoError(t, err)
		var n eventstream.Notification
		require.NoError(t, json.Unmarshal(msg.Data, &n))
		require.Equal(t, eventstream.NotifySubject(n.AppID, "emote", n.Status), msg.Subject)
		out = append(out, n)
	}
	return out
}

// statusesOf lists the statuses notified for one emote, in order.
func statusesOf(notes []eventstream.Notification, id uuid.UUID) []string {
	var out []string
	for _, n := range notes {
		if n.ID == id.String() {
			out = append(out, n.Status)
		}
	}
	return out
}
