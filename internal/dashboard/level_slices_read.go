package dashboard

import (
	"context"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// Reading the sliced cells and the level counts
// (migrations/0059_level_gameplay_cells.sql) for the covered days of a
// range: the whole days rolled up with them (rollupPlanWhere with
// levelSlicesDone).

// levelSlicesDone is the condition on dashboard_rollup_days of the days
// whose slices and counts are built.
const levelSlicesDone = " AND level_slices"

// sliceMatch is whether a slice passes f's build, region and input method
// filters and, when names is not empty, has one of them as event name.
func sliceMatch(f *filters, names []string) func(vals [sliceDims]*string) bool {
	want := [sliceDims]*string{nil, f.BuildID, f.Region, f.InputMethod}
	return func(vals [sliceDims]*string) bool {
		for d := sliceBuild; d < sliceDims; d++ {
			if want[d] != nil && (vals[d] == nil || *vals[d] != *want[d]) {
				return false
			}
		}
		return len(names) == 0 || (vals[sliceName] != nil && slices.Contains(names, *vals[sliceName]))
	}
}

// wantedSlices says, for each slice of a row's slice columns dict, whether
// it passes match, into wanted (reused; slices are numbered from 1, so
// wanted[0] is false), and whether any does. The columns must be parallel.
func wantedSlices(wanted []bool, dict *[sliceDims][]*string, match func(vals [sliceDims]*string) bool) ([]bool, bool, error) {
	n := len(dict[sliceName])
	if len(dict[sliceBuild]) != n || len(dict[sliceRegion]) != n || len(dict[sliceInput]) != n {
		return wanted, false, errArray
	}
	wanted = append(wanted[:0], false)
	some := false
	for x := range n {
		w := match([sliceDims]*string{dict[sliceName][x], dict[sliceBuild][x], dict[sliceRegion][x], dict[sliceInput][x]})
		wanted = append(wanted, w)
		some = some || w
	}
	return wanted, some, nil
}

// slicedCellsQuery asks for the sliced cells of one level and kind on the
// covered days, at CellExp or coarser.
type slicedCellsQuery struct {
	*heatQuery
	Kind string
	// Names are the event names asked for (gameplay); none is every one.
	Names   []string
	Covered []time.Time
}

// storedSlicedCells calls add with each stored cell of q's level, kind and
// matching slices on the covered days, its indices shifted to q.CellExp
// (with fps sums in milliFPS for trajectories and an fps metric), and
// returns the days it could not serve: those kept at an exponent coarser
// than q's.
func storedSlicedCells(ctx context.Context, tx pgx.Tx, q *slicedCellsQuery, add func(k cellKey, s cellSums)) ([]time.Time, error) {
	args := []any{q.App, q.Kind, q.Covered, int32(q.CellExp)}
	level := eqOrNull("c.level_id", q.Level, &args)
	metric := ", NULL::bigint[], NULL::bigint[]"
	switch {
	case q.Kind != "trajectory":
	case q.Metric == "fps_mean":
		metric = ", CASE WHEN c.exp <= $4 THEN c.fps_mean_sum END, CASE WHEN c.exp <= $4 THEN c.fps_mean_n END"
	case q.Metric == "fps_low_1":
		metric = ", CASE WHEN c.exp <= $4 THEN c.fps_low_1_sum END, CASE WHEN c.exp <= $4 THEN c.fps_low_1_n END"
	}
	rows, err := tx.Query(ctx, `SELECT c.day, c.exp, c.event_names, c.build_ids, c.regions, c.input_methods,
			CASE WHEN c.exp <= $4 THEN c.i END, CASE WHEN c.exp <= $4 THEN c.j END, CASE WHEN c.exp <= $4 THEN c.k END,
			CASE WHEN c.exp <= $4 THEN c.slice END, CASE WHEN c.exp <= $4 THEN c.counts END`+metric+`
		FROM dashboard_level_slice_cells c
		WHERE c.app_id = $1 AND `+level+` AND c.kind = $2 AND c.day = ANY($3::date[])`, args...)
	if err != nil {
		return nil, err
	}
	match := sliceMatch(&q.Filters, q.Names)
	var (
		day                                  time.Time
		exp                                  int32
		dict                                 [sliceDims][]*string
		bi, bj, bk, bslice, bcount, bsum, bn pgtype.UndecodedBytes
		rawDays                              []time.Time
		wanted                               []bool
	)
	_, err = pgx.ForEachRow(rows, []any{&day, &exp, &dict[sliceName], &dict[sliceBuild], &dict[sliceRegion], &dict[sliceInput],
		&bi, &bj, &bk, &bslice, &bcount, &bsum, &bn}, func() error {
		if int(exp) > q.CellExp {
			rawDays = append(rawDays, day)
			return nil
		}
		var some bool
		if wanted, some, err = wantedSlices(wanted, &dict, match); err != nil || !some {
			return err
		}
		cells, err := decodeCellArrays(bi, bj, bk, bcount, bsum, bn, q.Kind == "trajectory" && q.Metric != "count")
		if err != nil {
			return err
		}
		ss, err := int4Array(bslice)
		if err != nil {
			return err
		}
		if len(ss) != len(cells.i) {
			return errArray
		}
		shift := q.CellExp - int(exp)
		for x := range cells.i {
			if s := ss[x]; s < 1 || int(s) >= len(wanted) || !wanted[s] {
				continue
			}
			add(cells.cell(x, shift))
		}
		return nil
	})
	return rawDays, err
}

// storedSliceBounds grows the bounds of each level (level alone, when not
// nil) with those of its trajectory slices that pass f on the covered days.
func storedSliceBounds(ctx context.Context, tx pgx.Tx, app uuid.UUID, f *filters, level *string, covered []time.Time, grow func(level *string) *box) error {
	args := []any{app, covered}
	cond := ""
	if level != nil {
		cond = " AND " + eqOrNull("c.level_id", level, &args)
	}
	rows, err := tx.Query(ctx, `SELECT c.level_id, c.build_ids, c.regions, c.input_methods,
			c.min_x, c.min_y, c.min_z, c.max_x, c.max_y, c.max_z
		FROM dashboard_level_slice_cells c
		WHERE c.app_id = $1 AND c.kind = 'trajectory' AND c.day = ANY($2::date[])`+cond, args...)
	if err != nil {
		return err
	}
	match := sliceMatch(f, nil)
	var (
		id     *string
		dict   [sliceDims][]*string
		lo, hi [3][]float64
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &dict[sliceBuild], &dict[sliceRegion], &dict[sliceInput],
		&lo[0], &lo[1], &lo[2], &hi[0], &hi[1], &hi[2]}, func() error {
		n := len(dict[sliceBuild])
		for _, a := range [][]float64{lo[0], lo[1], lo[2], hi[0], hi[1], hi[2]} {
			if len(a) != n {
				return errArray
			}
		}
		if len(dict[sliceRegion]) != n || len(dict[sliceInput]) != n {
			return errArray
		}
		for x := range n {
			if match([sliceDims]*string{nil, dict[sliceBuild][x], dict[sliceRegion][x], dict[sliceInput][x]}) {
				grow(id).union(box{min: [3]float64{lo[0][x], lo[1][x], lo[2][x]}, max: [3]float64{hi[0][x], hi[1][x], hi[2][x]}})
			}
		}
		return nil
	})
	return err
}

// sliceWhere is f's condition on a dashboard_level_counts row c, starting
// with " AND"; bind must have run. The level filter is not considered.
func (f *filters) sliceWhere() string {
	s := ""
	for _, n := range []string{"build_id", "region", "input_method"} {
		if ph, ok := f.ph[n]; ok {
			s += " AND c." + n + " = " + ph
		}
	}
	return s
}

// levelCounts are a level's counts over some days, as the levels list
// shows them.
type levelCounts struct {
	gameplay, positioned, steps, trajectories, points int64
	bounds                                            *heatBounds
}

// storedLevelCounts calls fn with each level's counts, under f, on the
// covered days (level alone when not nil).
func storedLevelCounts(ctx context.Context, tx pgx.Tx, app uuid.UUID, f filters, level *levelKey, covered []time.Time, fn func(level *string, c levelCounts)) error {
	args := []any{app, covered}
	cond := ""
	if level != nil {
		cond = level.cond("c", &args)
	}
	f.bind(&args)
	rows, err := tx.Query(ctx, `SELECT c.level_id, sum(c.gameplay_events)::bigint, sum(c.positioned_events)::bigint,
			min(c.min_x), min(c.min_y), min(c.min_z), max(c.max_x), max(c.max_y), max(c.max_z),
			sum(c.funnel_steps)::bigint, sum(c.trajectories)::bigint, sum(c.points)::bigint
		FROM dashboard_level_counts c
		WHERE c.app_id = $1 AND c.day = ANY($2::date[])`+cond+f.sliceWhere()+`
		GROUP BY c.level_id`, args...)
	if err != nil {
		return err
	}
	var (
		id     *string
		c      levelCounts
		lo, hi [3]*float64
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &c.gameplay, &c.positioned, &lo[0], &lo[1], &lo[2], &hi[0], &hi[1], &hi[2],
		&c.steps, &c.trajectories, &c.points}, func() error {
		c.bounds = scannedBounds(lo, hi)
		fn(id, c)
		return nil
	})
	return err
}
