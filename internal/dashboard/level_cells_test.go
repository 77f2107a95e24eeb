package dashboard

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// trajPath is a trajectory written straight into trajectories, as the sink
// (and, for level, the client) would.
type trajPath struct {
	level, build, player, session, input string // "" is NULL
	mean, low1                           *float64
	at                                   string
	pos                                  []float64
}

func addTrajPath(t *testing.T, db *pgxpool.Pool, app string, p trajPath) {
	t.Helper()
	_, err := db.Exec(context.Background(), `INSERT INTO trajectories (event_id, app_id, build_id, player_id, session_id, level_id,
			input_method, fps_mean, fps_low_5, fps_low_1, positions, num_points, timestamp_start, timestamp_end, received_at)
		VALUES (gen_random_uuid(), $1, NULLIF($2, ''), $3, NULLIF($4, ''), NULLIF($5, ''), NULLIF($6, ''), $7, NULL, $8, $9, $10, $11, $11, now())`,
		app, p.build, p.player, p.session, p.level, p.input, p.mean, p.low1, p.pos, len(p.pos)/3, ts(p.at))
	require.NoError(t, err)
}

func addPlayerRegion(t *testing.T, db *pgxpool.Pool, app, player, region string) {
	t.Helper()
	_, err := db.Exec(context.Background(), `INSERT INTO players (app_id, player_id, region, first_seen, last_seen)
		VALUES ($1, $2, $3, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')`, app, player, region)
	require.NoError(t, err)
}

func f64p(v float64) *float64 { return &v }
func strp(s string) *string   { return &s }

// readOnlyTx runs fn in a read-only transaction, as the views do.
func readOnlyTx(t *testing.T, db *pgxpool.Pool, fn func(tx pgx.Tx) error) {
	t.Helper()
	require.NoError(t, pgx.BeginTxFunc(context.Background(), db, pgx.TxOptions{AccessMode: pgx.ReadOnly}, fn))
}

func askCells(t *testing.T, db *pgxpool.Pool, q heatQuery) []heatCell {
	t.Helper()
	var out []heatCell
	readOnlyTx(t, db, func(tx pgx.Tx) error {
		var err error
		out, err = trajectoryCells(context.Background(), tx, &q)
		return err
	})
	return out
}

// cellStrings is cells keyed "i,j,k" → "count" or "count sum/n".
func cellStrings(cells []heatCell, metric string) map[string]string {
	out := map[string]string{}
	for _, c := range cells {
		v := fmt.Sprint(c.Count)
		if metric != "count" {
			v += fmt.Sprintf(" %g/%d", c.Sum, c.N)
		}
		out[fmt.Sprintf("%d,%d,%d", c.I, c.J, c.K)] = v
	}
	return out
}

// handPaths are trajectories placed by hand on 2026-03-01 and 02 for app,
// and a few that must never count: other days, another level.
func handPaths(t *testing.T, db *pgxpool.Pool, app string) {
	t.Helper()
	addPlayerRegion(t, db, app, "u1", "EU")
	addPlayerRegion(t, db, app, "u2", "US")
	// u1, build b1, keyboard, fps 60 / 30. On a grid of edge 4: 3.999 is
	// in cell 0 and 4 in cell 1; -0.5 and -4 in cell -1, -4.0001 in -2.
	addTrajPath(t, db, app, trajPath{level: "L1", build: "b1", player: "u1", input: "kb", mean: f64p(60), low1: f64p(30), at: "2026-03-01T10:00:00Z",
		pos: []float64{0, 0, 0, 3.999, 1, 1, 4, 0, 0, -0.5, 0, 0, -4, 0, 0, -4.0001, 0, 0}})
	// u2, build b2, gamepad, fps_mean 30.0004 (summed as 30), no fps_low_1;
	// a point high up (y 9) and one out at z 9.
	addTrajPath(t, db, app, trajPath{level: "L1", build: "b2", player: "u2", input: "pad", mean: f64p(30.0004), at: "2026-03-01T12:00:00Z",
		pos: []float64{1, 1, 1, 5, 5, 5, 1, 9, 1, 1, 1, 9}})
	// u3 (no players row, so no region), no build, no fps, next day.
	addTrajPath(t, db, app, trajPath{level: "L1", player: "u3", at: "2026-03-02T23:59:59Z", pos: []float64{2, 2, 2}})
	// Outside [03-01, 03-03), in another level, in the unknown level.
	addTrajPath(t, db, app, trajPath{level: "L1", build: "b1", player: "u1", at: "2026-02-28T23:59:59Z", pos: []float64{0, 0, 0}})
	addTrajPath(t, db, app, trajPath{level: "L1", build: "b1", player: "u1", at: "2026-03-03T00:00:00Z", pos: []float64{0, 0, 0}})
	addTrajPath(t, db, app, trajPath{level: "L2", build: "b1", player: "u1", at: "2026-03-01T10:00:00Z", pos: []float64{0, 0, 0}})
	addTrajPath(t, db, app, trajPath{build: "b1", player: "u1", input: "kb", mean: f64p(45), at: "2026-03-01T11:00:00Z", pos: []float64{100, -1, 7, 101, -2, 7}})
}

// TestTrajectoryCellsByHand: cells and their counts and fps means for
// positions placed by hand (points on cell edges, negative coordinates,
// days outside the range, other levels), in 3D and 2D with either up axis,
// filtered, for the unknown level; the same from the raw rows and from the
// rollups.
func TestTrajectoryCellsByHand(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	db := f.db.Pool
	a := f.a.AppID
	handPaths(t, db, a.String())
	handPaths(t, db, f.b.AppID.String())
	rg := timeRange{From: ts("2026-03-01T00:00:00Z"), To: ts("2026-03-03T00:00:00Z")}
	l1 := strp("L1")
	q := func(level *string, exp, dims int, up byte, metric string, fl filters) heatQuery {
		return heatQuery{App: a, Level: level, Range: rg, Filters: fl, CellExp: exp, Dims: dims, Up: up, Metric: metric}
	}
	cases := []struct {
		name string
		q    heatQuery
		want map[string]string
	}{
		{"count, edge 4", q(l1, 2, 3, 'y', "count", filters{}), map[string]string{
			"-2,0,0": "1", "-1,0,0": "2", "0,0,0": "4", "1,0,0": "1", "1,1,1": "1", "0,2,0": "1", "0,0,2": "1"}},
		{"fps_mean, edge 4", q(l1, 2, 3, 'y', "fps_mean", filters{}), map[string]string{
			"-2,0,0": "1 60/1", "-1,0,0": "2 120/2", "0,0,0": "4 150/3", "1,0,0": "1 60/1",
			"1,1,1": "1 30/1", "0,2,0": "1 30/1", "0,0,2": "1 30/1"}},
		{"fps_low_1: a trajectory without it counts in no mean", q(l1, 2, 3, 'y', "fps_low_1", filters{}), map[string]string{
			"-2,0,0": "1 30/1", "-1,0,0": "2 60/2", "0,0,0": "4 60/2", "1,0,0": "1 30/1",
			"1,1,1": "1 0/0", "0,2,0": "1 0/0", "0,0,2": "1 0/0"}},
		{"edge 1", q(l1, 0, 3, 'y', "count", filters{}), map[string]string{
			"0,0,0": "1", "3,1,1": "1", "4,0,0": "1", "-1,0,0": "1", "-4,0,0": "1", "-5,0,0": "1",
			"1,1,1": "1", "5,5,5": "1", "1,9,1": "1", "1,1,9": "1", "2,2,2": "1"}},
		{"edge 0.5", q(l1, -1, 3, 'y', "count", filters{BuildID: strp("b2")}), map[string]string{
			"2,2,2": "1", "10,10,10": "1", "2,18,2": "1", "2,2,18": "1"}},
		{"edge 2^40: everything in cell 0 or -1", q(l1, 40, 3, 'y', "count", filters{}), map[string]string{
			"0,0,0": "8", "-1,0,0": "3"}},
		{"dims 2, up y keeps x and z", q(l1, 2, 2, 'y', "count", filters{}), map[string]string{
			"-2,0,0": "1", "-1,0,0": "2", "0,0,0": "5", "1,0,0": "1", "1,1,0": "1", "0,2,0": "1"}},
		{"dims 2, up z keeps x and y", q(l1, 2, 2, 'z', "fps_mean", filters{}), map[string]string{
			"-2,0,0": "1 60/1", "-1,0,0": "2 120/2", "0,0,0": "5 180/4", "1,0,0": "1 60/1", "1,1,0": "1 30/1", "0,2,0": "1 30/1"}},
		{"build", q(l1, 2, 3, 'y', "count", filters{BuildID: strp("b1")}), map[string]string{
			"-2,0,0": "1", "-1,0,0": "2", "0,0,0": "2", "1,0,0": "1"}},
		{"region (the player's)", q(l1, 2, 3, 'y', "count", filters{Region: strp("US")}), map[string]string{
			"0,0,0": "1", "1,1,1": "1", "0,2,0": "1", "0,0,2": "1"}},
		{"input method", q(l1, 2, 3, 'y', "count", filters{InputMethod: strp("kb")}), map[string]string{
			"-2,0,0": "1", "-1,0,0": "2", "0,0,0": "2", "1,0,0": "1"}},
		{"build and region", q(l1, 2, 3, 'y', "count", filters{BuildID: strp("b1"), Region: strp("US")}), map[string]string{}},
		{"region and input method", q(l1, 2, 3, 'y', "fps_low_1", filters{Region: strp("EU"), InputMethod: strp("kb")}), map[string]string{
			"-2,0,0": "1 30/1", "-1,0,0": "2 60/2", "0,0,0": "2 60/2", "1,0,0": "1 30/1"}},
		{"a value nothing has", q(l1, 2, 3, 'y', "count", filters{InputMethod: strp("touch")}), map[string]string{}},
		{"the unknown level", q(nil, 2, 3, 'y', "fps_mean", filters{}), map[string]string{
			"25,-1,1": "2 90/2"}},
		{"the level filter is not the query's level", q(strp("L2"), 2, 3, 'y', "count", filters{LevelID: l1}), map[string]string{
			"0,0,0": "1"}},
	}
	check := func(stage string) {
		for _, c := range cases {
			require.Equal(t, c.want, cellStrings(askCells(t, db, c.q), c.q.Metric), "%s: %s", stage, c.name)
		}
	}
	check("raw")
	attribute(t, db, "2026-03-10T12:00:00Z")
	st, err := Rollup(context.Background(), db, ts("2026-03-10T12:00:00Z"))
	require.NoError(t, err)
	require.Equal(t, 8, st.Rebuilt, "02-28 to 03-03 for two apps")
	check("rolled up")

	// The rolled-up answer does come from the rollups: moving the raw
	// points (in a transaction rolled back) changes nothing read from whole
	// days at edge 4, and does change what is read raw: a grid finer than
	// the rollup keeps (L1 spans 9 units on 03-01, kept at edges 1/8 and
	// 1/4, and none on 03-02, kept at 1/2 and 1), a partial day, two
	// filters on a grid finer than the sliced cells.
	ctx := context.Background()
	tx, err := db.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx)
	_, err = tx.Exec(ctx, `UPDATE trajectories SET positions = '{1000,1000,1000}' WHERE app_id = $1`, a)
	require.NoError(t, err)
	ask := func(q heatQuery) map[string]string {
		cells, err := trajectoryCells(ctx, tx, &q)
		require.NoError(t, err)
		return cellStrings(cells, q.Metric)
	}
	require.Equal(t, cases[0].want, ask(cases[0].q))
	require.Equal(t, cases[8].want, ask(cases[8].q), "by build")
	fine := cases[0].q
	fine.CellExp = -4
	require.Equal(t, map[string]string{"16000,16000,16000": "3"}, ask(fine))
	partial := cases[0].q
	partial.Range.To = ts("2026-03-02T12:00:00Z")
	require.Equal(t, map[string]string{"-2,0,0": "1", "-1,0,0": "2", "0,0,0": "3", "1,0,0": "1", "1,1,1": "1", "0,2,0": "1", "0,0,2": "1"},
		ask(partial), "03-02 before noon holds none of the level's points")
	partial.Range.To = ts("2026-03-03T00:00:00Z")
	partial.Range.From = ts("2026-03-01T00:00:01Z")
	require.Equal(t, map[string]string{"0,0,0": "1", "250,250,250": "2"}, ask(partial), "03-01 read raw")
	// Two filters: the sliced cells, kept at the coarser exponent only
	// (edge 1/4 on 03-01), so a finer grid is read raw.
	two := cases[11].q
	two.Filters = filters{BuildID: strp("b1"), InputMethod: strp("kb")}
	require.Equal(t, cases[8].want, ask(two), "two filters from the sliced cells")
	two.CellExp = -3
	require.Equal(t, map[string]string{"8000,8000,8000": "1"}, ask(two), "two filters, finer than the slices: raw")
}

// TestTrajectoryBounds: each level's bounds are exact, from the raw rows
// and from the rollups alike, under filters and a level filter.
func TestTrajectoryBounds(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	db := f.db.Pool
	handPaths(t, db, f.a.AppID.String())
	handPaths(t, db, f.b.AppID.String())
	rg := timeRange{From: ts("2026-03-01T00:00:00Z"), To: ts("2026-03-03T00:00:00Z")}
	bounds := func(fl filters) map[levelKey]heatBounds {
		var out map[levelKey]heatBounds
		readOnlyTx(t, db, func(tx pgx.Tx) error {
			var err error
			out, err = trajectoryBounds(context.Background(), tx, f.a.AppID, rg, fl)
			return err
		})
		return out
	}
	l1 := levelKey{ID: "L1", Known: true}
	want := []struct {
		f    filters
		want map[levelKey]heatBounds
	}{
		{filters{}, map[levelKey]heatBounds{
			l1:                      {Min: [3]float64{-4.0001, 0, 0}, Max: [3]float64{5, 9, 9}},
			{ID: "L2", Known: true}: {Min: [3]float64{0, 0, 0}, Max: [3]float64{0, 0, 0}},
			{}:                      {Min: [3]float64{100, -2, 7}, Max: [3]float64{101, -1, 7}},
		}},
		{filters{Region: strp("US")}, map[levelKey]heatBounds{l1: {Min: [3]float64{1, 1, 1}, Max: [3]float64{5, 9, 9}}}},
		{filters{LevelID: strp("L1"), BuildID: strp("b1")}, map[levelKey]heatBounds{l1: {Min: [3]float64{-4.0001, 0, 0}, Max: [3]float64{4, 1, 1}}}},
		{filters{BuildID: strp("b1"), InputMethod: strp("kb")}, map[levelKey]heatBounds{
			l1: {Min: [3]float64{-4.0001, 0, 0}, Max: [3]float64{4, 1, 1}},
			{}: {Min: [3]float64{100, -2, 7}, Max: [3]float64{101, -1, 7}},
		}},
		{filters{Region: strp("EU"), InputMethod: strp("kb")}, map[levelKey]heatBounds{
			l1: {Min: [3]float64{-4.0001, 0, 0}, Max: [3]float64{4, 1, 1}},
			{}: {Min: [3]float64{100, -2, 7}, Max: [3]float64{101, -1, 7}},
		}},
		{filters{InputMethod: strp("touch")}, map[levelKey]heatBounds{}},
	}
	for i, w := range want {
		require.Equal(t, w.want, bounds(w.f), "raw %d", i)
	}
	_, err := Rollup(context.Background(), db, ts("2026-03-10T12:00:00Z"))
	require.NoError(t, err)
	for i, w := range want {
		require.Equal(t, w.want, bounds(w.f), "rolled up %d", i)
	}
}

// randomPaths writes days of random trajectories from start for app:
// levels L0, L1 and the unknown one, points anywhere in [-60, 140) (some on
// the half-unit grid, so on cell edges), builds, regions and input
// methods or none, fps off any grid or missing.
func randomPaths(t *testing.T, db *pgxpool.Pool, app string, start time.Time, days int, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 9))
	var b pgx.Batch
	for p := range 6 {
		if p != 5 {
			b.Queue(`INSERT INTO players (app_id, player_id, region, first_seen, last_seen) VALUES ($1, $2, $3, $4, $4)`,
				app, fmt.Sprintf("p%d", p), []string{"EU", "US"}[p%2], start)
		}
	}
	maybe := func(vals ...string) any {
		if v := vals[r.IntN(len(vals))]; v != "" {
			return v
		}
		return nil
	}
	for range days * 12 {
		at := start.Add(time.Duration(r.Int64N(int64(days) * int64(24*time.Hour))))
		n := 1 + r.IntN(30)
		pos := make([]float64, 0, 3*n)
		x, y, z := r.Float64()*200-60, r.Float64()*20-10, r.Float64()*200-60
		for range n {
			if r.IntN(4) == 0 {
				pos = append(pos, math.Round(x*2)/2, math.Round(y*2)/2, math.Round(z*2)/2)
			} else {
				pos = append(pos, x, y, z)
			}
			x, y, z = x+r.NormFloat64()*3, y+r.NormFloat64(), z+r.NormFloat64()*3
		}
		var mean, low1 any
		if r.IntN(5) > 0 {
			mean = 20 + r.Float64()*100
		}
		if r.IntN(3) > 0 {
			low1 = r.Float64() * 40
		}
		b.Queue(`INSERT INTO trajectories (event_id, app_id, build_id, player_id, level_id, input_method, fps_mean, fps_low_1,
				positions, num_points, timestamp_start, timestamp_end, received_at)
			VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, now())`,
			app, maybe("1.0", "2.0", "3.0", ""), fmt.Sprintf("p%d", r.IntN(6)), maybe("L0", "L1", ""), maybe("kb", "pad", ""),
			mean, low1, pos, n, at)
	}
	require.NoError(t, db.SendBatch(context.Background(), &b).Close())
}

// TestTrajectoryCellsRollupEqualsRaw: over random trajectories, every
// heatmap (cell sizes finer than, at and coarser than the rollup's, dims 3
// and 2, each metric and level, no filter to three, whole and partial
// days) is the same raw, rolled up, and with some days rolled up and
// others not.
func TestTrajectoryCellsRollupEqualsRaw(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, nil)
	db := f.db.Pool
	start := ts("2026-03-01T00:00:00Z")
	randomPaths(t, db, f.a.AppID.String(), start, 5, 1)
	randomPaths(t, db, f.b.AppID.String(), start, 5, 2)
	now := ts("2026-03-10T12:00:00Z")
	attribute(t, db, now.Format(time.RFC3339))

	r := rand.New(rand.NewPCG(3, 4))
	ranges := []timeRange{
		{From: start, To: start.AddDate(0, 0, 5)},                                       // whole days
		{From: start.Add(7 * time.Hour), To: start.AddDate(0, 0, 4).Add(5 * time.Hour)}, // partial days at both ends
		{From: start.AddDate(0, 0, 2), To: start.AddDate(0, 0, 3)},                      // one day
		{From: start.Add(30 * time.Hour), To: start.Add(40 * time.Hour)},                // under a day
	}
	filterSets := []filters{{}, {BuildID: strp("2.0")}, {Region: strp("US")}, {InputMethod: strp("pad")}, {BuildID: strp("1.0"), InputMethod: strp("kb")},
		{Region: strp("EU"), BuildID: strp("3.0")}, {Region: strp("US"), InputMethod: strp("pad")}, {BuildID: strp("2.0"), Region: strp("EU"), InputMethod: strp("kb")}}
	levels := []*string{strp("L0"), strp("L1"), nil}
	metrics := []string{"count", "fps_mean", "fps_low_1"}
	// The levels span 65 to 256 units a day: the rollup keeps exponents 0
	// and 1, or 1 and 2.
	exps := []int{-1, 0, 1, 2, 3, 5, 12}
	queries := map[int][]heatQuery{}
	for _, exp := range exps {
		for range 30 {
			dims, up := 3, byte('y')
			switch r.IntN(3) {
			case 1:
				dims = 2
			case 2:
				dims, up = 2, 'z'
			}
			queries[exp] = append(queries[exp], heatQuery{App: f.a.AppID, Level: levels[r.IntN(len(levels))],
				Range: ranges[r.IntN(len(ranges))], Filters: filterSets[r.IntN(len(filterSets))],
				CellExp: exp, Dims: dims, Up: up, Metric: metrics[r.IntN(len(metrics))]})
		}
	}
	answers := func() map[int][][]heatCell {
		out := map[int][][]heatCell{}
		for _, exp := range exps {
			for _, q := range queries[exp] {
				out[exp] = append(out[exp], askCells(t, db, q))
			}
		}
		return out
	}
	raw := answers()
	var nonEmpty int
	for _, exp := range exps {
		for _, cells := range raw[exp] {
			if len(cells) > 0 {
				nonEmpty++
			}
		}
	}
	require.Greater(t, nonEmpty, len(exps)*15, "half the queries or more have cells (two or three filters select few paths)")

	_, err := Rollup(ctx, db, now)
	require.NoError(t, err)
	// Each level-day is kept at the exponents its extent calls for.
	rows, err := db.Query(ctx, `SELECT min_x, min_y, min_z, max_x, max_y, max_z, array_agg(exp ORDER BY exp)
		FROM dashboard_level_cells WHERE grouping = 'all' GROUP BY app_id, day, level_id, 1, 2, 3, 4, 5, 6`)
	require.NoError(t, err)
	var (
		b       box
		kept    []int
		allExps = map[int]bool{}
	)
	n, err := pgx.ForEachRow(rows, []any{&b.min[0], &b.min[1], &b.min[2], &b.max[0], &b.max[1], &b.max[2], &kept}, func() error {
		require.Equal(t, keptExps(b), kept, "%+v", b)
		for _, e := range kept {
			allExps[e] = true
		}
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, int64(30), n.RowsAffected(), "2 apps, 5 days, 3 levels")
	require.True(t, allExps[1] && allExps[2], "kept at exponents 1 and 2 (edges 2 and 4): %v", allExps)
	rolled := answers()
	_, err = db.Exec(ctx, `UPDATE dashboard_rollup_days SET level_cells = false WHERE day = '2026-03-03'`)
	require.NoError(t, err)
	_, err = db.Exec(ctx, `UPDATE dashboard_rollup_days SET level_slices = false WHERE day = '2026-03-04'`)
	require.NoError(t, err)
	_, err = db.Exec(ctx, `DELETE FROM dashboard_rollup_days WHERE day = '2026-03-02'`)
	require.NoError(t, err)
	mixed := answers()
	for _, exp := range exps {
		t.Run(fmt.Sprintf("exp %d", exp), func(t *testing.T) {
			for i, q := range queries[exp] {
				require.Equal(t, raw[exp][i], rolled[exp][i], "rolled up: %+v", q)
				require.Equal(t, raw[exp][i], mixed[exp][i], "some days rolled up: %+v", q)
			}
		})
	}
}

// levelCellRows are the app's dashboard_level_cells rows as text, sorted.
func levelCellRows(t *testing.T, db *pgxpool.Pool, app uuid.UUID) []string {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT concat_ws('|', day, level_id, exp, grouping, value, points,
			min_x, min_y, min_z, max_x, max_y, max_z, i, j, k, counts, fps_mean_sum, fps_mean_n, fps_low_1_sum, fps_low_1_n)
		FROM dashboard_level_cells WHERE app_id = $1 ORDER BY 1`, app)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return out
}

// TestLevelCellsRollupIdempotent: runs of the job at once in several
// workers, and runs again, leave the same rows; days rolled up before the
// cells existed get theirs alone; a day whose trajectories' levels change
// is rolled up again.
func TestLevelCellsRollupIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, nil)
	db := f.db.Pool
	a := f.a.AppID
	start := ts("2026-03-01T00:00:00Z")
	randomPaths(t, db, a.String(), start, 3, 5)
	// u9's session s9 on 03-02 has no level event yet: its trajectory is in
	// the unknown level.
	addTrajPath(t, db, a.String(), trajPath{player: "u9", session: "s9", at: "2026-03-02T10:00:00Z", mean: f64p(50), pos: []float64{7, 7, 7, 8, 8, 8}})
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
	first := levelCellRows(t, db, a)
	require.NotEmpty(t, first)
	st, err := Rollup(ctx, db, now)
	require.NoError(t, err)
	require.Equal(t, RollupStats{Days: 3}, st)
	require.Equal(t, first, levelCellRows(t, db, a))

	// Rebuilt from scratch, the same rows.
	_, err = db.Exec(ctx, `DELETE FROM dashboard_rollup_days`)
	require.NoError(t, err)
	_, err = Rollup(ctx, db, now)
	require.NoError(t, err)
	require.Equal(t, first, levelCellRows(t, db, a))

	// Days rolled up before the cells existed get them, and nothing else
	// is rolled up again.
	_, err = db.Exec(ctx, `UPDATE dashboard_rollup_days SET level_cells = false`)
	require.NoError(t, err)
	_, err = db.Exec(ctx, `DELETE FROM dashboard_level_cells`)
	require.NoError(t, err)
	st, err = Rollup(ctx, db, now)
	require.NoError(t, err)
	require.Equal(t, RollupStats{Days: 3, LevelCellDays: 3}, st)
	require.Equal(t, first, levelCellRows(t, db, a))

	// A level event for s9 puts its trajectory in L5: 03-02 is rolled up
	// again, and its points move from the unknown level to L5.
	q := heatQuery{App: a, Range: timeRange{From: start, To: start.AddDate(0, 0, 3)}, CellExp: 1, Dims: 3, Up: 'y', Metric: "fps_mean"}
	points := func(level *string) int64 {
		q := q
		q.Level = level
		var n int64
		for _, c := range askCells(t, db, q) {
			n += c.Count
		}
		return n
	}
	unknown := points(nil)
	require.Zero(t, points(strp("L5")))
	addGameplay(t, db, a.String(), "u9", "s9", "Enter", "L5", "2026-03-02T09:00:00Z")
	st, err = Rollup(ctx, db, now)
	require.NoError(t, err)
	require.Equal(t, 3, st.LevelDays, "the days either side of the event's are attributed again too")
	require.Equal(t, 1, st.Rebuilt, "03-02, for its count and its levels")
	q.Level = strp("L5")
	require.Equal(t, []heatCell{{I: 3, J: 3, K: 3, Count: 1, Sum: 50, N: 1}, {I: 4, J: 4, K: 4, Count: 1, Sum: 50, N: 1}}, askCells(t, db, q))
	require.Equal(t, unknown-2, points(nil))
	var l5 int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM dashboard_level_cells WHERE app_id = $1 AND level_id = 'L5' AND day = '2026-03-02'`, a).Scan(&l5))
	require.Equal(t, 2, l5, "the level's rows: all its points, at two exponents")
}
