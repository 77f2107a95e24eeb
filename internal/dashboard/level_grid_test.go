package dashboard

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/require"
)

func TestCellIndex(t *testing.T) {
	t.Parallel()
	cases := []struct {
		v    float64
		exp  int
		want int32
		ok   bool
	}{
		{0, 2, 0, true},
		{3.999, 2, 0, true},
		{4, 2, 1, true},
		{-0.5, 2, -1, true},
		{-4, 2, -1, true},
		{-4.0001, 2, -2, true},
		{0.75, -2, 3, true},                // edge 1/4
		{-5e-324, 3, -1, true},             // underflows to -0 when scaled: still below 0
		{math.Copysign(0, -1), 3, 0, true}, // -0 is 0
		{1e12, 2, 0, false},                // 2.5e11 does not fit 32 bits
		{1e12, 30, 931, true},
		{-1e300, 1000, -1, true},
		{math.MaxInt32, 0, math.MaxInt32, true},
		{math.MaxInt32 + 1, 0, 0, false},
		{math.MinInt32, 0, math.MinInt32, true},
		{math.MinInt32 - 0.5, 0, 0, false},
		{math.NaN(), 0, 0, false},
		{math.Inf(1), 0, 0, false},
	}
	for _, c := range cases {
		got, ok := cellIndex(c.v, c.exp)
		require.Equal(t, c.ok, ok, "%g at %d", c.v, c.exp)
		if ok {
			require.Equal(t, c.want, got, "%g at %d", c.v, c.exp)
		}
	}
}

// TestShiftIndexIsBinning: a cell index shifted to a coarser grid is the
// index binning gives on that grid, for any value and exponents, which is
// what lets the rollups answer any coarser grid exactly.
func TestShiftIndexIsBinning(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 7))
	for range 200_000 {
		v := (r.Float64()*2 - 1) * math.Ldexp(1, r.IntN(60)-20)
		if r.IntN(4) == 0 {
			v = math.Round(v*8) / 8 // on edges
		}
		e := r.IntN(40) - 20
		q := e + r.IntN(45)
		fine, ok := cellIndex(v, e)
		if !ok {
			continue
		}
		coarse, ok := cellIndex(v, q)
		require.True(t, ok)
		require.Equal(t, coarse, shiftIndex(fine, q-e), "%g from %d to %d", v, e, q)
	}
}

func TestMilliFPS(t *testing.T) {
	t.Parallel()
	require.Equal(t, int64(60000), milliFPS(60))
	require.Equal(t, int64(29300), milliFPS(29.3))
	require.Equal(t, int64(30000), milliFPS(30.0004))
	require.Equal(t, int64(30001), milliFPS(30.0005))
	require.Equal(t, int64(0), milliFPS(-3))
	require.Equal(t, int64(maxFPS*1000), milliFPS(1e300))
}

func TestKeptExps(t *testing.T) {
	t.Parallel()
	at := func(lo, hi [3]float64) []int { return keptExps(box{min: lo, max: hi}) }
	// 400 units: at edge 8 (exponent 3) the side is 50 edges long.
	require.Equal(t, []int{2, 3}, at([3]float64{0, 0, 0}, [3]float64{400, 40, 300}))
	require.Equal(t, []int{2, 3}, at([3]float64{-256, 0, 0}, [3]float64{256, 1, 1}), "512 is 64 edges of 8")
	require.Equal(t, []int{3, 4}, at([3]float64{-256, 0, 0}, [3]float64{256.5, 1, 1}))
	require.Equal(t, []int{-1, 0}, at([3]float64{5, 5, 5}, [3]float64{5, 5, 5}), "a single point")
	// Far from the origin, finer grids do not fit 32 bits.
	require.Equal(t, []int{19}, at([3]float64{1e15, 0, 0}, [3]float64{1e15 + 1, 0, 0}))
	require.Equal(t, []int{991, 992}, at([3]float64{-1e300, 0, 0}, [3]float64{1e300, 0, 0}))
}

// TestBinaryArrays: the decoders read what Postgres sends for each array
// type, and refuse what is not such an array.
func TestBinaryArrays(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	var pos, empty, ints, bigs pgtype.UndecodedBytes
	require.NoError(t, f.db.Pool.QueryRow(context.Background(), `SELECT '{1.5,-2,3e300,NULL,5,6,7}'::float8[], '{}'::float8[],
			'{1,-2,2147483647}'::int[], '{1,-2,9223372036854775807}'::bigint[]`).Scan(&pos, &empty, &ints, &bigs))
	var got []float64
	require.NoError(t, float8Array(pos, func(_ int, v float64) { got = append(got, v) }))
	require.Len(t, got, 7)
	require.Equal(t, []float64{1.5, -2, 3e300}, got[:3])
	require.True(t, math.IsNaN(got[3]))
	var points [][3]float64
	require.NoError(t, eachPoint(pos, func(x, y, z float64) { points = append(points, [3]float64{x, y, z}) }))
	require.Equal(t, [][3]float64{{1.5, -2, 3e300}}, points, "a point with a NULL is skipped, and so is a lone 7")
	require.NoError(t, float8Array(empty, func(int, float64) { t.Fatal("no element") }))
	is, err := int4Array(ints)
	require.NoError(t, err)
	require.Equal(t, []int32{1, -2, math.MaxInt32}, is)
	bs, err := int8Array(bigs)
	require.NoError(t, err)
	require.Equal(t, []int64{1, -2, math.MaxInt64}, bs)

	_, err = int4Array(bigs)
	require.ErrorIs(t, err, errArray, "elements of the wrong size")
	_, err = int8Array(bigs[:len(bigs)-3])
	require.ErrorIs(t, err, errArray, "cut short")
	_, err = int8Array(nil)
	require.ErrorIs(t, err, errArray)
	var twoDims pgtype.UndecodedBytes
	require.NoError(t, f.db.Pool.QueryRow(context.Background(), `SELECT '{{1,2},{3,4}}'::int[]`).Scan(&twoDims))
	_, err = int4Array(twoDims)
	require.ErrorIs(t, err, errArray)
}

// TestTrajectoryCellsFarFromOrigin: a level far from the origin is kept
// only at grids where its cells' indices fit 32 bits; finer grids are read
// raw, where such points are left out, alike before and after the rollup.
func TestTrajectoryCellsFarFromOrigin(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	db := f.db.Pool
	a := f.a.AppID
	addPath(t, db, a.String(), path{level: "Far", player: "u1", at: "2026-03-01T10:00:00Z", mean: fp(40),
		pos: []float64{1e15, 0, 0, 1e15 + 1, 0, 0}})
	rg := timeRange{From: ts("2026-03-01T00:00:00Z"), To: ts("2026-03-02T00:00:00Z")}
	ask := func() map[int][]heatCell {
		out := map[int][]heatCell{}
		for _, exp := range []int{0, 18, 19, 20, 40} {
			out[exp] = cellsOf(t, db, heatQuery{App: a, Level: sp("Far"), Range: rg, CellExp: exp, Dims: 3, Up: 'y', Metric: "fps_mean"})
		}
		return out
	}
	raw := ask()
	require.Empty(t, raw[0], "1e15 is out of reach of edge 1")
	require.Empty(t, raw[18])
	require.Equal(t, []heatCell{{I: 1907348632, Count: 2, Sum: 80, N: 2}}, raw[19])
	require.Equal(t, []heatCell{{I: 953674316, Count: 2, Sum: 80, N: 2}}, raw[20])
	_, err := Rollup(context.Background(), db, ts("2026-03-10T00:00:00Z"))
	require.NoError(t, err)
	var exps []int32
	require.NoError(t, db.QueryRow(context.Background(), `SELECT array_agg(exp) FROM dashboard_level_cells WHERE app_id = $1 AND grouping = 'all'`, a).Scan(&exps))
	require.Equal(t, []int32{19}, exps)
	require.Equal(t, raw, ask())
}
