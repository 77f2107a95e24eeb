package httpapi

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/auth"
	"github.com/gamepipe/gamepipe/internal/blob"
	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/ratelimit"
	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/upstreamsim/kinetixsim"
)

// emoteTestVideo is a small MP4 (an ftyp box and some bytes).
var emoteTestVideo = append([]byte("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"), bytes.Repeat([]byte{9}, 2048)...)

// emoteKinetixKey is the default Kinetix key of the tests.
const emoteKinetixKey = "gamepipe-test"

type emotePublisher struct{}

func (emotePublisher) Publish(context.Context, []eventstream.Message) (*eventstream.Result, error) {
	return &eventstream.Result{}, nil
}

// emoteEnv is an API with the job routes on a fresh schema: an insert-only
// River client, blob storage, and the Kinetix simulator for the
// pass-through routes.
type emoteEnv struct {
	db         *dbtest.Schema
	appA, appB *store.AppCredentials
	sim        *kinetixsim.Server
	simURL     string
	blobs      blob.Store
	river      *river.Client[pgx.Tx]
	server     *httptest.Server
}

type emoteEnvOpts struct {
	sim           *kinetixsim.Config
	maxVideoBytes int64
	gameKey       string
	storageQuota  int64
	// keyCacheTTL is the api's KeyCacheTTL; zero is its default.
	keyCacheTTL time.Duration
}

// testSecrets seals the apps' upstream keys in the api tests.
var testSecrets = func() *auth.SecretBox {
	b, err := auth.NewSecretBox(bytes.Repeat([]byte{4}, auth.SecretsKeySize))
	if err != nil {
		panic(err)
	}
	return b
}()

func newEmoteEnv(t testing.TB, opts *emoteEnvOpts) *emoteEnv {
	t.Helper()
	ctx := context.Background()
	if opts == nil {
		opts = &emoteEnvOpts{}
	}
	db := dbtest.NewSchema(t)
	appA, err := store.AppCreate(ctx, db.Pool, "a")
	require.NoError(t, err)
	appB, err := store.AppCreate(ctx, db.Pool, "b")
	require.NoError(t, err)
	sim := kinetixsim.New(opts.sim)
	simSrv := httptest.NewServer(sim)
	t.Cleanup(simSrv.Close)
	blobs, err := blob.NewDirStore(t.TempDir())
	require.NoError(t, err)
	rc, err := river.NewClient(riverpgxv5.New(db.Pool), &river.Config{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)

	api, err := New(testConfig(t, &Config{RateLimit: ratelimit.Config{Rate: 1000, Burst: 1000}, BodyReadTimeout: 5 * time.Second,
		KeyCacheTTL: opts.keyCacheTTL}), &Deps{
		Logger:    zerolog.Nop(),
		Publisher: emotePublisher{},
		KeyLookup: func(ctx context.Context, h auth.Hash) (*store.KeyInfo, error) {
			return store.KeyLookup(ctx, db.Pool, h)
		},
		Jobs: &JobDeps{Pool: db.Pool, River: rc, Blob: blobs, MaxVideoBytes: cmp.Or(opts.maxVideoBytes, 1<<20), StorageQuotaBytes: opts.storageQuota,
			Kinetix: &KinetixRouteDeps{BaseURL: simSrv.URL, APIKey: emoteKinetixKey, Timeout: 5 * time.Second, GameAPIKey: opts.gameKey},
			Secrets: testSecrets},
	})
	require.NoError(t, err)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return &emoteEnv{db: db, appA: appA, appB: appB, sim: sim, simURL: simSrv.URL, blobs: blobs, river: rc,
		server: srv}
}

// emoteAnswer is a decoded response.
type emoteAnswer struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

// do sends a request with app's secret key (nil: no key).
func (env *emoteEnv) do(t testing.TB, app *store.AppCredentials, method, path string, body io.Reader, contentType string) *emoteAnswer {
	t.Helper()
	req, err := http.NewRequest(method, env.server.URL+path, body)
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if app != nil {
		req.Header.Set("Authorization", "Bearer "+app.SecretKey)
	}
	return env.send(t, req)
}

func (env *emoteEnv) send(t testing.TB, req *http.Request) *emoteAnswer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := &emoteAnswer{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

// emoteForm builds a multipart body; a nil video sends none.
func emoteForm(t testing.TB, fields map[string]string, video []byte) (io.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		require.NoError(t, mw.WriteField(k, v))
	}
	if video != nil {
		fw, err := mw.CreateFormFile("video", "clip.mp4")
		require.NoError(t, err)
		_, err = fw.Write(video)
		require.NoError(t, err)
	}
	require.NoError(t, mw.Close())
	return &buf, mw.FormDataContentType()
}

func validEmoteFields() map[string]string {
	return map[string]string{"user_id": "player-1", "name": "wave", "start": "00:00:00.000", "end": "00:00:02.000", "mature": "false"}
}

// create posts a valid emote for app and returns its id.
func (env *emoteEnv) create(t testing.TB, app *store.AppCredentials) string {
	t.Helper()
	body, ct := emoteForm(t, validEmoteFields(), emoteTestVideo)
	a := env.do(t, app, http.MethodPost, "/v1/emotes", body, ct)
	require.Equal(t, http.StatusAccepted, a.status, string(a.raw))
	return a.body["id"].(string)
}

// count counts rows of a table (emotes, river_job).
func (env *emoteEnv) count(t testing.TB, table string) int {
	t.Helper()
	var n int
	require.NoError(t, env.db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&n))
	return n
}

// requireEmoteJob checks that the River job of args was inserted.
func requireEmoteJob[T river.JobArgs](t *testing.T, env *emoteEnv, args T) *rivertype.JobRow {
	t.Helper()
	ctx := context.Background()
	tx, err := env.db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	return rivertest.RequireInsertedTx[*riverpgxv5.Driver](ctx, t, tx, args, nil).JobRow
}
