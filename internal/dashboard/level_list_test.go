package dashboard

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLevelsList(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	a, b, db := f.a.AppID, f.b.AppID, f.db.Pool
	// L1: gameplay events (one without a position) and trajectories.
	addGameplayAt(t, db, a, gameplayAt{level: "L1", name: "Death", pos: []float64{-5, 0, 2}, at: "2026-03-01T01:00:00Z"})
	addGameplayAt(t, db, a, gameplayAt{level: "L1", name: "Death", pos: []float64{3, 1, 9}, at: "2026-03-01T02:00:00Z"})
	addGameplayAt(t, db, a, gameplayAt{level: "L1", name: "Start", at: "2026-03-01T03:00:00Z"})
	addTrajectoryAt(t, db, a, trajectoryAt{player: "p", session: "s", level: "L1", positions: []float64{0, 0, 0, 1, 1, 1}, start: "2026-03-01T01:00:00Z"})
	// ~L2: a funnel step alone.
	addStep(t, db, a.String(), "b1", "p", "s", "Tutorial", "2026-03-01T04:00:00Z")
	_, err := db.Exec(t.Context(), `UPDATE funnel_steps SET level_id = '~L2' WHERE app_id = $1`, a)
	require.NoError(t, err)
	// L3: models only, no events.
	m1 := f.addModel(t, a, "L3", []byte("glTF one"))
	m2 := f.addModel(t, a, "L3", []byte("glTF two"))
	// The unknown level: a trajectory without a level.
	addTrajectoryAt(t, db, a, trajectoryAt{player: "p", session: "s", positions: []float64{7, 7, 7}, start: "2026-03-01T05:00:00Z"})
	// Not listed: out of the range, or another app's (even its model).
	addGameplayAt(t, db, a, gameplayAt{level: "Old", name: "Death", pos: []float64{0, 0, 0}, at: "2026-02-01T00:00:00Z"})
	addGameplayAt(t, db, b, gameplayAt{level: "B1", name: "Death", pos: []float64{0, 0, 0}, at: "2026-03-01T01:00:00Z"})
	addGameplayAt(t, db, b, gameplayAt{level: "L1", name: "Death", pos: []float64{100, 100, 100}, at: "2026-03-01T01:00:00Z"})
	f.addModel(t, b, "L1", []byte("glTF b"))

	var v levelsView
	f.view(t, f.a.SecretKey, "/dashboard/api/levels", heatRange, &v)
	require.False(t, v.Truncated)
	var refs []string
	for _, l := range v.Levels {
		refs = append(refs, l.Ref)
	}
	require.Equal(t, []string{"L1", "L3", "~~L2", "~"}, refs, "by id, the unknown level last")

	l1 := v.Levels[0]
	require.Equal(t, "L1", *l1.LevelID)
	require.Equal(t, []int64{3, 2, 1, 2}, []int64{l1.GameplayEvents, l1.PositionedEvents, l1.Trajectories, l1.Points})
	require.NotNil(t, l1.Bounds)
	// Gameplay positions and trajectory points together.
	require.Equal(t, &heatBounds{Min: [3]float64{-5, 0, 0}, Max: [3]float64{3, 1, 9}}, l1.Bounds)
	require.Empty(t, l1.Models)
	require.NotNil(t, l1.Models, "[] rather than null")

	l3 := v.Levels[1]
	require.Nil(t, l3.Bounds)
	require.Zero(t, l3.GameplayEvents+l3.Trajectories)
	require.Len(t, l3.Models, 2)
	require.Equal(t, m2.ID, l3.Models[0].ID, "newest version first")
	require.Equal(t, m1.ID, l3.Models[1].ID)
	require.Equal(t, "/dashboard/api/models/"+m2.ID.String()+"/file", l3.Models[0].FileURL)
	require.Equal(t, "y", l3.Models[0].Alignment.UpAxis)
	require.Equal(t, 1.0, l3.Models[0].Alignment.Scale)

	require.Equal(t, "~L2", *v.Levels[2].LevelID)
	unknown := v.Levels[3]
	require.Nil(t, unknown.LevelID)
	require.EqualValues(t, 1, unknown.Trajectories)

	// The filters apply to the counts; a level filter does not apply.
	f.view(t, f.a.SecretKey, "/dashboard/api/levels", with(heatRange, "build_id", "b9"), &v)
	refs = nil
	for _, l := range v.Levels {
		refs = append(refs, l.Ref)
	}
	require.Equal(t, []string{"L3"}, refs, "only the level with models")
	f.badRequest(t, "/dashboard/api/levels", with(heatRange, "level_id", "L1"), "level_id")
	status, _ := f.get(t, "", "/dashboard/api/levels", heatRange)
	require.Equal(t, http.StatusUnauthorized, status)
}

func TestLevelHeatmapTrajectory(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	a, b, db := f.a.AppID, f.b.AppID, f.db.Pool
	addTrajectoryAt(t, db, a, trajectoryAt{player: "p", session: "s", level: "L", fps: [3]*float64{fp(60), fp(50), fp(20)},
		positions: []float64{0, 0, 0, 1, 1, 1, 5, 0, 0}, start: "2026-03-01T01:00:00Z"})
	addTrajectoryAt(t, db, a, trajectoryAt{player: "p", session: "s", level: "L", fps: [3]*float64{fp(30), fp(25), fp(10)},
		positions: []float64{0.5, 0.5, 0.5}, start: "2026-03-01T02:00:00Z"})
	addTrajectoryAt(t, db, a, trajectoryAt{player: "p", session: "s", level: "L", positions: []float64{9, 0, -0.5}, start: "2026-03-01T03:00:00Z"})
	// Not counted: out of the range, another level, another app.
	addTrajectoryAt(t, db, a, trajectoryAt{player: "p", session: "s", level: "L", positions: []float64{0, 0, 0}, start: "2026-03-02T00:00:00Z"})
	addTrajectoryAt(t, db, a, trajectoryAt{player: "p", session: "s", level: "M", positions: []float64{0, 0, 0}, start: "2026-03-01T01:00:00Z"})
	addTrajectoryAt(t, db, b, trajectoryAt{player: "p", session: "s", level: "L", positions: []float64{0, 0, 0}, start: "2026-03-01T01:00:00Z"})

	var v heatmapView
	f.view(t, f.a.SecretKey, levelURL("L", "heatmap"), with(heatRange, "cell", "4", "metric", "fps_mean"), &v)
	require.Equal(t, "trajectory", v.Kind)
	require.Equal(t, [][]any{
		{0.0, 0.0, 0.0, 3.0, 50.0}, // (60 + 60 + 30) / 3
		{1.0, 0.0, 0.0, 1.0, 60.0},
		{2.0, 0.0, -1.0, 1.0, nil}, // no fps
	}, v.Cells)
	require.EqualValues(t, 5, v.Total)
	require.Equal(t, 60.0, *v.MaxValue)
	require.Equal(t, 50.0, *v.MinValue)

	f.view(t, f.a.SecretKey, levelURL("L", "heatmap"), with(heatRange, "cell", "4", "metric", "fps_low_1", "dims", "2"), &v)
	require.Equal(t, []string{"x", "z"}, v.Axes)
	require.Equal(t, [][]any{
		{0.0, 0.0, 3.0, 50.0 / 3},
		{1.0, 0.0, 1.0, 20.0},
		{2.0, -1.0, 1.0, nil},
	}, v.Cells)

	// The default cell: the bounds' largest side (9) over 64, up to a
	// power of two: 0.25.
	f.view(t, f.a.SecretKey, levelURL("L", "heatmap"), heatRange, &v)
	require.Equal(t, 0.25, v.Cell)
	require.EqualValues(t, 5, v.Total)
	require.Equal(t, "count", v.Metric)

	// Once the day is rolled up, the answers are the same.
	_, err := Rollup(t.Context(), db, ts("2026-03-10T12:00:00Z"))
	require.NoError(t, err)
	f.view(t, f.a.SecretKey, levelURL("L", "heatmap"), with(heatRange, "cell", "4", "metric", "fps_mean"), &v)
	require.Equal(t, [][]any{{0.0, 0.0, 0.0, 3.0, 50.0}, {1.0, 0.0, 0.0, 1.0, 60.0}, {2.0, 0.0, -1.0, 1.0, nil}}, v.Cells)
	f.view(t, f.a.SecretKey, levelURL("L", "heatmap"), heatRange, &v)
	require.Equal(t, 0.25, v.Cell)
}

// The default cell comes from the level's bounds, gameplay and trajectories
// alike.
func TestLevelHeatmapDefaultCell(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	_, err := f.db.Pool.Exec(t.Context(), `INSERT INTO gameplay_events (event_id, app_id, build_id, player_id, session_id, level_id,
			event_name, pos_x, pos_y, pos_z, "timestamp", received_at)
		SELECT gen_random_uuid(), $1, 'b1', 'p', 's', 'Big', 'Move', g, 0, 0, '2026-03-01T12:00:00Z', now()
		FROM generate_series(0, 200000) g`, f.a.AppID)
	require.NoError(t, err)
	var v heatmapView
	// 200,000 / 64 = 3125, up to 4096: x from 0 to 48.
	f.view(t, f.a.SecretKey, levelURL("Big", "heatmap"), with(heatRange, "kind", "gameplay"), &v)
	require.Equal(t, 4096.0, v.Cell)
	require.Len(t, v.Cells, 49)
	require.EqualValues(t, 200_001, v.Total)
}
