package dashboard

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gamepipe/gamepipe/internal/store"
)

// RollupLookback is how many whole days before today Rollup keeps rolled
// up. Older days, and today, are read raw.
const RollupLookback = 35

// fpsBucketExpr is the 0.1-fps bucket of an fps value (negative values in
// bucket 0). The small epsilon keeps 29.3 in bucket 293 despite float
// rounding.
const fpsBucketExpr = "floor(greatest(%s, 0) * 10 + 1e-6)::int"

// RollupStats says what one Rollup run did.
type RollupStats struct {
	// Days is how many app-days were checked; Rebuilt how many of them
	// were rolled up again because their raw rows changed.
	Days, Rebuilt int
	// LevelDays is how many app-days had their trajectories' levels
	// attributed; LevelDaysLeft how many more wait for the next run
	// (LevelAttributionBudget).
	LevelDays, LevelDaysLeft int
	// LevelCellDays is how many app-days rolled up before the level cells
	// (or slices and counts) existed had them built (topUpLevelCells).
	LevelCellDays int
}

type appDay struct {
	app uuid.UUID
	day time.Time
}

// kindKey is an app-day's kind of telemetry (kinds' names).
type kindKey struct {
	appDay
	kind string
}

// Rollup first analyzes the day partitions it is about to read whose
// statistics are missing or stale (store.AnalyzeStaleDays), then
// attributes trajectories to levels (attributeLevels, for the last
// RollupLookback days and today), then brings the dashboard's daily
// rollups (migrations/0031, 0051, 0052, 0056, 0059) up to date for every
// app and every whole UTC day of the last RollupLookback days: an app-day
// is rebuilt when it was never rolled up, when its raw row count per kind
// differs from the rollup's (late events, or dropped partitions) or when a
// trajectory's level or a funnel step's input method changed. Each app-day is rebuilt in one repeatable-read
// transaction under the app's advisory lock, so concurrent runs and reruns
// converge on the same rows; running it again with no new rows changes
// nothing.
func Rollup(ctx context.Context, db *pgxpool.Pool, now time.Time) (RollupStats, error) {
	var st RollupStats
	today := now.UTC().Truncate(24 * time.Hour)
	from := today.AddDate(0, 0, -RollupLookback)
	if _, err := store.AnalyzeStaleDays(ctx, db, from.AddDate(0, 0, -1), today.AddDate(0, 0, 1)); err != nil {
		return st, err
	}
	raw, err := rawCounts(ctx, db, from.AddDate(0, 0, -1), today.AddDate(0, 0, 2))
	if err != nil {
		return st, err
	}
	if err := attributeLevels(ctx, db, raw, from, today, LevelAttributionBudget, &st); err != nil {
		return st, err
	}
	for k := range raw {
		if k.day.Before(from) || !k.day.Before(today) {
			delete(raw, k)
		}
	}
	rolled := map[kindKey]int64{}
	rows, err := db.Query(ctx, `SELECT app_id, day, kind, sum(events)::bigint FROM dashboard_daily_counts
		WHERE day >= $1 AND day < $2 GROUP BY 1, 2, 3`, from, today)
	if err != nil {
		return st, fmt.Errorf("error reading the rollups: %w", err)
	}
	var (
		kk kindKey
		n  int64
	)
	if _, err = pgx.ForEachRow(rows, []any{&kk.app, &kk.day, &kk.kind, &n}, func() error {
		rolled[kk] = n
		return nil
	}); err != nil {
		return st, fmt.Errorf("error reading the rollups: %w", err)
	}
	done := map[appDay]bool{}
	rows, err = db.Query(ctx, `SELECT app_id, day FROM dashboard_rollup_days WHERE day >= $1 AND day < $2`, from, today)
	if err != nil {
		return st, fmt.Errorf("error reading the rolled-up days: %w", err)
	}
	var ad appDay
	if _, err = pgx.ForEachRow(rows, []any{&ad.app, &ad.day}, func() error {
		done[ad] = true
		return nil
	}); err != nil {
		return st, fmt.Errorf("error reading the rolled-up days: %w", err)
	}

	stale := map[appDay]bool{}
	for k, n := range raw {
		if !done[k.appDay] || rolled[k] != n {
			stale[k.appDay] = true
		}
	}
	for k, n := range rolled {
		if raw[k] != n {
			stale[k.appDay] = true
		}
	}
	days := map[appDay]bool{}
	for k := range raw {
		days[k.appDay] = true
	}
	for k := range done {
		days[k] = true
	}
	st.Days = len(days)
	// Oldest first, so that a day's firsts find the days before it
	// rolled up already (refreshFirsts).
	order := slices.SortedFunc(maps.Keys(stale), func(a, b appDay) int {
		if c := a.day.Compare(b.day); c != 0 {
			return c
		}
		return slices.Compare(a.app[:], b.app[:])
	})
	for _, ad := range order {
		if err := rebuildDay(ctx, db, ad.app, ad.day); err != nil {
			return st, err
		}
		st.Rebuilt++
	}
	if err := topUpLevelCells(ctx, db, from, today, &st); err != nil {
		return st, err
	}
	return st, nil
}

// rawCounts counts the telemetry rows per app, UTC day and kind in [from,
// to).
func rawCounts(ctx context.Context, db *pgxpool.Pool, from, to time.Time) (map[kindKey]int64, error) {
	raw := map[kindKey]int64{}
	for _, k := range kinds {
		rows, err := db.Query(ctx, `SELECT app_id, (`+k.ts+` AT TIME ZONE 'UTC')::date, count(*) FROM `+k.table+`
			WHERE `+k.ts+` >= $1 AND `+k.ts+` < $2 GROUP BY 1, 2`, from, to)
		if err != nil {
			return nil, fmt.Errorf("error counting %s: %w", k.table, err)
		}
		var (
			ad appDay
			n  int64
		)
		_, err = pgx.ForEachRow(rows, []any{&ad.app, &ad.day, &n}, func() error {
			raw[kindKey{ad, k.name}] = n
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("error counting %s: %w", k.table, err)
		}
	}
	return raw, nil
}

// rollupTables are the tables that hold an app-day's rollups.
var rollupTables = []string{"dashboard_daily_counts", "dashboard_daily_fps", "dashboard_daily_fps_by",
	"dashboard_daily_perf_players", "dashboard_daily_name_players", "dashboard_daily_sessions", "dashboard_level_cells",
	"dashboard_level_slice_cells", "dashboard_level_counts"}

// namedKinds are the kinds whose rows have a name the views rank (top
// events, funnel step names), as dashboard_daily_name_players keeps them.
var namedKinds = []struct{ kind, table, name string }{
	{"gameplay", "gameplay_events", "event_name"},
	{"funnel", "funnel_steps", "funnel_step_name"},
}

// rebuildDay rolls up one app-day from its raw rows, its level cells,
// slices and counts (buildLevelRollups) included, and the firsts of the days after it that
// depend on it, in one transaction under the app's rollup lock
// (withRollupLock).
func rebuildDay(ctx context.Context, db *pgxpool.Pool, app uuid.UUID, day time.Time) error {
	end := day.AddDate(0, 0, 1)
	err := withRollupLock(ctx, db, app, func(tx pgx.Tx) error {
		for _, table := range rollupTables {
			if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE app_id = $1 AND day = $2`, app, day); err != nil {
				return err
			}
		}
		for _, k := range kinds {
			if _, err := tx.Exec(ctx, `INSERT INTO dashboard_daily_counts (app_id, day, kind, build_id, region, events)
				SELECT $1, $2::date, $5, x.build_id, p.region, count(*)
				FROM `+k.table+` x LEFT JOIN players p ON p.app_id = x.app_id AND p.player_id = x.player_id
				WHERE x.app_id = $1 AND x.`+k.ts+` >= $3 AND x.`+k.ts+` < $4
				GROUP BY 4, 5`, app, day, day, end, k.name); err != nil {
				return fmt.Errorf("error rolling up %s: %w", k.table, err)
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO dashboard_daily_fps (app_id, day, build_id, region, metric, bucket, trajectories, fps_sum)
			SELECT $1, $2::date, x.build_id, p.region, m.metric, `+fmt.Sprintf(fpsBucketExpr, "m.v")+`, count(*), sum(m.v)
			FROM trajectories x LEFT JOIN players p ON p.app_id = x.app_id AND p.player_id = x.player_id
			CROSS JOIN LATERAL (VALUES ('mean', x.fps_mean), ('low_5', x.fps_low_5), ('low_1', x.fps_low_1)) m (metric, v)
			WHERE x.app_id = $1 AND x.timestamp_start >= $3 AND x.timestamp_start < $4 AND x.fps_mean IS NOT NULL AND m.v IS NOT NULL
			GROUP BY 3, 4, 5, 6`, app, day, day, end); err != nil {
			return fmt.Errorf("error rolling up fps: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO dashboard_daily_fps_by (app_id, day, dimension, value, metric, buckets, counts, trajectories, fps_sum)
			SELECT $1, $2::date, dimension, value, metric, array_agg(bucket ORDER BY bucket), array_agg(n ORDER BY bucket), sum(n), sum(s)
			FROM (
				SELECT d.dimension, d.value, m.metric, `+fmt.Sprintf(fpsBucketExpr, "m.v")+` AS bucket, count(*) AS n, sum(m.v) AS s
				FROM trajectories x LEFT JOIN players p ON p.app_id = x.app_id AND p.player_id = x.player_id
				CROSS JOIN LATERAL (VALUES ('build_id', x.build_id), ('gpu', p.hardware->>'gpu'), ('level_id', x.level_id)) d (dimension, value)
				CROSS JOIN LATERAL (VALUES ('mean', x.fps_mean), ('low_5', x.fps_low_5), ('low_1', x.fps_low_1)) m (metric, v)
				WHERE x.app_id = $1 AND x.timestamp_start >= $3 AND x.timestamp_start < $4 AND x.fps_mean IS NOT NULL AND m.v IS NOT NULL
				GROUP BY 1, 2, 3, 4
			) b GROUP BY 3, 4, 5`, app, day, day, end); err != nil {
			return fmt.Errorf("error rolling up fps by build, gpu and level: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO dashboard_daily_perf_players (app_id, day, dimension, value, region, player_id)
			SELECT DISTINCT $1::uuid, $2::date, d.dimension, d.value, p.region, x.player_id
			FROM trajectories x LEFT JOIN players p ON p.app_id = x.app_id AND p.player_id = x.player_id
			CROSS JOIN LATERAL (VALUES ('build_id', x.build_id), ('gpu', p.hardware->>'gpu'), ('level_id', x.level_id)) d (dimension, value)
			WHERE x.app_id = $1 AND x.timestamp_start >= $3 AND x.timestamp_start < $4 AND x.fps_mean IS NOT NULL`, app, day, day, end); err != nil {
			return fmt.Errorf("error rolling up performance players: %w", err)
		}
		for _, n := range namedKinds {
			if _, err := tx.Exec(ctx, `INSERT INTO dashboard_daily_name_players (app_id, day, kind, build_id, region, name, player_id, events)
				SELECT $1, $2::date, $5, x.build_id, p.region, x.`+n.name+`, x.player_id, count(*)
				FROM `+n.table+` x LEFT JOIN players p ON p.app_id = x.app_id AND p.player_id = x.player_id
				WHERE x.app_id = $1 AND x."timestamp" >= $3 AND x."timestamp" < $4
				GROUP BY 4, 5, 6, 7`, app, day, day, end, n.kind); err != nil {
				return fmt.Errorf("error rolling up %s players: %w", n.kind, err)
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO dashboard_daily_sessions (app_id, day, build_id, region, player_id, session_id, events)
			SELECT $1, $2::date, a.build_id, p.region, a.player_id, a.session_id, count(*)
			FROM (
				SELECT player_id, NULL::text AS session_id, build_id FROM player_events
					WHERE app_id = $1 AND "timestamp" >= $3 AND "timestamp" < $4
				UNION ALL SELECT player_id, session_id, build_id FROM funnel_steps
					WHERE app_id = $1 AND "timestamp" >= $3 AND "timestamp" < $4
				UNION ALL SELECT player_id, session_id, build_id FROM gameplay_events
					WHERE app_id = $1 AND "timestamp" >= $3 AND "timestamp" < $4
				UNION ALL SELECT player_id, session_id, build_id FROM trajectories
					WHERE app_id = $1 AND timestamp_start >= $3 AND timestamp_start < $4
			) a LEFT JOIN players p ON p.app_id = $1 AND p.player_id = a.player_id
			GROUP BY 3, 4, 5, 6`, app, day, day, end); err != nil {
			return fmt.Errorf("error rolling up sessions: %w", err)
		}
		if err := buildLevelRollups(ctx, tx, app, day); err != nil {
			return fmt.Errorf("error rolling up level cells: %w", err)
		}
		if err := refreshFirsts(ctx, tx, app, day); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO dashboard_rollup_days (app_id, day, level_cells, level_slices) VALUES ($1, $2, true, true)
			ON CONFLICT (app_id, day) DO UPDATE SET rolled_up_at = now(), level_cells = true, level_slices = true`, app, day)
		return err
	})
	if err != nil {
		return fmt.Errorf("error rolling up app %s on %s: %w", app, day.Format(time.DateOnly), err)
	}
	return nil
}

// withRollupLock runs fn in a repeatable-read transaction on a connection
// that holds app's rollup lock (rollupLockKey). The lock is taken before
// the transaction begins, so its snapshot sees whatever a concurrent
// rollup of the app committed.
func withRollupLock(ctx context.Context, db *pgxpool.Pool, app uuid.UUID, fn func(tx pgx.Tx) error) error {
	conn, err := db.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	lockKey := rollupLockKey(app)
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtextextended($1, 0))`, lockKey); err != nil {
		return err
	}
	defer func() {
		// Unlock even when ctx is done; failing that, close the connection
		// (which ends the lock) rather than return it to the pool holding it.
		bg := context.WithoutCancel(ctx)
		if _, err := conn.Exec(bg, `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, lockKey); err != nil {
			_ = conn.Conn().Close(bg)
		}
	}()
	return pgx.BeginTxFunc(ctx, conn, pgx.TxOptions{IsoLevel: pgx.RepeatableRead}, fn)
}

// rollupPlan splits rg into the whole UTC days that app's rollups cover and
// the rest, to be read raw (at most a partial day at each end and the days
// not rolled up, merged into runs).
func rollupPlan(ctx context.Context, tx pgx.Tx, app uuid.UUID, rg timeRange) (covered []time.Time, rest []timeRange, err error) {
	return rollupPlanWhere(ctx, tx, app, rg, "")
}

// rollupPlanWhere is rollupPlan over the rolled-up days that also meet
// cond, a condition on dashboard_rollup_days starting with " AND".
func rollupPlanWhere(ctx context.Context, tx pgx.Tx, app uuid.UUID, rg timeRange, cond string) (covered []time.Time, rest []timeRange, err error) {
	const dayLen = 24 * time.Hour
	first := rg.From.Truncate(dayLen)
	if first.Before(rg.From) {
		first = first.Add(dayLen)
	}
	last := rg.To.Truncate(dayLen) // whole days are [first, last)
	done := map[int64]bool{}
	if first.Before(last) {
		rows, err := tx.Query(ctx, `SELECT day FROM dashboard_rollup_days WHERE app_id = $1 AND day >= $2 AND day < $3`+cond,
			app, first, last)
		if err != nil {
			return nil, nil, err
		}
		var d time.Time
		if _, err = pgx.ForEachRow(rows, []any{&d}, func() error {
			done[d.Unix()] = true
			return nil
		}); err != nil {
			return nil, nil, err
		}
	}
	add := func(from, to time.Time) {
		if !from.Before(to) {
			return
		}
		if n := len(rest); n > 0 && rest[n-1].To.Equal(from) {
			rest[n-1].To = to
			return
		}
		rest = append(rest, timeRange{From: from, To: to})
	}
	if !first.Before(last) {
		add(rg.From, rg.To)
		return nil, rest, nil
	}
	add(rg.From, first)
	for d := first; d.Before(last); d = d.Add(dayLen) {
		if done[d.Unix()] {
			covered = append(covered, d)
		} else {
			add(d, d.Add(dayLen))
		}
	}
	add(last, rg.To)
	return covered, rest, nil
}

// restWhere is the condition that a row's time col lies in one of rest,
// binding the bounds to args; false when rest is empty.
func restWhere(col string, rest []timeRange, args *[]any) string {
	return restCond(bindRest(rest, args))(col)
}

// bindRest appends rest's bounds to args and returns their placeholders,
// for restCond.
func bindRest(rest []timeRange, args *[]any) [][2]int {
	var phs [][2]int
	for _, r := range rest {
		*args = append(*args, r.From, r.To)
		phs = append(phs, [2]int{len(*args) - 1, len(*args)})
	}
	return phs
}

// restCond is the condition on a time column of bound ranges; false with
// none.
func restCond(phs [][2]int) func(col string) string {
	return func(col string) string {
		if len(phs) == 0 {
			return "false"
		}
		s := "("
		for i, p := range phs {
			if i > 0 {
				s += " OR "
			}
			s += fmt.Sprintf("(%s >= $%d AND %s < $%d)", col, p[0], col, p[1])
		}
		return s + ")"
	}
}

// rollupWhere is the filters' condition on a rollup row r (only build and
// region exist there).
func (f *filters) rollupWhere() string {
	s := ""
	if ph, ok := f.ph["build_id"]; ok {
		s += " AND r.build_id = " + ph
	}
	if ph, ok := f.ph["region"]; ok {
		s += " AND r.region = " + ph
	}
	return s
}
