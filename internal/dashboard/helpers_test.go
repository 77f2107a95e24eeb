package dashboard

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/blob"
	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/store"
)

// fixture is a dashboard on its own schema with two apps: A, whose data a
// test checks, and B, whose data must never show in A's answers.
type fixture struct {
	db   *dbtest.Schema
	a, b *store.AppCredentials
	// blobs holds the level models' files, in Postgres in chunks of 16
	// bytes, so that a range read crosses chunks.
	blobs  *blob.PostgresStore
	h      *Handler
	server *httptest.Server
}

func newFixture(t *testing.T, cfg *Config) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{db: dbtest.NewSchema(t)}
	var err error
	f.a, err = store.AppCreate(ctx, f.db.Pool, "game A")
	require.NoError(t, err)
	f.b, err = store.AppCreate(ctx, f.db.Pool, "game B")
	require.NoError(t, err)
	if cfg == nil {
		cfg = &Config{}
	}
	f.blobs = blob.NewPostgresStore(f.db.Pool, &blob.PostgresStoreConfig{ChunkSize: 16})
	f.h, err = New(cfg, &Deps{Logger: zerolog.Nop(), DB: f.db.Pool, Blob: f.blobs})
	require.NoError(t, err)
	mux := http.NewServeMux()
	f.h.Register(mux)
	f.server = httptest.NewServer(mux)
	t.Cleanup(f.server.Close)
	return f
}

// client is an HTTP client that does not follow redirects, so tests see
// the sign-in's 303 and its cookie.
func (f *fixture) client() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// get calls a JSON view with the secret key and decodes its answer.
func (f *fixture) get(t *testing.T, key, path string, q url.Values) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.server.URL+path+"?"+q.Encode(), nil)
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	return f.do(t, req)
}

func (f *fixture) do(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := f.client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out), "%s", raw)
	return resp.StatusCode, out
}

// view decodes a 200 answer into v.
func (f *fixture) view(t *testing.T, key, path string, q url.Values, v any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.server.URL+path+"?"+q.Encode(), nil)
	require.NoError(t, err)
	req.Header.Set("x-api-key", key)
	resp, err := f.client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", raw)
	require.NoError(t, json.Unmarshal(raw, v), "%s", raw)
}

// signIn posts the sign-in form as a same-origin browser would.
func (f *fixture) signIn(t *testing.T, key, next string) *http.Response {
	t.Helper()
	form := url.Values{"key": {key}}
	if next != "" {
		form.Set("next", next)
	}
	req, err := http.NewRequest(http.MethodPost, f.server.URL+"/dashboard/signin", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", f.server.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := f.client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// Fixture rows, written straight into the telemetry tables as the sink
// would.

func addPlayer(t *testing.T, db *pgxpool.Pool, app, player, firstSeen, hardware string) {
	t.Helper()
	var hw any
	if hardware != "" {
		hw = hardware
	}
	_, err := db.Exec(context.Background(), `INSERT INTO players (app_id, player_id, hardware, first_seen, last_seen)
		VALUES ($1, $2, $3::jsonb, $4, $4)`, app, player, hw, ts(firstSeen))
	require.NoError(t, err)
}

func addPlayerEvent(t *testing.T, db *pgxpool.Pool, app, player, at string) {
	t.Helper()
	_, err := db.Exec(context.Background(), `INSERT INTO player_events (event_id, app_id, build_id, player_id, event_name, "timestamp", received_at)
		VALUES (gen_random_uuid(), $1, 'b1', $2, 'Create_Player', $3, now())`, app, player, ts(at))
	require.NoError(t, err)
}

func addStep(t *testing.T, db *pgxpool.Pool, app, build, player, session, step, at string) {
	t.Helper()
	_, err := db.Exec(context.Background(), `INSERT INTO funnel_steps (event_id, app_id, build_id, player_id, session_id, funnel_step_name, "timestamp", received_at)
		VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, now())`, app, build, player, session, step, ts(at))
	require.NoError(t, err)
}

func addGameplay(t *testing.T, db *pgxpool.Pool, app, player, session, name, level, at string) {
	t.Helper()
	var lv any
	if level != "" {
		lv = level
	}
	_, err := db.Exec(context.Background(), `INSERT INTO gameplay_events (event_id, app_id, build_id, player_id, session_id, level_id, event_name, "timestamp", received_at)
		VALUES (gen_random_uuid(), $1, 'b1', $2, $3, $4, $5, $6, now())`, app, player, session, lv, name, ts(at))
	require.NoError(t, err)
}

func addTrajectory(t *testing.T, db *pgxpool.Pool, app, build, player, session string, fps [3]float64, at string) {
	t.Helper()
	_, err := db.Exec(context.Background(), `INSERT INTO trajectories (event_id, app_id, build_id, player_id, session_id,
			fps_mean, fps_low_5, fps_low_1, positions, num_points, timestamp_start, timestamp_end, received_at)
		VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, $7, '{0,0,0}', 1, $8, $8, now())`,
		app, build, player, session, fps[0], fps[1], fps[2], ts(at))
	require.NoError(t, err)
}

// attribute runs the dashboard_rollup job's level attribution alone (no
// rollups) as of now, as a run of the job before the views are asked.
func attribute(t *testing.T, db *pgxpool.Pool, now string) RollupStats {
	t.Helper()
	ctx := context.Background()
	today := ts(now).Truncate(24 * time.Hour)
	from := today.AddDate(0, 0, -RollupLookback)
	counts, err := rawCounts(ctx, db, from.AddDate(0, 0, -1), today.AddDate(0, 0, 2))
	require.NoError(t, err)
	var st RollupStats
	require.NoError(t, attributeLevels(ctx, db, counts, from, today, LevelAttributionBudget, &st))
	return st
}
