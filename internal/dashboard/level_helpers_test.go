package dashboard

import (
	"bytes"
	"cmp"
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/store"
)

// gameplayAt is a gameplay event to insert: an empty level is none, a nil
// pos no position, an empty build b1, an empty player p, an empty input
// method none.
type gameplayAt struct {
	level, name, build string
	pos                []float64
	at                 string
	player, input      string
}

func addGameplayAt(t *testing.T, db *pgxpool.Pool, app uuid.UUID, e gameplayAt) {
	t.Helper()
	var level, x, y, z, input any
	if e.level != "" {
		level = e.level
	}
	if e.input != "" {
		input = e.input
	}
	player := cmp.Or(e.player, "p")
	if e.pos != nil {
		x, y, z = e.pos[0], e.pos[1], e.pos[2]
	}
	build := e.build
	if build == "" {
		build = "b1"
	}
	_, err := db.Exec(context.Background(), `INSERT INTO gameplay_events (event_id, app_id, build_id, player_id, session_id,
			level_id, event_name, input_method, pos_x, pos_y, pos_z, "timestamp", received_at)
		VALUES (gen_random_uuid(), $1, $2, $3, 's', $4, $5, $6, $7, $8, $9, $10, now())`,
		app, build, player, level, e.name, input, x, y, z, ts(e.at))
	require.NoError(t, err)
}

// trajectoryAt is a trajectory to insert, with the level the client sent
// (empty: none, the unknown level) and nil fps for none.
type trajectoryAt struct {
	player, session, level, build string
	fps                           [3]*float64
	positions                     []float64
	start, end                    string
}

func addTrajectoryAt(t *testing.T, db *pgxpool.Pool, app uuid.UUID, tr trajectoryAt) uuid.UUID {
	t.Helper()
	var level, session, end any
	if tr.level != "" {
		level = tr.level
	}
	if tr.session != "" {
		session = tr.session
	}
	if tr.end != "" {
		end = ts(tr.end)
	}
	build := tr.build
	if build == "" {
		build = "b1"
	}
	id := uuid.New()
	_, err := db.Exec(context.Background(), `INSERT INTO trajectories (event_id, app_id, build_id, player_id, session_id, level_id,
			fps_mean, fps_low_5, fps_low_1, positions, num_points, timestamp_start, timestamp_end, received_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, now())`,
		id, app, build, tr.player, session, level, tr.fps[0], tr.fps[1], tr.fps[2], tr.positions, len(tr.positions)/3, ts(tr.start), end)
	require.NoError(t, err)
	return id
}

// addModel stores content as a model of app's level, as POST /api/models
// would.
func (f *fixture) addModel(t *testing.T, app uuid.UUID, level string, content []byte) *store.LevelModel {
	t.Helper()
	ctx := context.Background()
	info, err := f.blobs.Put(ctx, bytes.NewReader(content), 0)
	require.NoError(t, err)
	m, err := store.LevelModelInsert(ctx, f.db.Pool, &store.LevelModelInsertParams{
		AppID: app, LevelName: level, BlobKey: info.Key, SizeBytes: info.Size,
		Format: "glb", OriginalFilename: "level.glb", ContentType: "model/gltf-binary",
	})
	require.NoError(t, err)
	return m
}

// levelURL is the route of a level's view, its ref path-escaped.
func levelURL(ref, view string) string {
	return "/dashboard/api/levels/" + url.PathEscape(ref) + "/" + view
}

// badRequest asks path with q and wants a 400 naming field.
func (f *fixture) badRequest(t *testing.T, path string, q url.Values, field string) map[string]any {
	t.Helper()
	status, body := f.get(t, f.a.SecretKey, path, q)
	require.Equal(t, http.StatusBadRequest, status, "%s?%s: %v", path, q.Encode(), body)
	require.Equal(t, field, body["field"], "%s?%s: %v", path, q.Encode(), body)
	return body
}

// with is q plus the pairs kv (name, value, name, value, …).
func with(q url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out.Add(kv[i], kv[i+1])
	}
	return out
}

func fp(v float64) *float64 { return &v }
