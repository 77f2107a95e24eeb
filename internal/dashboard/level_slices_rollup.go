package dashboard

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Rolling up the Levels views' slices and counts
// (migrations/0059_level_gameplay_cells.sql): each app-day, with its other
// rollups, in the same transaction.

// buildLevelRollups rolls up one app-day's level cells, sliced cells and
// counts, whose rows of the day must be gone already.
func buildLevelRollups(ctx context.Context, tx pgx.Tx, app uuid.UUID, day time.Time) error {
	if err := buildLevelCells(ctx, tx, app, day); err != nil {
		return err
	}
	if err := buildGameplaySlices(ctx, tx, app, day); err != nil {
		return err
	}
	return buildLevelCounts(ctx, tx, app, day)
}

// levelRollupTables are the tables buildLevelRollups fills.
var levelRollupTables = []string{"dashboard_level_cells", "dashboard_level_slice_cells", "dashboard_level_counts"}

// gameplayPoint is a positioned gameplay event as the slices need it.
type gameplayPoint struct {
	x, y, z float64
	slice   int32
}

// buildGameplaySlices rolls up the app-day's positioned gameplay events
// into dashboard_level_slice_cells: per level, their cells by slice at the
// finer exponent the day's extent of the level's positions calls for
// (keptExps). The events are read once and held, a level's extent being
// known only once all are read.
func buildGameplaySlices(ctx context.Context, tx pgx.Tx, app uuid.UUID, day time.Time) error {
	type levelPoints struct {
		level  *string
		dict   *sliceDict
		extent box
		points []gameplayPoint
	}
	levels := map[levelKey]*levelPoints{}
	rows, err := tx.Query(ctx, `SELECT g.level_id, g.event_name, g.build_id, p.region, g.input_method, g.pos_x, g.pos_y, g.pos_z
		FROM gameplay_events g LEFT JOIN players p ON p.app_id = g.app_id AND p.player_id = g.player_id
		WHERE g.app_id = $1 AND g."timestamp" >= $2 AND g."timestamp" < $3 AND `+positioned, app, day, day.AddDate(0, 0, 1))
	if err != nil {
		return err
	}
	var (
		level   *string
		vals    [sliceDims]*string
		x, y, z float64
	)
	if _, err := pgx.ForEachRow(rows, []any{&level, &vals[sliceName], &vals[sliceBuild], &vals[sliceRegion], &vals[sliceInput], &x, &y, &z}, func() error {
		if !finite(x) || !finite(y) || !finite(z) {
			return nil // never accepted by the API
		}
		k := levelKeyOf(level)
		l := levels[k]
		if l == nil {
			l = &levelPoints{level: k.id(), dict: newSliceDict(), extent: newBox()}
			levels[k] = l
		}
		l.extent.add(x, y, z)
		l.points = append(l.points, gameplayPoint{x, y, z, l.dict.of(newSlice(vals))})
		return nil
	}); err != nil {
		return err
	}
	var out [][]any
	for _, l := range levels {
		s := newLevelSlices(l.level, keptExps(l.extent)[0])
		s.dict = l.dict
		for _, p := range l.points {
			s.add(p.slice, p.x, p.y, p.z, nil)
		}
		out = append(out, s.row(app, day, "gameplay"))
	}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"dashboard_level_slice_cells"}, sliceCellColumns, pgx.CopyFromRows(out))
	return err
}

// buildLevelCounts rolls up the app-day's counts per level and slice into
// dashboard_level_counts: gameplay events, positioned ones and their
// bounds, funnel steps of known levels, trajectories and their points.
func buildLevelCounts(ctx context.Context, tx pgx.Tx, app uuid.UUID, day time.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO dashboard_level_counts (app_id, day, level_id, build_id, region, input_method,
			gameplay_events, positioned_events, min_x, min_y, min_z, max_x, max_y, max_z, funnel_steps, trajectories, points)
		SELECT $1, $2::date, u.level_id, u.build_id, u.region, u.input_method, sum(u.ge), sum(u.pe),
			min(u.min_x), min(u.min_y), min(u.min_z), max(u.max_x), max(u.max_y), max(u.max_z), sum(u.fs), sum(u.tr), sum(u.pt)
		FROM (
			SELECT g.level_id, g.build_id, p.region, g.input_method, count(*) AS ge, count(*) FILTER (WHERE `+positioned+`) AS pe,
				`+positionBounds+`, 0 AS fs, 0 AS tr, 0 AS pt
			FROM gameplay_events g LEFT JOIN players p ON p.app_id = g.app_id AND p.player_id = g.player_id
			WHERE g.app_id = $1 AND g."timestamp" >= $3 AND g."timestamp" < $4
			GROUP BY 1, 2, 3, 4
			UNION ALL
			SELECT s.level_id, s.build_id, p.region, s.input_method, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, count(*), 0, 0
			FROM funnel_steps s LEFT JOIN players p ON p.app_id = s.app_id AND p.player_id = s.player_id
			WHERE s.app_id = $1 AND s."timestamp" >= $3 AND s."timestamp" < $4 AND s.level_id IS NOT NULL
			GROUP BY 1, 2, 3, 4
			UNION ALL
			SELECT x.level_id, x.build_id, p.region, x.input_method, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, 0, count(*), sum(x.num_points)
			FROM trajectories x LEFT JOIN players p ON p.app_id = x.app_id AND p.player_id = x.player_id
			WHERE x.app_id = $1 AND x.timestamp_start >= $3 AND x.timestamp_start < $4
			GROUP BY 1, 2, 3, 4
		) u (level_id, build_id, region, input_method, ge, pe, min_x, min_y, min_z, max_x, max_y, max_z, fs, tr, pt)
		GROUP BY 3, 4, 5, 6`, app, day, day, day.AddDate(0, 0, 1))
	return err
}
