package dashboard

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The heatmap's grid (docs/dashboard.md, "Levels"): the default cell, the
// index check, the cell cap and the gameplay events' cells.

// heatAxes are the telemetry axes (0 x, 1 y, 2 z) of a grid's i, j, k.
func heatAxes(dims int, up byte) []int {
	switch {
	case dims == 3:
		return []int{0, 1, 2}
	case up == 'z':
		return []int{0, 1}
	}
	return []int{0, 2}
}

// defaultCellExp is the exponent of the power-of-two cell that puts about
// heatSideCells cells along the bounds' largest kept side (at most that
// many); 0 (a cell of 1) without bounds or for a single point.
func defaultCellExp(b *heatBounds, dims int, up byte) int {
	if b == nil {
		return 0
	}
	var side float64
	for _, a := range heatAxes(dims, up) {
		side = max(side, b.Max[a]-b.Min[a])
	}
	if !(side > 0) || math.IsInf(side, 0) {
		return 0
	}
	k := int(math.Ceil(math.Log2(side / heatSideCells)))
	return min(max(k, minCellExp), maxCellExp)
}

// indexSafeExp is the smallest exponent at which every coordinate of b on
// axes has a cell index under 2^cellIndexBits in size.
func indexSafeExp(b *heatBounds, axes []int) int {
	k := minCellExp
	if b == nil {
		return k
	}
	for _, a := range axes {
		m := max(math.Abs(b.Min[a]), math.Abs(b.Max[a]))
		if m == 0 || math.IsInf(m, 0) || math.IsNaN(m) {
			continue
		}
		// m < 2^e, so m/2^k < 2^cellIndexBits once k ≥ e - cellIndexBits.
		_, e := math.Frexp(m)
		k = max(k, e-cellIndexBits)
	}
	return k
}

// fittingExp is the smallest exponent from k at which cells (of exponent
// k) make at most maxHeatCells cells, and the cells there. A cell of
// 2^(k+1) is 2^dims cells of 2^k, as the grid is anchored at the origin,
// so an arithmetic shift of the indexes (floor(i/2)) coarsens them, and
// counts and the metric's sums add up.
func fittingExp(cells []heatCell, k int) (int, []heatCell) {
	if len(cells) <= maxHeatCells {
		return k, cells
	}
	for len(cells) > maxHeatCells {
		merged := make(map[[3]int32]int, len(cells)/2)
		next := make([]heatCell, 0, len(cells)/2)
		for _, c := range cells {
			key := [3]int32{c.I >> 1, c.J >> 1, c.K >> 1}
			if i, ok := merged[key]; ok {
				next[i].Count += c.Count
				next[i].Sum += c.Sum
				next[i].N += c.N
				continue
			}
			merged[key] = len(next)
			next = append(next, heatCell{I: key[0], J: key[1], K: key[2], Count: c.Count, Sum: c.Sum, N: c.N})
		}
		cells, k = next, k+1
	}
	return k, cells
}

// gameplayCells answers q over the level's positioned gameplay events,
// those named in events when it is not empty: each event counts once in
// the cell of floor(coordinate / 2^CellExp) on each kept axis. It returns
// the cells and their exponent: CellExp, or, when an index would be
// 2^cellIndexBits or more in size, the smallest exponent at which none is
// (read again there).
func gameplayCells(ctx context.Context, tx pgx.Tx, q *heatQuery, events []string) ([]heatCell, int, error) {
	cells, ok, err := gameplayCellsAt(ctx, tx, q, events, q.CellExp)
	if err != nil || ok {
		return cells, q.CellExp, err
	}
	level := levelKey{Known: q.Level != nil, ID: deref(q.Level)}
	b, err := heatmapBounds(ctx, tx, q.App, q.Range, q.Filters, level, false, true)
	if err != nil {
		return nil, 0, err
	}
	k := max(q.CellExp, indexSafeExp(b, heatAxes(q.Dims, q.Up)))
	cells, ok, err = gameplayCellsAt(ctx, tx, q, events, k)
	if err == nil && !ok {
		err = fmt.Errorf("dashboard: gameplay cell indexes still too large at 2^%d", k)
	}
	return cells, k, err
}

// gameplayCellsAt reads the gameplay cells of exponent k; ok is false when
// a coordinate's index would be 2^cellIndexBits or more in size. The whole
// days rolled up with their slices come from the sliced cells (of the
// matching slices: event names and filters), shifted to k; the rest of the
// range, and days kept only at an exponent coarser than k, from the raw
// events.
func gameplayCellsAt(ctx context.Context, tx pgx.Tx, q *heatQuery, events []string, k int) ([]heatCell, bool, error) {
	covered, rest, err := rollupPlanWhere(ctx, tx, q.App, q.Range, levelSlicesDone)
	if err != nil {
		return nil, false, err
	}
	axes := heatAxes(q.Dims, q.Up)
	grid := map[cellKey]int64{}
	ok := true
	if len(covered) > 0 {
		at := *q
		at.CellExp = k
		sq := &slicedCellsQuery{heatQuery: &at, Kind: "gameplay", Names: events, Covered: covered}
		rawDays, err := storedSlicedCells(ctx, tx, sq, func(c cellKey, s cellSums) {
			ix := [3]int32{c.i, c.j, c.k}
			var key [3]int32
			for n, a := range axes {
				if ix[a] >= 1<<cellIndexBits || ix[a] <= -1<<cellIndexBits {
					ok = false
				}
				key[n] = ix[a]
			}
			grid[cellKey{key[0], key[1], key[2]}] += s.points
		})
		if err != nil {
			return nil, false, err
		}
		rest = mergeRanges(rest, rawDays)
	}
	if len(rest) > 0 && ok {
		if ok, err = rawGameplayCells(ctx, tx, q, events, k, rest, grid); err != nil {
			return nil, false, err
		}
	}
	if !ok {
		return nil, false, nil
	}
	out := make([]heatCell, 0, len(grid))
	for c, n := range grid {
		out = append(out, heatCell{I: c.i, J: c.j, K: c.k, Count: n})
	}
	return out, true, nil
}

// rawGameplayCells adds to grid the cells of exponent k of the raw
// gameplay events in rest; ok is false when a coordinate's index would be
// 2^cellIndexBits or more in size. Each coordinate is first held within
// ±2^(cellIndexBits+k), so that no division overflows, and a held one has
// an index that large. A coordinate smaller than a cell in size is in cell
// 0, or -1 when negative, without a division, which Postgres refuses when
// its quotient would underflow to 0.
func rawGameplayCells(ctx context.Context, tx pgx.Tx, q *heatQuery, events []string, k int, rest []timeRange, grid map[cellKey]int64) (bool, error) {
	args := []any{q.App, q.Range.From, q.Range.To, math.Ldexp(1, k), math.Ldexp(1, cellIndexBits+k)}
	cond := (levelKey{Known: q.Level != nil, ID: deref(q.Level)}).cond("g", &args)
	if len(events) > 0 {
		args = append(args, events)
		cond += " AND g.event_name = ANY($" + strconv.Itoa(len(args)) + ")"
	}
	cond += " AND " + restWhere(`g."timestamp"`, rest, &args)
	f := q.Filters
	f.bind(&args)
	cols := []string{"g.pos_x", "g.pos_y", "g.pos_z"}
	idx := []string{"0::float8", "0::float8", "0::float8"}
	for i, a := range heatAxes(q.Dims, q.Up) {
		c := cols[a]
		idx[i] = "CASE WHEN abs(" + c + ") < $4 THEN -(" + c + " < 0)::int ELSE floor(greatest(least(" + c + ", $5), -$5) / $4) END"
	}
	rows, err := tx.Query(ctx, `SELECT `+strings.Join(idx, ", ")+`, count(*)
		FROM gameplay_events g
		WHERE g.app_id = $1 AND g."timestamp" >= $2 AND g."timestamp" < $3 AND `+positioned+cond+f.where("gameplay_events", "g")+`
		GROUP BY 1, 2, 3`, args...)
	if err != nil {
		return false, err
	}
	var (
		ix [3]float64
		n  int64
		ok = true
	)
	const limit = 1 << cellIndexBits
	_, err = pgx.ForEachRow(rows, []any{&ix[0], &ix[1], &ix[2], &n}, func() error {
		if max(math.Abs(ix[0]), math.Abs(ix[1]), math.Abs(ix[2])) >= limit {
			ok = false
			return nil
		}
		grid[cellKey{int32(ix[0]), int32(ix[1]), int32(ix[2])}] += n
		return nil
	})
	return ok, err
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
