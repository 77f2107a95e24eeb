package dashboard

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The trajectory heatmap's rollup (docs/dashboard.md, "Level heatmap
// cells"): each app-day's trajectory points binned per level, at two
// exponents, by filter dimension (migrations/0056_level_cells.sql).

const (
	// levelCellSpan is how many cell edges a level-day's largest side is
	// at most at the coarser exponent kept (and more than half as many).
	levelCellSpan = 64
	// levelCellExps is how many exponents are kept, each half the edge of
	// the one before.
	levelCellExps = 2
)

// cellGroupings are the dimensions whose values the rollup keeps cells
// by, besides 'all'; each is a filter of the same name.
var cellGroupings = []string{"build_id", "region", "input_method"}

// keptExps are the exponents a level-day whose points span b is kept at,
// finest first: the coarsest is the smallest at which the largest side is
// at most levelCellSpan edges long, and each before it halves the edge.
// An exponent at which some point's index would not fit 32 bits is
// skipped; if that leaves none, the first coarser one that fits is kept.
func keptExps(b box) []int {
	side := max(b.max[0]-b.min[0], b.max[1]-b.min[1], b.max[2]-b.min[2])
	top := 0
	if side > 0 {
		top = min(1100, int(math.Ceil(math.Log2(side/levelCellSpan))))
		for math.Ldexp(levelCellSpan, top) < side {
			top++
		}
		for math.Ldexp(levelCellSpan, top-1) >= side {
			top--
		}
	}
	fits := func(e int) bool {
		_, lo := pointCell(b.min[0], b.min[1], b.min[2], e)
		_, hi := pointCell(b.max[0], b.max[1], b.max[2], e)
		return lo && hi
	}
	var exps []int
	for e := top - levelCellExps + 1; e <= top; e++ {
		if fits(e) {
			exps = append(exps, e)
		}
	}
	if len(exps) == 0 {
		e := top + 1
		for !fits(e) {
			e++
		}
		exps = []int{e}
	}
	return exps
}

// cellGroup is one rollup row in the making: the points of a level-day
// (all of them, or those with one value of a dimension), binned at the
// level-day's finest exponent.
type cellGroup struct {
	grouping string
	value    *string
	grid     cellGrid
	bounds   box
}

// levelDayCells are one level-day's groups.
type levelDayCells struct {
	level  *string
	exps   []int
	groups map[[2]string]*cellGroup
	// slices are the level-day's points by slice at the coarser exponent
	// (migrations/0059_level_gameplay_cells.sql).
	slices *levelSlices
}

func (l *levelDayCells) group(grouping string, value *string) *cellGroup {
	key := [2]string{grouping, ""}
	if value != nil {
		key[1] = *value
	}
	g := l.groups[key]
	if g == nil {
		g = &cellGroup{grouping: grouping, value: value, grid: cellGrid{}, bounds: newBox()}
		l.groups[key] = g
	}
	return g
}

func levelKeyOf(level *string) levelKey {
	if level == nil {
		return levelKey{}
	}
	return levelKey{ID: *level, Known: true}
}

// buildLevelCells rolls up one app-day's trajectory points into
// dashboard_level_cells, and their sliced cells into
// dashboard_level_slice_cells, whose rows of the day must be gone already. It
// reads the day's trajectories twice in tx, which must be repeatable read
// so both passes see the same rows: once for each level's extent, which
// decides its exponents, then to bin the points.
func buildLevelCells(ctx context.Context, tx pgx.Tx, app uuid.UUID, day time.Time) error {
	end := day.AddDate(0, 0, 1)
	extents := map[levelKey]*box{}
	var (
		level *string
		pos   pgtype.UndecodedBytes
	)
	rows, err := tx.Query(ctx, `SELECT level_id, positions FROM trajectories
		WHERE app_id = $1 AND timestamp_start >= $2 AND timestamp_start < $3`, app, day, end)
	if err != nil {
		return err
	}
	if _, err := pgx.ForEachRow(rows, []any{&level, &pos}, func() error {
		b := extents[levelKeyOf(level)]
		if b == nil {
			nb := newBox()
			b = &nb
			extents[levelKeyOf(level)] = b
		}
		return eachPoint(pos, b.add)
	}); err != nil {
		return err
	}
	levels := map[levelKey]*levelDayCells{}
	for k, b := range extents {
		if b.empty {
			continue
		}
		l := &levelDayCells{exps: keptExps(*b), groups: map[[2]string]*cellGroup{}}
		if k.Known {
			id := k.ID
			l.level = &id
		}
		l.slices = newLevelSlices(l.level, l.exps[len(l.exps)-1])
		levels[k] = l
	}

	var (
		dims       [3]*string // build_id, region, input_method as cellGroupings
		mean, low1 *float64
		groups     []*cellGroup
		sums       []*cellSums // the groups' sums of the cell last
		last       cellKey
	)
	rows, err = tx.Query(ctx, `SELECT x.level_id, x.build_id, p.region, x.input_method, x.fps_mean, x.fps_low_1, x.positions
		FROM trajectories x LEFT JOIN players p ON p.app_id = x.app_id AND p.player_id = x.player_id
		WHERE x.app_id = $1 AND x.timestamp_start >= $2 AND x.timestamp_start < $3`, app, day, end)
	if err != nil {
		return err
	}
	if _, err := pgx.ForEachRow(rows, []any{&level, &dims[0], &dims[1], &dims[2], &mean, &low1, &pos}, func() error {
		l := levels[levelKeyOf(level)]
		if l == nil {
			return nil // no point with finite coordinates
		}
		groups = append(groups[:0], l.group("all", nil))
		for i, name := range cellGroupings {
			if dims[i] != nil {
				v := *dims[i]
				groups = append(groups, l.group(name, &v))
			}
		}
		fps := newTrajectoryFPS(mean, low1)
		exp := l.exps[0]
		sums = sums[:0]
		var n int32 // the trajectory's slice, numbered at its first point
		return eachPoint(pos, func(x, y, z float64) {
			c, ok := pointCell(x, y, z, exp)
			// A path's next point is often in the same cell: skip the maps.
			if ok && (len(sums) == 0 || c != last) {
				last, sums = c, sums[:0]
				for _, g := range groups {
					sums = append(sums, g.grid.at(c))
				}
			}
			for i, g := range groups {
				g.bounds.add(x, y, z)
				if ok {
					sums[i].addPoint(&fps)
				}
			}
			if n == 0 {
				n = l.slices.dict.of(newSlice([sliceDims]*string{nil, dims[0], dims[1], dims[2]}))
			}
			l.slices.add(n, x, y, z, &fps)
		})
	}); err != nil {
		return err
	}

	var out [][]any
	for _, l := range levels {
		for _, g := range l.groups {
			for _, exp := range l.exps {
				out = append(out, cellRow(app, day, l.level, exp, g, g.grid.shifted(exp-l.exps[0])))
			}
		}
	}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"dashboard_level_cells"}, []string{"app_id", "day", "level_id", "exp", "grouping", "value",
		"points", "min_x", "min_y", "min_z", "max_x", "max_y", "max_z",
		"i", "j", "k", "counts", "fps_mean_sum", "fps_mean_n", "fps_low_1_sum", "fps_low_1_n"}, pgx.CopyFromRows(out))
	if err != nil {
		return err
	}
	out = out[:0]
	for _, l := range levels {
		if len(l.slices.dict.list) > 0 {
			out = append(out, l.slices.row(app, day, "trajectory"))
		}
	}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"dashboard_level_slice_cells"}, sliceCellColumns, pgx.CopyFromRows(out))
	return err
}

// cellRow is a dashboard_level_cells row of g's cells at exp.
func cellRow(app uuid.UUID, day time.Time, level *string, exp int, g *cellGroup, grid cellGrid) []any {
	keys := grid.sortedKeys()
	n := len(keys)
	is, js, ks := make([]int32, n), make([]int32, n), make([]int32, n)
	counts, meanSum, meanN, low1Sum, low1N := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	var points int64
	for x, k := range keys {
		s := grid[k]
		is[x], js[x], ks[x] = k.i, k.j, k.k
		counts[x], meanSum[x], meanN[x], low1Sum[x], low1N[x] = s.points, s.meanSum, s.meanN, s.low1Sum, s.low1N
		points += s.points
	}
	b := g.bounds
	return []any{app, day, level, int32(exp), g.grouping, g.value, points,
		b.min[0], b.min[1], b.min[2], b.max[0], b.max[1], b.max[2],
		is, js, ks, counts, meanSum, meanN, low1Sum, low1N}
}

// topUpLevelCells builds the level cells, slices and counts
// (buildLevelRollups) of the app-days of [from, to) rolled up without them
// (before migrations/0056_level_cells.sql or 0059_level_gameplay_cells.sql),
// oldest first, each in its own transaction under the app's rollup lock, as
// rebuildDay. A day whose rollup is gone meanwhile (its levels changed) is
// left to its rebuild.
func topUpLevelCells(ctx context.Context, db *pgxpool.Pool, from, to time.Time, st *RollupStats) error {
	rows, err := db.Query(ctx, `SELECT app_id, day FROM dashboard_rollup_days
		WHERE day >= $1 AND day < $2 AND NOT (level_cells AND level_slices) ORDER BY day, app_id`, from, to)
	if err != nil {
		return fmt.Errorf("error reading the days without level cells: %w", err)
	}
	days, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (appDay, error) {
		var ad appDay
		return ad, r.Scan(&ad.app, &ad.day)
	})
	if err != nil {
		return fmt.Errorf("error reading the days without level cells: %w", err)
	}
	for _, ad := range days {
		built := false
		err := withRollupLock(ctx, db, ad.app, func(tx pgx.Tx) error {
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM dashboard_rollup_days
				WHERE app_id = $1 AND day = $2 AND NOT (level_cells AND level_slices))`, ad.app, ad.day).Scan(&built); err != nil || !built {
				return err
			}
			for _, table := range levelRollupTables {
				if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE app_id = $1 AND day = $2`, ad.app, ad.day); err != nil {
					return err
				}
			}
			if err := buildLevelRollups(ctx, tx, ad.app, ad.day); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `UPDATE dashboard_rollup_days SET level_cells = true, level_slices = true
				WHERE app_id = $1 AND day = $2`, ad.app, ad.day)
			return err
		})
		if err != nil {
			return fmt.Errorf("error building the level cells of app %s on %s: %w", ad.app, ad.day.Format(time.DateOnly), err)
		}
		if built {
			st.LevelCellDays++
		}
	}
	return nil
}
