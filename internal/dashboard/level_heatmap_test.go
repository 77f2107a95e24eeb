package dashboard

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

// heatRange is the range the heatmap tests ask for.
var heatRange = url.Values{"from": {"2026-03-01T00:00:00Z"}, "to": {"2026-03-02T00:00:00Z"}}

func TestLevelHeatmapGameplay(t *testing.T) {
	t.Parallel()

	// setup places gameplay events of Level_1 around cell edges of 4:
	// their cells (floor(coordinate/4)) are in the comments.
	setup := func(t *testing.T) *fixture {
		t.Helper()
		f := newFixture(t, nil)
		a, b, db := f.a.AppID, f.b.AppID, f.db.Pool
		for _, e := range []gameplayAt{
			{level: "Level_1", name: "Death", build: "b2", pos: []float64{0, 0, 0}, at: "2026-03-01T00:00:00Z"}, // (0,0,0), at from
			{level: "Level_1", name: "Death", pos: []float64{3.999, 10, -0.5}, at: "2026-03-01T01:00:00Z"},      // (0,2,-1)
			{level: "Level_1", name: "Pickup", pos: []float64{4, 10, -4}, at: "2026-03-01T02:00:00Z"},           // (1,2,-1)
			{level: "Level_1", name: "Death", pos: []float64{-0.001, -4, -4.001}, at: "2026-03-01T03:00:00Z"},   // (-1,-1,-2)
			{level: "Level_1", name: "Pickup", pos: []float64{-4, 7.9, 8}, at: "2026-03-01T04:00:00Z"},          // (-1,1,2)
			{level: "Level_1", name: "Death", pos: []float64{-4.001, 8, 0}, at: "2026-03-01T05:00:00Z"},         // (-2,2,0)
			{level: "Level_1", name: "Jump", pos: []float64{0.5, 1, 3.9}, at: "2026-03-01T23:59:59Z"},           // (0,0,0)
			// Not counted: no position, outside the range, another level,
			// no level, another app.
			{level: "Level_1", name: "Death", at: "2026-03-01T06:00:00Z"},
			{level: "Level_1", name: "Death", pos: []float64{0, 0, 0}, at: "2026-03-02T00:00:00Z"},
			{level: "Level_1", name: "Death", pos: []float64{0, 0, 0}, at: "2026-02-28T23:59:59Z"},
			{level: "Level_2", name: "Death", pos: []float64{0, 0, 0}, at: "2026-03-01T06:00:00Z"},
			{name: "Death", pos: []float64{100, 0, 0}, at: "2026-03-01T06:00:00Z"},
		} {
			addGameplayAt(t, db, a, e)
		}
		addGameplayAt(t, db, b, gameplayAt{level: "Level_1", name: "Death", pos: []float64{0, 0, 0}, at: "2026-03-01T06:00:00Z"})
		return f
	}
	q := with(heatRange, "kind", "gameplay", "cell", "4")
	heat := func(t *testing.T, f *fixture, ref string, q url.Values) heatmapView {
		t.Helper()
		var v heatmapView
		f.view(t, f.a.SecretKey, levelURL(ref, "heatmap"), q, &v)
		return v
	}
	// cells writes the expected cells; values are counts for metric=count.
	cells := func(rows ...[]int) [][]any {
		out := [][]any{}
		for _, r := range rows {
			row := []any{}
			for _, v := range r {
				row = append(row, float64(v))
			}
			row = append(row, float64(r[len(r)-1]))
			out = append(out, row)
		}
		return out
	}

	t.Run("CellEdgesAndNegatives", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		v := heat(t, f, "Level_1", q)
		require.Equal(t, "Level_1", *v.LevelID)
		require.Equal(t, "Level_1", v.Ref)
		require.Equal(t, []any{"gameplay", "count", 3, "y", 4.0}, []any{v.Kind, v.Metric, v.Dims, v.Up, v.Cell})
		require.Equal(t, []string{"x", "y", "z"}, v.Axes)
		require.Equal(t, []float64{0, 0, 0}, v.Origin)
		require.Equal(t, []string{"i", "j", "k", "count", "value"}, v.Columns)
		require.Equal(t, cells([]int{-2, 2, 0, 1}, []int{-1, -1, -2, 1}, []int{-1, 1, 2, 1}, []int{0, 0, 0, 2},
			[]int{0, 2, -1, 1}, []int{1, 2, -1, 1}), v.Cells)
		require.EqualValues(t, 7, v.Total)
		require.Equal(t, 2.0, *v.MaxValue)
		require.Equal(t, 1.0, *v.MinValue)
		require.Equal(t, heatRange.Get("from"), v.From.Format("2006-01-02T15:04:05Z"))

		// A cell is rounded to a power of two: 3 and 5 to 4, 6 to 8.
		for _, c := range []string{"3", "5", "4.0"} {
			require.Equal(t, v.Cells, heat(t, f, "Level_1", with(heatRange, "kind", "gameplay", "cell", c)).Cells, c)
		}
		eight := heat(t, f, "Level_1", with(heatRange, "kind", "gameplay", "cell", "6"))
		require.Equal(t, 8.0, eight.Cell)
		require.Equal(t, cells([]int{-1, -1, -1, 1}, []int{-1, 0, 1, 1}, []int{-1, 1, 0, 1}, []int{0, 0, 0, 2},
			[]int{0, 1, -1, 2}), eight.Cells)
	})

	t.Run("TwoDimensions", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		// Up y: y is dropped, (i, j) are (x, z).
		v := heat(t, f, "Level_1", with(q, "dims", "2"))
		require.Equal(t, []string{"x", "z"}, v.Axes)
		require.Equal(t, "y", v.Up)
		require.Equal(t, []float64{0, 0}, v.Origin)
		require.Equal(t, []string{"i", "j", "count", "value"}, v.Columns)
		require.Equal(t, cells([]int{-2, 0, 1}, []int{-1, -2, 1}, []int{-1, 2, 1}, []int{0, -1, 1}, []int{0, 0, 2},
			[]int{1, -1, 1}), v.Cells)
		// Up z: z is dropped, (i, j) are (x, y).
		v = heat(t, f, "Level_1", with(q, "dims", "2", "up", "z"))
		require.Equal(t, []string{"x", "y"}, v.Axes)
		require.Equal(t, cells([]int{-2, 2, 1}, []int{-1, -1, 1}, []int{-1, 1, 1}, []int{0, 0, 2}, []int{0, 2, 1},
			[]int{1, 2, 1}), v.Cells)
		require.EqualValues(t, 7, v.Total)
	})

	t.Run("EventsAndFilters", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		v := heat(t, f, "Level_1", with(q, "events", "Pickup, Nope,Pickup"))
		require.Equal(t, []string{"Pickup", "Nope"}, v.Events)
		require.Equal(t, cells([]int{-1, 1, 2, 1}, []int{1, 2, -1, 1}), v.Cells)
		require.EqualValues(t, 2, v.Total)

		v = heat(t, f, "Level_1", with(q, "events", "Jump,Death"))
		require.EqualValues(t, 5, v.Total)

		// The first event is build b2: under build_id=b1 its cell holds
		// the Jump alone.
		v = heat(t, f, "Level_1", with(q, "build_id", "b1"))
		require.EqualValues(t, 6, v.Total)
		require.Contains(t, v.Cells, []any{0.0, 0.0, 0.0, 1.0, 1.0})
		require.Equal(t, 1.0, *v.MaxValue)

		// Nothing matches: no cells, no values.
		v = heat(t, f, "Level_1", with(q, "build_id", "b9"))
		require.Equal(t, [][]any{}, v.Cells)
		require.Zero(t, v.Total)
		require.Nil(t, v.MaxValue)
		require.Nil(t, v.MinValue)
	})

	t.Run("OtherLevelsAndApps", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		v := heat(t, f, "Level_2", q)
		require.Equal(t, cells([]int{0, 0, 0, 1}), v.Cells)
		// The unknown level holds the event without a level.
		v = heat(t, f, "~", q)
		require.Nil(t, v.LevelID)
		require.Equal(t, "~", v.Ref)
		require.Equal(t, cells([]int{25, 0, 0, 1}), v.Cells)
		// App B sees its own event only.
		var vb heatmapView
		f.view(t, f.b.SecretKey, levelURL("Level_1", "heatmap"), q, &vb)
		require.Equal(t, cells([]int{0, 0, 0, 1}), vb.Cells)
	})
}

func TestLevelRefs(t *testing.T) {
	t.Parallel()

	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		for _, c := range []struct {
			ref string
			key levelKey
		}{
			{"~", levelKey{}},
			{"~~x", levelKey{ID: "~x", Known: true}},
			{"~~", levelKey{ID: "~", Known: true}},
			{"Level_1", levelKey{ID: "Level_1", Known: true}},
			{"World 1/Zone A", levelKey{ID: "World 1/Zone A", Known: true}},
		} {
			k, err := parseLevelRef(c.ref)
			require.NoError(t, err, c.ref)
			require.Equal(t, c.key, k, c.ref)
			require.Equal(t, c.ref, k.ref(), c.ref)
		}
		// A "~" before any other level's id is dropped.
		k, err := parseLevelRef("~Level_1")
		require.NoError(t, err)
		require.Equal(t, levelKey{ID: "Level_1", Known: true}, k)
	})

	t.Run("OverHTTP", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil)
		a, db := f.a.AppID, f.db.Pool
		levels := map[string]float64{"World 1/Zone A": 1, "~x": 2, "~": 3, "x": 4, "a%2Fb": 5}
		for id, x := range levels {
			addGameplayAt(t, db, a, gameplayAt{level: id, name: "Death", pos: []float64{x, 0, 0}, at: "2026-03-01T01:00:00Z"})
		}
		addGameplayAt(t, db, a, gameplayAt{name: "Death", pos: []float64{6, 0, 0}, at: "2026-03-01T01:00:00Z"})
		q := with(heatRange, "kind", "gameplay", "cell", "1")
		for _, c := range []struct {
			ref string
			id  *string
			x   float64
		}{
			{"World 1/Zone A", fp2("World 1/Zone A"), 1},
			{"~~x", fp2("~x"), 2},
			{"~~", fp2("~"), 3},
			{"x", fp2("x"), 4},
			{"~x", fp2("x"), 4},
			{"a%2Fb", fp2("a%2Fb"), 5},
			{"~", nil, 6},
		} {
			var v heatmapView
			f.view(t, f.a.SecretKey, levelURL(c.ref, "heatmap"), q, &v)
			require.Equal(t, c.id, v.LevelID, c.ref)
			require.Equal(t, [][]any{{c.x, 0.0, 0.0, 1.0, 1.0}}, v.Cells, c.ref)
		}
	})

	t.Run("BadRef", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil)
		long := make([]byte, 257)
		for i := range long {
			long[i] = 'a'
		}
		for _, ref := range []string{string(long), "bad\x01level"} {
			body := f.badRequest(t, levelURL(ref, "heatmap"), with(heatRange, "kind", "gameplay"), "ref")
			require.Equal(t, "invalid_parameter", body["error"])
		}
		// Without credentials the ref is not even read.
		status, _ := f.get(t, "", levelURL("bad\x01level", "heatmap"), nil)
		require.Equal(t, http.StatusUnauthorized, status)
	})
}

func fp2(s string) *string { return &s }

func TestLevelHeatmapBadParameters(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	path := levelURL("Level_1", "heatmap")
	for _, c := range []struct {
		q     url.Values
		field string
	}{
		{with(heatRange, "kind", "gameplays"), "kind"},
		{with(heatRange, "kind", "gameplay", "metric", "fps_mean"), "metric"},
		{with(heatRange, "metric", "fps_low_5"), "metric"},
		{with(heatRange, "events", "Death"), "events"},
		{with(heatRange, "kind", "gameplay", "events", "Death,,Jump"), "events"},
		{with(heatRange, "dims", "4"), "dims"},
		{with(heatRange, "up", "x"), "up"},
		{with(heatRange, "cell", "0"), "cell"},
		{with(heatRange, "cell", "-4"), "cell"},
		{with(heatRange, "cell", "abc"), "cell"},
		{with(heatRange, "cell", "NaN"), "cell"},
		{with(heatRange, "cell", "Inf"), "cell"},
		{with(heatRange, "cell", "1e-300"), "cell"},
		{with(heatRange, "level_id", "Level_1"), "level_id"},
		{with(heatRange, "region", "E\x00U"), "region"},
		{url.Values{"from": {"2026-03-02T00:00:00Z"}, "to": {"2026-03-01T00:00:00Z"}}, "from"},
	} {
		f.badRequest(t, path, c.q, c.field)
	}
}

// A cell too small for the answer is refused, naming the smallest cell that
// fits; so is a cell whose indexes the coordinates would overflow.
func TestLevelHeatmapTooManyCells(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	// 200,001 events one unit apart on x: 200,001 cells of 1, 100,001 of 2.
	_, err := f.db.Pool.Exec(ctx, `INSERT INTO gameplay_events (event_id, app_id, build_id, player_id, session_id, level_id,
			event_name, pos_x, pos_y, pos_z, "timestamp", received_at)
		SELECT gen_random_uuid(), $1, 'b1', 'p', 's', 'Big', 'Move', g, 0, 0, '2026-03-01T12:00:00Z', now()
		FROM generate_series(0, 200000) g`, f.a.AppID)
	require.NoError(t, err)
	addGameplayAt(t, f.db.Pool, f.a.AppID, gameplayAt{level: "Far", name: "Move", pos: []float64{1e12, 0, -1e12}, at: "2026-03-01T12:00:00Z"})

	path := levelURL("Big", "heatmap")
	body := f.badRequest(t, path, with(heatRange, "kind", "gameplay", "cell", "1"), "cell")
	require.Equal(t, "too_many_cells", body["error"])
	require.Equal(t, 2.0, body["min_cell"])
	require.Contains(t, body["message"], "200000")

	var v heatmapView
	f.view(t, f.a.SecretKey, path, with(heatRange, "kind", "gameplay", "cell", "2"), &v)
	require.Len(t, v.Cells, 100_001)
	require.EqualValues(t, 200_001, v.Total)
	require.Equal(t, []any{0.0, 0.0, 0.0, 2.0, 2.0}, v.Cells[0])
	require.Equal(t, []any{100_000.0, 0.0, 0.0, 1.0, 1.0}, v.Cells[100_000])

	// 1e12 < 2^40: with an index under 2^30 the cell is at least 2^10.
	body = f.badRequest(t, levelURL("Far", "heatmap"), with(heatRange, "kind", "gameplay", "cell", "1"), "cell")
	require.Equal(t, "too_many_cells", body["error"])
	require.Equal(t, 1024.0, body["min_cell"])
	f.view(t, f.a.SecretKey, levelURL("Far", "heatmap"), with(heatRange, "kind", "gameplay", "cell", "1024"), &v)
	require.Equal(t, [][]any{{976562500.0, 0.0, -976562500.0, 1.0, 1.0}}, v.Cells)
}

// The default up axis is the level's latest model's.
func TestLevelHeatmapDefaultUp(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	addGameplayAt(t, f.db.Pool, f.a.AppID, gameplayAt{level: "Level_1", name: "Death", pos: []float64{1, 2, 3}, at: "2026-03-01T01:00:00Z"})
	q := with(heatRange, "kind", "gameplay", "cell", "1", "dims", "2")
	var v heatmapView
	f.view(t, f.a.SecretKey, levelURL("Level_1", "heatmap"), q, &v)
	require.Equal(t, []any{"y", []string{"x", "z"}, [][]any{{1.0, 3.0, 1.0, 1.0}}}, []any{v.Up, v.Axes, v.Cells})

	f.addModel(t, f.a.AppID, "Level_1", []byte("glTF v1"))
	m2 := f.addModel(t, f.a.AppID, "Level_1", []byte("glTF v2"))
	status, body := f.send(t, http.MethodPut, f.a.SecretKey, "/dashboard/api/models/"+m2.ID.String()+"/alignment",
		map[string]any{"up_axis": "z"}, "")
	require.Equal(t, http.StatusOK, status, body)
	f.view(t, f.a.SecretKey, levelURL("Level_1", "heatmap"), q, &v)
	require.Equal(t, []any{"z", []string{"x", "y"}, [][]any{{1.0, 2.0, 1.0, 1.0}}}, []any{v.Up, v.Axes, v.Cells})
	// up given wins; another app's models change nothing.
	f.view(t, f.a.SecretKey, levelURL("Level_1", "heatmap"), with(q, "up", "y"), &v)
	require.Equal(t, "y", v.Up)
	var vb heatmapView
	f.view(t, f.b.SecretKey, levelURL("Level_1", "heatmap"), q, &vb)
	require.Equal(t, "y", vb.Up)
}
