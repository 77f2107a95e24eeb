package dashboard

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// Answering the trajectory heatmap (docs/dashboard.md, "Level heatmap
// cells"): the rolled-up cells of the whole days that have them, at the
// finest kept exponent no finer than the query's, shifted to its grid
// (under two filters or more, the sliced cells of
// migrations/0059_level_gameplay_cells.sql); the raw trajectories, binned
// the same way, for the rest of the range (the partial days at its ends,
// days not rolled up, days kept only at coarser exponents).

// cellsGrouping is the rollup grouping that holds exactly the points f
// lets through, and its value; ok is false when none does (more than one
// filter), so the raw trajectories must be read. f's level is not
// considered: the level is a rollup row's own.
func cellsGrouping(f *filters) (grouping string, value *string, ok bool) {
	grouping = "all"
	for _, name := range cellGroupings {
		if v := *f.field(name); v != nil {
			if value != nil {
				return "", nil, false
			}
			grouping, value = name, v
		}
	}
	return grouping, value, true
}

// eqOrNull is the condition that col equals the value that bind adds to
// args, or is NULL for a nil v.
func eqOrNull(col string, v *string, args *[]any) string {
	if v == nil {
		return col + " IS NULL"
	}
	*args = append(*args, *v)
	return col + " = $" + strconv.Itoa(len(*args))
}

// rawFilter is the join and the condition (starting with " AND") that
// keep the trajectories x passing f, its values bound to args. It matches
// as f.where does, but joins the players (a hash join on the app's
// players) for a region rather than looking the player up row by row,
// which costs seconds over a month of trajectories.
func rawFilter(f *filters, args *[]any) (join, cond string) {
	bind := func(v string) string {
		*args = append(*args, v)
		return "$" + strconv.Itoa(len(*args))
	}
	if f.BuildID != nil {
		cond += " AND x.build_id = " + bind(*f.BuildID)
	}
	if f.Region != nil {
		join = " JOIN players pr ON pr.app_id = x.app_id AND pr.player_id = x.player_id"
		cond += " AND pr.region = " + bind(*f.Region)
	}
	if f.InputMethod != nil {
		cond += " AND x.input_method = " + bind(*f.InputMethod)
	}
	if f.LevelID != nil {
		cond += " AND x.level_id = " + bind(*f.LevelID)
	}
	return join, cond
}

// cellsOfTrajectories answers trajectoryCells.
func cellsOfTrajectories(ctx context.Context, tx pgx.Tx, q *heatQuery) ([]heatCell, error) {
	switch {
	case q.Dims != 2 && q.Dims != 3:
		return nil, fmt.Errorf("dashboard: heatmap dims %d", q.Dims)
	case q.Dims == 2 && q.Up != 'y' && q.Up != 'z':
		return nil, fmt.Errorf("dashboard: heatmap up axis %q", q.Up)
	case q.Metric != "count" && q.Metric != "fps_mean" && q.Metric != "fps_low_1":
		return nil, fmt.Errorf("dashboard: heatmap metric %q", q.Metric)
	}
	f := q.Filters
	f.LevelID = nil
	grid := cellGrid{}
	rest := []timeRange{q.Range}
	if grouping, value, ok := cellsGrouping(&f); ok {
		var covered []time.Time
		var err error
		covered, rest, err = rollupPlanWhere(ctx, tx, q.App, q.Range, " AND level_cells")
		if err != nil {
			return nil, err
		}
		if len(covered) > 0 {
			rawDays, err := storedCells(ctx, tx, q, grouping, value, covered, grid)
			if err != nil {
				return nil, err
			}
			rest = mergeRanges(rest, rawDays)
		}
	} else {
		// Two filters or more: the sliced cells, kept at the coarser
		// exponent alone.
		covered, r, err := rollupPlanWhere(ctx, tx, q.App, q.Range, levelSlicesDone)
		if err != nil {
			return nil, err
		}
		rest = r
		if len(covered) > 0 {
			sq := &slicedCellsQuery{heatQuery: q, Kind: "trajectory", Covered: covered}
			rawDays, err := storedSlicedCells(ctx, tx, sq, func(k cellKey, s cellSums) { grid.at(k).add(&s) })
			if err != nil {
				return nil, err
			}
			rest = mergeRanges(rest, rawDays)
		}
	}
	if len(rest) > 0 {
		if err := rawCells(ctx, tx, q, &f, rest, grid); err != nil {
			return nil, err
		}
	}
	return heatCells(grid, q), nil
}

// storedCells adds to grid (at q.CellExp) the rolled-up cells of the
// level's grouping on the covered days, and returns the days it could not
// serve: those kept only at exponents coarser than q's.
func storedCells(ctx context.Context, tx pgx.Tx, q *heatQuery, grouping string, value *string, covered []time.Time, grid cellGrid) ([]time.Time, error) {
	args := []any{q.App, grouping, covered, int32(q.CellExp)}
	level := eqOrNull("c.level_id", q.Level, &args)
	val := eqOrNull("c.value", value, &args)
	metric := ", NULL::bigint[], NULL::bigint[]"
	switch q.Metric {
	case "fps_mean":
		metric = ", CASE WHEN c.exp <= $4 THEN c.fps_mean_sum END, CASE WHEN c.exp <= $4 THEN c.fps_mean_n END"
	case "fps_low_1":
		metric = ", CASE WHEN c.exp <= $4 THEN c.fps_low_1_sum END, CASE WHEN c.exp <= $4 THEN c.fps_low_1_n END"
	}
	// Per day the finest kept exponent no finer than q's comes first; if
	// there is none, the day's first row says so and its arrays are not
	// read.
	rows, err := tx.Query(ctx, `SELECT DISTINCT ON (c.day) c.day, c.exp,
			CASE WHEN c.exp <= $4 THEN c.i END, CASE WHEN c.exp <= $4 THEN c.j END, CASE WHEN c.exp <= $4 THEN c.k END,
			CASE WHEN c.exp <= $4 THEN c.counts END`+metric+`
		FROM dashboard_level_cells c
		WHERE c.app_id = $1 AND `+level+` AND c.grouping = $2 AND `+val+` AND c.day = ANY($3::date[])
		ORDER BY c.day, (c.exp <= $4) DESC, c.exp DESC`, args...)
	if err != nil {
		return nil, err
	}
	var (
		day                           time.Time
		exp                           int32
		bi, bj, bk, bcounts, bsum, bn pgtype.UndecodedBytes
		rawDays                       []time.Time
	)
	_, err = pgx.ForEachRow(rows, []any{&day, &exp, &bi, &bj, &bk, &bcounts, &bsum, &bn}, func() error {
		if int(exp) > q.CellExp {
			rawDays = append(rawDays, day)
			return nil
		}
		cells, err := decodeCellArrays(bi, bj, bk, bcounts, bsum, bn, q.Metric != "count")
		if err != nil {
			return err
		}
		shift := q.CellExp - int(exp)
		for x := range cells.i {
			k, c := cells.cell(x, shift)
			s := grid.at(k)
			s.points += c.points
			s.meanSum += c.meanSum
			s.meanN += c.meanN
		}
		return nil
	})
	return rawDays, err
}

// shiftIndex is cell index i on a grid shift (≥ 0) exponents coarser:
// floor(i / 2^shift), 0 or -1 once shift passes the index's bits.
func shiftIndex(i int32, shift int) int32 {
	return i >> min(shift, 31)
}

// rawCells bins into grid (at q.CellExp) the points of the level's
// trajectories whose timestamp_start is in one of rest and that pass f.
func rawCells(ctx context.Context, tx pgx.Tx, q *heatQuery, f *filters, rest []timeRange, grid cellGrid) error {
	args := []any{q.App, q.Range.From, q.Range.To}
	level := eqOrNull("x.level_id", q.Level, &args)
	in := restWhere("x.timestamp_start", rest, &args)
	join, cond := rawFilter(f, &args)
	fps := "NULL::float8"
	if q.Metric != "count" {
		fps = "x." + q.Metric
	}
	rows, err := tx.Query(ctx, `SELECT x.positions, `+fps+` FROM trajectories x`+join+`
		WHERE x.app_id = $1 AND x.timestamp_start >= $2 AND x.timestamp_start < $3 AND `+in+` AND `+level+cond, args...)
	if err != nil {
		return err
	}
	var (
		pos  pgtype.UndecodedBytes
		v    *float64
		last cellKey
		sums *cellSums
	)
	_, err = pgx.ForEachRow(rows, []any{&pos, &v}, func() error {
		// The metric goes in the mean's place, whichever it is.
		fps := newTrajectoryFPS(v, nil)
		return eachPoint(pos, func(x, y, z float64) {
			c, ok := pointCell(x, y, z, q.CellExp)
			if !ok {
				return
			}
			// A path's next point is often in the same cell: skip the map.
			if sums == nil || c != last {
				last, sums = c, grid.at(c)
			}
			sums.addPoint(&fps)
		})
	})
	return err
}

// heatCells are grid's cells as q asks for them: in dims 2 the up axis is
// dropped (its cells summed), and the metric's sums are in fps.
func heatCells(grid cellGrid, q *heatQuery) []heatCell {
	if q.Dims == 2 {
		flat := make(cellGrid, len(grid))
		for k, s := range grid {
			if q.Up == 'z' {
				k = cellKey{k.i, k.j, 0}
			} else {
				k = cellKey{k.i, k.k, 0}
			}
			flat.at(k).add(s)
		}
		grid = flat
	}
	out := make([]heatCell, 0, len(grid))
	for _, k := range grid.sortedKeys() {
		s := grid[k]
		c := heatCell{I: k.i, J: k.j, K: k.k, Count: s.points}
		if q.Metric != "count" {
			c.Sum, c.N = float64(s.meanSum)/1000, s.meanN
		}
		out = append(out, c)
	}
	return out
}

// mergeRanges is rest with each of days added as [day, day+1), in order,
// adjoining ranges merged.
func mergeRanges(rest []timeRange, days []time.Time) []timeRange {
	all := slices.Clone(rest)
	for _, d := range days {
		all = append(all, timeRange{From: d, To: d.AddDate(0, 0, 1)})
	}
	slices.SortFunc(all, func(a, b timeRange) int { return a.From.Compare(b.From) })
	var out []timeRange
	for _, r := range all {
		if n := len(out); n > 0 && !r.From.After(out[n-1].To) {
			if r.To.After(out[n-1].To) {
				out[n-1].To = r.To
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// boundsOfTrajectories answers trajectoryBounds: the rows' exact bounds for the
// covered days (of the grouping f allows, and the level f names, if any),
// the raw points for the rest.
func boundsOfTrajectories(ctx context.Context, tx pgx.Tx, app uuid.UUID, rg timeRange, f filters) (map[levelKey]heatBounds, error) {
	boxes := map[levelKey]*box{}
	grow := func(level *string) *box {
		k := levelKeyOf(level)
		b := boxes[k]
		if b == nil {
			nb := newBox()
			b = &nb
			boxes[k] = b
		}
		return b
	}
	rest := []timeRange{rg}
	grouping, value, single := cellsGrouping(&f)
	if !single {
		// Two filters or more: the slices' bounds.
		covered, r, err := rollupPlanWhere(ctx, tx, app, rg, levelSlicesDone)
		if err != nil {
			return nil, err
		}
		rest = r
		if len(covered) > 0 {
			if err := storedSliceBounds(ctx, tx, app, &f, f.LevelID, covered, grow); err != nil {
				return nil, err
			}
		}
	} else {
		var (
			covered []time.Time
			err     error
		)
		covered, rest, err = rollupPlanWhere(ctx, tx, app, rg, " AND level_cells")
		if err != nil {
			return nil, err
		}
		if len(covered) > 0 {
			args := []any{app, grouping, covered}
			cond := " AND " + eqOrNull("c.value", value, &args)
			if f.LevelID != nil {
				cond += " AND " + eqOrNull("c.level_id", f.LevelID, &args)
			}
			rows, err := tx.Query(ctx, `SELECT c.level_id, min(c.min_x), min(c.min_y), min(c.min_z), max(c.max_x), max(c.max_y), max(c.max_z)
				FROM dashboard_level_cells c
				WHERE c.app_id = $1 AND c.grouping = $2 AND c.day = ANY($3::date[])`+cond+`
				GROUP BY c.level_id`, args...)
			if err != nil {
				return nil, err
			}
			var (
				level  *string
				lo, hi [3]float64
			)
			if _, err := pgx.ForEachRow(rows, []any{&level, &lo[0], &lo[1], &lo[2], &hi[0], &hi[1], &hi[2]}, func() error {
				grow(level).union(box{min: lo, max: hi})
				return nil
			}); err != nil {
				return nil, err
			}
		}
	}
	if len(rest) > 0 {
		args := []any{app, rg.From, rg.To}
		in := restWhere("x.timestamp_start", rest, &args)
		join, cond := rawFilter(&f, &args)
		rows, err := tx.Query(ctx, `SELECT x.level_id, x.positions FROM trajectories x`+join+`
			WHERE x.app_id = $1 AND x.timestamp_start >= $2 AND x.timestamp_start < $3 AND `+in+cond, args...)
		if err != nil {
			return nil, err
		}
		var (
			level *string
			pos   pgtype.UndecodedBytes
		)
		if _, err := pgx.ForEachRow(rows, []any{&level, &pos}, func() error {
			return eachPoint(pos, grow(level).add)
		}); err != nil {
			return nil, err
		}
	}
	out := map[levelKey]heatBounds{}
	for k, b := range boxes {
		if !b.empty {
			out[k] = heatBounds{Min: b.min, Max: b.max}
		}
	}
	return out, nil
}
