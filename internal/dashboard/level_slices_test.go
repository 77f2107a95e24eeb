package dashboard

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// randomGameplay writes days of random gameplay events and funnel steps
// from start for app: levels G0, G1 and none, event names, builds, regions
// (players q0 to q4; q5 has no players row) and input methods or none,
// positions anywhere in [-60, 140) × [-10, 10) × [-60, 140) (some on the
// half-unit grid, so on cell edges) or none.
func randomGameplay(t *testing.T, db *pgxpool.Pool, app string, start time.Time, days int, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 11))
	var b pgx.Batch
	for p := range 5 {
		b.Queue(`INSERT INTO players (app_id, player_id, region, first_seen, last_seen) VALUES ($1, $2, $3, $4, $4)`,
			app, fmt.Sprintf("q%d", p), []string{"EU", "US", "Asia"}[p%3], start)
	}
	maybe := func(vals ...string) any {
		if v := vals[r.IntN(len(vals))]; v != "" {
			return v
		}
		return nil
	}
	for range days * 120 {
		at := start.Add(time.Duration(r.Int64N(int64(days) * int64(24*time.Hour))))
		var x, y, z any
		if r.IntN(8) > 0 {
			px, py, pz := r.Float64()*200-60, r.Float64()*20-10, r.Float64()*200-60
			if r.IntN(4) == 0 {
				px, py, pz = math.Round(px*2)/2, math.Round(py*2)/2, math.Round(pz*2)/2
			}
			x, y, z = px, py, pz
		}
		b.Queue(`INSERT INTO gameplay_events (event_id, app_id, build_id, player_id, session_id, level_id, event_name,
				input_method, pos_x, pos_y, pos_z, "timestamp", received_at)
			VALUES (gen_random_uuid(), $1, $2, $3, 's', $4, $5, $6, $7, $8, $9, $10, now())`,
			app, maybe("1.0", "2.0", ""), fmt.Sprintf("q%d", r.IntN(6)), maybe("G0", "G1", ""),
			[]string{"Death", "Pickup", "Jump"}[r.IntN(3)], maybe("kb", "pad", ""), x, y, z, at)
	}
	for range days * 4 {
		at := start.Add(time.Duration(r.Int64N(int64(days) * int64(24*time.Hour))))
		b.Queue(`INSERT INTO funnel_steps (event_id, app_id, build_id, player_id, session_id, level_id, funnel_step_name,
				input_method, "timestamp", received_at)
			VALUES (gen_random_uuid(), $1, $2, $3, 't', $4, 'Step', $5, $6, now())`,
			app, maybe("1.0", "2.0", ""), fmt.Sprintf("q%d", r.IntN(6)), maybe("G0", "G2", ""), maybe("kb", "pad", ""), at)
	}
	require.NoError(t, db.SendBatch(context.Background(), &b).Close())
}

// askGameplayCells is the gameplay heatmap's cells of q with events, by
// index, and their exponent.
func askGameplayCells(t *testing.T, db *pgxpool.Pool, q heatQuery, events []string) ([]heatCell, int) {
	t.Helper()
	var (
		out []heatCell
		exp int
	)
	readOnlyTx(t, db, func(tx pgx.Tx) error {
		var err error
		out, exp, err = gameplayCells(context.Background(), tx, &q, events)
		return err
	})
	slices.SortFunc(out, func(a, b heatCell) int {
		return cmp.Or(cmp.Compare(a.I, b.I), cmp.Compare(a.J, b.J), cmp.Compare(a.K, b.K))
	})
	return out, exp
}

// TestGameplayCellsRollupEqualsRaw: over random gameplay events, every
// gameplay heatmap (cell sizes finer than, at and coarser than the sliced
// cells', dims 3 and 2, event names, each level, no filter to three, whole
// and partial days), every levels list and every level's event names are
// the same raw, rolled up, and with some days rolled up and others not.
func TestGameplayCellsRollupEqualsRaw(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, nil)
	db := f.db.Pool
	a := f.a.AppID
	start := ts("2026-03-01T00:00:00Z")
	randomGameplay(t, db, a.String(), start, 5, 1)
	randomGameplay(t, db, f.b.AppID.String(), start, 5, 2)
	randomPaths(t, db, a.String(), start, 5, 3)
	now := ts("2026-03-10T12:00:00Z")
	attribute(t, db, now.Format(time.RFC3339))

	r := rand.New(rand.NewPCG(5, 6))
	ranges := []timeRange{
		{From: start, To: start.AddDate(0, 0, 5)},                                       // whole days
		{From: start.Add(7 * time.Hour), To: start.AddDate(0, 0, 4).Add(5 * time.Hour)}, // partial days at both ends
		{From: start.AddDate(0, 0, 2), To: start.AddDate(0, 0, 3)},                      // one day
		{From: start.Add(30 * time.Hour), To: start.Add(40 * time.Hour)},                // under a day
	}
	filterSets := []filters{{}, {BuildID: strp("2.0")}, {Region: strp("US")}, {InputMethod: strp("pad")},
		{BuildID: strp("1.0"), InputMethod: strp("kb")}, {Region: strp("EU"), InputMethod: strp("pad")},
		{BuildID: strp("2.0"), Region: strp("Asia"), InputMethod: strp("kb")}, {Region: strp("Nowhere")}}
	eventSets := [][]string{nil, {"Death"}, {"Pickup", "Jump"}, {"Nope"}, {"Death", "Pickup", "Jump"}}
	levels := []*string{strp("G0"), strp("G1"), nil}
	// The levels span about 200 units a day: the sliced cells are kept at
	// exponent 1 (edge 2).
	exps := []int{-1, 0, 1, 2, 3, 5, 12}
	type gq struct {
		q      heatQuery
		events []string
	}
	var queries []gq
	for _, exp := range exps {
		for range 25 {
			dims, up := 3, byte('y')
			switch r.IntN(3) {
			case 1:
				dims = 2
			case 2:
				dims, up = 2, 'z'
			}
			queries = append(queries, gq{heatQuery{App: a, Level: levels[r.IntN(len(levels))],
				Range: ranges[r.IntN(len(ranges))], Filters: filterSets[r.IntN(len(filterSets))],
				CellExp: exp, Dims: dims, Up: up, Metric: "count"}, eventSets[r.IntN(len(eventSets))]})
		}
	}
	type answer struct {
		cells []heatCell
		exp   int
	}
	lists := func() []string {
		var out []string
		for _, rg := range ranges {
			for _, fl := range filterSets {
				q := url.Values{"from": {rg.From.Format(time.RFC3339)}, "to": {rg.To.Format(time.RFC3339)}}
				for _, name := range []string{"build_id", "region", "input_method"} {
					if v := *fl.field(name); v != nil {
						q.Set(name, *v)
					}
				}
				v, err := f.h.viewLevels(ctx, a, q)
				require.NoError(t, err)
				b, err := json.Marshal(v)
				require.NoError(t, err)
				out = append(out, string(b))
				for _, level := range levels {
					v, err := f.h.viewLevelEvents(ctx, a, levelKeyOf(level), q)
					require.NoError(t, err)
					b, err := json.Marshal(v)
					require.NoError(t, err)
					out = append(out, string(b))
				}
			}
		}
		return out
	}
	answers := func() ([]answer, []string) {
		var out []answer
		for _, q := range queries {
			cells, exp := askGameplayCells(t, db, q.q, q.events)
			out = append(out, answer{cells, exp})
		}
		return out, lists()
	}
	raw, rawLists := answers()
	nonEmpty := 0
	for _, ans := range raw {
		if len(ans.cells) > 0 {
			nonEmpty++
		}
	}
	require.Greater(t, nonEmpty, len(queries)/3, "many queries have cells")

	_, err := Rollup(ctx, db, now)
	require.NoError(t, err)
	var kept []int32
	require.NoError(t, db.QueryRow(ctx, `SELECT array_agg(DISTINCT exp) FROM dashboard_level_slice_cells
		WHERE app_id = $1 AND kind = 'gameplay'`, a).Scan(&kept))
	require.Contains(t, kept, int32(1), "gameplay slices at edge 2 (or 1, for a day narrower than 128)")
	for _, e := range kept {
		require.Contains(t, []int32{0, 1}, e)
	}
	rolled, rolledLists := answers()
	_, err = db.Exec(ctx, `UPDATE dashboard_rollup_days SET level_slices = false WHERE day = '2026-03-03'`)
	require.NoError(t, err)
	_, err = db.Exec(ctx, `DELETE FROM dashboard_rollup_days WHERE day = '2026-03-02'`)
	require.NoError(t, err)
	mixed, mixedLists := answers()
	for i, q := range queries {
		require.Equal(t, raw[i], rolled[i], "rolled up: %+v %v", q.q, q.events)
		require.Equal(t, raw[i], mixed[i], "some days rolled up: %+v %v", q.q, q.events)
	}
	require.Equal(t, rawLists, rolledLists, "levels lists rolled up")
	require.Equal(t, rawLists, mixedLists, "levels lists, some days rolled up")

	// The rolled-up answers do come from the rollups: moving every raw
	// position changes no whole rolled-up day at edge 2 or more.
	_, err = Rollup(ctx, db, now)
	require.NoError(t, err)
	_, err = db.Exec(ctx, `UPDATE gameplay_events SET pos_x = 1000 WHERE app_id = $1 AND pos_x IS NOT NULL`, a)
	require.NoError(t, err)
	for i, q := range queries {
		if q.q.Range == ranges[0] && q.q.CellExp >= 1 {
			cells, exp := askGameplayCells(t, db, q.q, q.events)
			require.Equal(t, raw[i], answer{cells, exp}, "%+v %v", q.q, q.events)
		}
	}
}

// TestGameplayCellsByHand: cells on edges and of negative coordinates, a
// coordinate far smaller than the cell (whose quotient would underflow),
// the index cap, the same raw and rolled up, through the heatmap route.
func TestGameplayCellsByHand(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	a, db := f.a.AppID, f.db.Pool
	for _, e := range []gameplayAt{
		{level: "H", name: "Death", pos: []float64{-1e-300, 0, 0}, at: "2026-03-01T01:00:00Z"},
		{level: "H", name: "Death", pos: []float64{3.999, 4, -4.001}, at: "2026-03-01T02:00:00Z"},
		{level: "H", name: "Jump", build: "b2", pos: []float64{-0.5, 8, 0}, at: "2026-03-01T03:00:00Z"},
		{level: "Far", name: "Death", pos: []float64{1e12, 0, -1e12}, at: "2026-03-01T04:00:00Z"},
		{level: "Far", name: "Death", pos: []float64{0, 0, 0}, at: "2026-03-01T04:00:00Z"},
	} {
		addGameplayAt(t, db, a, e)
	}
	type ask struct {
		ref string
		q   url.Values
	}
	asks := []ask{
		{"H", with(heatRange, "kind", "gameplay", "cell", "4")},
		{"H", with(heatRange, "kind", "gameplay", "cell", "4", "dims", "2", "events", "Death")},
		{"H", with(heatRange, "kind", "gameplay", "cell", "4", "build_id", "b2")},
		{"H", with(heatRange, "kind", "gameplay", "cell", "1267650600228229401496703205376")}, // 2^100: -1e-300 is in cell -1
		{"H", with(heatRange, "kind", "gameplay")},
		{"Far", with(heatRange, "kind", "gameplay", "cell", "1024")},
		{"Far", with(heatRange, "kind", "gameplay")},
	}
	answer := func() []string {
		var out []string
		for _, k := range asks {
			status, body := f.get(t, f.a.SecretKey, levelURL(k.ref, "heatmap"), k.q)
			b, err := json.Marshal(body)
			require.NoError(t, err)
			out = append(out, fmt.Sprint(status, " ", string(b)))
		}
		return out
	}
	raw := answer()
	var v heatmapView
	f.view(t, f.a.SecretKey, levelURL("H", "heatmap"), asks[3].q, &v)
	require.Equal(t, [][]any{{-1.0, 0.0, 0.0, 2.0, 2.0}, {0.0, 0.0, -1.0, 1.0, 1.0}}, v.Cells)
	f.view(t, f.a.SecretKey, levelURL("H", "heatmap"), asks[0].q, &v)
	require.Equal(t, [][]any{{-1.0, 0.0, 0.0, 1.0, 1.0}, {-1.0, 2.0, 0.0, 1.0, 1.0}, {0.0, 1.0, -2.0, 1.0, 1.0}}, v.Cells)
	// 1e12 < 2^40: with an index under 2^30 the cell is at least 2^10.
	body := f.badRequest(t, levelURL("Far", "heatmap"), with(heatRange, "kind", "gameplay", "cell", "1"), "cell")
	require.Equal(t, 1024.0, body["min_cell"])

	_, err := Rollup(t.Context(), db, ts("2026-03-10T12:00:00Z"))
	require.NoError(t, err)
	require.Equal(t, raw, answer())
	body = f.badRequest(t, levelURL("Far", "heatmap"), with(heatRange, "kind", "gameplay", "cell", "1"), "cell")
	require.Equal(t, 1024.0, body["min_cell"])
}

// levelRollupRows are the app's rows of the level slices and counts as
// text, sorted.
func levelRollupRows(t *testing.T, db *pgxpool.Pool, app uuid.UUID) []string {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT concat_ws('|', day, level_id, kind, exp, event_names, build_ids, regions,
			input_methods, min_x, min_y, min_z, max_x, max_y, max_z, i, j, k, slice, counts, fps_mean_sum, fps_mean_n,
			fps_low_1_sum, fps_low_1_n)
		FROM dashboard_level_slice_cells WHERE app_id = $1
		UNION ALL
		SELECT concat_ws('|', day, level_id, build_id, region, input_method, gameplay_events, positioned_events,
			min_x, min_y, min_z, max_x, max_y, max_z, funnel_steps, trajectories, points)
		FROM dashboard_level_counts WHERE app_id = $1 ORDER BY 1`, app)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return out
}

// TestLevelSlicesRollupIdempotent: runs of the job at once in several
// workers, and runs again, leave the same slices and counts; days rolled
// up before they existed get them alone; a step's input method attributed
// anew rolls its day up again.
func TestLevelSlicesRollupIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, nil)
	db := f.db.Pool
	a := f.a.AppID
	start := ts("2026-03-01T00:00:00Z")
	randomGameplay(t, db, a.String(), start, 3, 7)
	randomPaths(t, db, a.String(), start, 3, 8)
	now := ts("2026-03-10T12:00:00Z")

	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = Rollup(ctx, db, now)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	first := levelRollupRows(t, db, a)
	require.NotEmpty(t, first)
	var kinds int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(DISTINCT kind) FROM dashboard_level_slice_cells WHERE app_id = $1`, a).Scan(&kinds))
	require.Equal(t, 2, kinds)
	st, err := Rollup(ctx, db, now)
	require.NoError(t, err)
	require.Equal(t, RollupStats{Days: 3}, st)
	require.Equal(t, first, levelRollupRows(t, db, a))

	// Rebuilt from scratch, the same rows.
	_, err = db.Exec(ctx, `DELETE FROM dashboard_rollup_days`)
	require.NoError(t, err)
	_, err = Rollup(ctx, db, now)
	require.NoError(t, err)
	require.Equal(t, first, levelRollupRows(t, db, a))

	// Days rolled up before the slices existed get them (with their level
	// cells), and nothing else is rolled up again.
	_, err = db.Exec(ctx, `UPDATE dashboard_rollup_days SET level_slices = false`)
	require.NoError(t, err)
	_, err = db.Exec(ctx, `DELETE FROM dashboard_level_slice_cells; DELETE FROM dashboard_level_counts`)
	require.NoError(t, err)
	st, err = Rollup(ctx, db, now)
	require.NoError(t, err)
	require.Equal(t, RollupStats{Days: 3, LevelCellDays: 3}, st)
	require.Equal(t, first, levelRollupRows(t, db, a))

	// A step of session s7 with no gameplay event before it has no input
	// method. A late gameplay event the day before gives it one: that day
	// is rolled up again for its count, and the step's day for its step's
	// input method, so the levels list under that input method lists the
	// step's level from the rollup.
	addStep(t, db, a.String(), "b1", "u7", "s7", "Only", "2026-03-02T10:00:00Z")
	_, err = db.Exec(ctx, `UPDATE funnel_steps SET level_id = 'StepsOnly' WHERE app_id = $1 AND player_id = 'u7'`, a)
	require.NoError(t, err)
	_, err = Rollup(ctx, db, now)
	require.NoError(t, err)
	q := url.Values{"from": {start.Format(time.RFC3339)}, "to": {start.AddDate(0, 0, 3).Format(time.RFC3339)}, "input_method": {"stick"}}
	listed := func() []string {
		v, err := f.h.viewLevels(ctx, a, q)
		require.NoError(t, err)
		var refs []string
		for _, l := range v.(*levelsView).Levels {
			refs = append(refs, l.Ref)
		}
		return refs
	}
	require.Empty(t, listed())
	_, err = db.Exec(ctx, `INSERT INTO gameplay_events (event_id, app_id, build_id, player_id, session_id, level_id, event_name,
			input_method, "timestamp", received_at)
		VALUES (gen_random_uuid(), $1, 'b1', 'u7', 's7', 'G9', 'Move', 'stick', '2026-03-01T23:00:00Z', now())`, a)
	require.NoError(t, err)
	st, err = Rollup(ctx, db, now)
	require.NoError(t, err)
	require.Equal(t, 2, st.Rebuilt, "03-01 for its count, 03-02 for its step's input method")
	require.Equal(t, []string{"G9", "StepsOnly"}, listed())
	var n int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM dashboard_level_counts
		WHERE app_id = $1 AND day = '2026-03-02' AND level_id = 'StepsOnly' AND input_method = 'stick'`, a).Scan(&n))
	require.Equal(t, 1, n, "from the rollup")
}
