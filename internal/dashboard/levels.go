package dashboard

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// LevelAttributionBudget bounds one Rollup run's attribution: it takes
// app-days while their trajectories and funnel steps add up to at most this
// many (and at least one app-day); the next run goes on.
const LevelAttributionBudget = 3_000_000

// attributeLevelsSQL gives each trajectory of one app's [$2, $3) (one UTC
// day) that the client sent no level_id for the level of its session
// (docs/dashboard.md, "A trajectory's level"): the level_id of the
// session's latest gameplay event or funnel step at or before its
// timestamp_start; failing that, of the session's first one after
// timestamp_start and no later than timestamp_end; else none (NULL). Only
// events within 24 hours of timestamp_start count. At one instant a
// gameplay event wins over a funnel step, then the greater event_id.
//
// It runs in one pass: the level events (from a day before $2 to a day
// after $3) of the sessions with trajectories that day and the
// trajectories, ordered by time per session; each trajectory takes the
// last event before it in that order, and, walking the other way, the
// first event after it. Events of an instant are ordered so that the
// winning one is met last either way, and come before a trajectory of the
// same instant. Only rows whose level changes are written.
const attributeLevelsSQL = `WITH t AS (
	SELECT x.event_id, x.player_id, x.session_id, x.timestamp_start, x.timestamp_end
	FROM trajectories x
	WHERE x.app_id = $1 AND x.timestamp_start >= $2 AND x.timestamp_start < $3
		AND (x.level_attributed OR x.level_id IS NULL)
),
s AS (
	SELECT DISTINCT player_id, session_id FROM t WHERE session_id IS NOT NULL
),
e AS (
	SELECT g.player_id, g.session_id, g."timestamp" AS ts, 1 AS pref, g.event_id, g.level_id
	FROM gameplay_events g
	WHERE g.app_id = $1 AND g."timestamp" >= $2::timestamptz - interval '1 day' AND g."timestamp" < $3::timestamptz + interval '1 day'
		AND g.level_id IS NOT NULL
	UNION ALL
	SELECT f.player_id, f.session_id, f."timestamp", 0, f.event_id, f.level_id
	FROM funnel_steps f
	WHERE f.app_id = $1 AND f."timestamp" >= $2::timestamptz - interval '1 day' AND f."timestamp" < $3::timestamptz + interval '1 day'
		AND f.level_id IS NOT NULL
),
u AS (
	SELECT e.player_id, e.session_id, e.ts, 0 AS is_t, e.pref, e.event_id, e.level_id, NULL::timestamptz AS ts_end
	FROM e JOIN s ON s.player_id = e.player_id AND s.session_id = e.session_id
	UNION ALL
	SELECT t.player_id, t.session_id, t.timestamp_start, 1, 0, t.event_id, NULL, t.timestamp_end FROM t
),
-- n numbers the events in time order; a trajectory's n is its latest
-- event's, which heads the rows of that n.
fwd AS (
	SELECT u.*, count(u.level_id) OVER (PARTITION BY u.player_id, u.session_id
		ORDER BY u.ts, u.is_t, u.pref, u.event_id ROWS UNBOUNDED PRECEDING) AS n
	FROM u
),
before AS (
	SELECT fwd.*,
		first_value(fwd.level_id) OVER w AS b_level, first_value(fwd.ts) OVER w AS b_ts,
		count(fwd.level_id) OVER (PARTITION BY fwd.player_id, fwd.session_id
			ORDER BY fwd.ts DESC, fwd.is_t DESC, fwd.pref, fwd.event_id ROWS UNBOUNDED PRECEDING) AS m
	FROM fwd
	WINDOW w AS (PARTITION BY fwd.player_id, fwd.session_id, fwd.n ORDER BY fwd.ts, fwd.is_t, fwd.pref, fwd.event_id)
),
after AS (
	SELECT before.event_id, before.is_t, before.ts, before.ts_end, before.b_level, before.b_ts,
		first_value(before.level_id) OVER w AS a_level, first_value(before.ts) OVER w AS a_ts
	FROM before
	WINDOW w AS (PARTITION BY before.player_id, before.session_id, before.m
		ORDER BY before.ts DESC, before.is_t DESC, before.pref, before.event_id)
),
r AS (
	SELECT after.event_id, after.ts, CASE
		WHEN after.b_level IS NOT NULL AND after.b_ts >= after.ts - interval '24 hours' THEN after.b_level
		WHEN after.a_level IS NOT NULL AND after.a_ts <= after.ts_end AND after.a_ts <= after.ts + interval '24 hours' THEN after.a_level
	END AS level_id
	FROM after
	WHERE after.is_t = 1
)
UPDATE trajectories x SET level_id = r.level_id, level_attributed = true
FROM r
WHERE x.app_id = $1 AND x.timestamp_start >= $2 AND x.timestamp_start < $3
	AND x.event_id = r.event_id AND x.timestamp_start = r.ts
	AND (x.level_attributed OR x.level_id IS NULL)
	AND (NOT x.level_attributed OR x.level_id IS DISTINCT FROM r.level_id)`

// stepInputMethodsSQL gives each funnel step of one app's [$2, $3) (one UTC
// day) the input method of its session (docs/dashboard.md, "Filters"):
// the input_method of the session's latest gameplay event at or before the
// step, within 24 hours, the greater event_id at one instant; else none.
// As attributeLevelsSQL, in one pass over the sessions' events and steps in
// time order, writing only the rows that change.
const stepInputMethodsSQL = `WITH f AS (
	SELECT x.event_id, x.player_id, x.session_id, x."timestamp" AS ts
	FROM funnel_steps x
	WHERE x.app_id = $1 AND x."timestamp" >= $2 AND x."timestamp" < $3
),
s AS (
	SELECT DISTINCT player_id, session_id FROM f WHERE session_id IS NOT NULL
),
u AS (
	SELECT g.player_id, g.session_id, g."timestamp" AS ts, 0 AS is_f, g.event_id, g.input_method
	FROM gameplay_events g JOIN s ON s.player_id = g.player_id AND s.session_id = g.session_id
	WHERE g.app_id = $1 AND g."timestamp" >= $2::timestamptz - interval '1 day' AND g."timestamp" < $3
		AND g.input_method IS NOT NULL
	UNION ALL
	SELECT f.player_id, f.session_id, f.ts, 1, f.event_id, NULL FROM f
),
fwd AS (
	SELECT u.*, count(u.input_method) OVER (PARTITION BY u.player_id, u.session_id
		ORDER BY u.ts, u.is_f, u.event_id ROWS UNBOUNDED PRECEDING) AS n
	FROM u
),
r AS (
	SELECT fwd.event_id, fwd.ts, fwd.is_f,
		first_value(fwd.input_method) OVER w AS im, first_value(fwd.ts) OVER w AS im_ts
	FROM fwd
	WINDOW w AS (PARTITION BY fwd.player_id, fwd.session_id, fwd.n ORDER BY fwd.ts, fwd.is_f, fwd.event_id)
)
UPDATE funnel_steps x SET input_method = CASE WHEN r.im_ts >= r.ts - interval '24 hours' THEN r.im END
FROM r
WHERE r.is_f = 1 AND x.app_id = $1 AND x."timestamp" >= $2 AND x."timestamp" < $3
	AND x.event_id = r.event_id AND x."timestamp" = r.ts
	AND x.input_method IS DISTINCT FROM (CASE WHEN r.im_ts >= r.ts - interval '24 hours' THEN r.im END)`

// levelInputs are what an app-day's attribution (its trajectories' levels
// and its funnel steps' input methods) depends on: the counts of level
// events (gameplay events and funnel steps) of the day before, the day and
// the day after, and of the day's trajectories. An app-day is attributed
// again when they differ from the ones stored with its last attribution
// (dashboard_level_days).
type levelInputs [4]int64

// attributeLevels attributes the trajectories and funnel steps of every
// app-day of [from, today] whose inputs changed since their last
// attribution, the newest first, within budget rows (it always takes one
// app-day). counts holds the raw rows per app, day and kind from a day
// before from to the day after today.
func attributeLevels(ctx context.Context, db *pgxpool.Pool, counts map[kindKey]int64, from, today time.Time, budget int64, st *RollupStats) error {
	// Days older than from are never attributed again.
	if _, err := db.Exec(ctx, `DELETE FROM dashboard_level_days WHERE day < $1`, from); err != nil {
		return fmt.Errorf("error forgetting old attributed days: %w", err)
	}
	stored := map[appDay]levelInputs{}
	rows, err := db.Query(ctx, `SELECT app_id, day, inputs FROM dashboard_level_days WHERE day >= $1 AND day <= $2`, from, today)
	if err != nil {
		return fmt.Errorf("error reading the attributed days: %w", err)
	}
	var (
		ad     appDay
		inputs []int64
	)
	if _, err := pgx.ForEachRow(rows, []any{&ad.app, &ad.day, &inputs}, func() error {
		if len(inputs) == len(levelInputs{}) {
			stored[ad] = levelInputs(inputs)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("error reading the attributed days: %w", err)
	}
	levelEvents := func(ad appDay) int64 {
		return counts[kindKey{ad, "gameplay"}] + counts[kindKey{ad, "funnel"}]
	}
	type todo struct {
		appDay
		in levelInputs
	}
	var days []todo
	seen := map[appDay]bool{}
	for k := range counts {
		if (k.kind != "realtime" && k.kind != "funnel") || k.day.Before(from) || k.day.After(today) || seen[k.appDay] {
			continue
		}
		seen[k.appDay] = true
		in := levelInputs{levelEvents(appDay{k.app, k.day.AddDate(0, 0, -1)}), levelEvents(k.appDay),
			levelEvents(appDay{k.app, k.day.AddDate(0, 0, 1)}), counts[kindKey{k.appDay, "realtime"}]}
		if s, ok := stored[k.appDay]; !ok || s != in {
			days = append(days, todo{k.appDay, in})
		}
	}
	slices.SortFunc(days, func(a, b todo) int { return b.day.Compare(a.day) })
	var spent int64
	for i, d := range days {
		if i > 0 && spent+d.in[3]+counts[kindKey{d.appDay, "funnel"}] > budget {
			st.LevelDaysLeft = len(days) - i
			break
		}
		if err := attributeDay(ctx, db, d.appDay, d.in); err != nil {
			return err
		}
		spent += d.in[3] + counts[kindKey{d.appDay, "funnel"}]
		st.LevelDays++
	}
	return nil
}

// attributeDay attributes one app-day's trajectories (levels) and funnel
// steps (input methods) and stores the inputs it was given, read before it
// began. It holds the app's rollup lock
// (rollupLockKey), so a rollup of the day runs wholly before or after it;
// when a level or a step's input method changed it removes the day from
// dashboard_rollup_days, so the day is rolled up again.
func attributeDay(ctx context.Context, db *pgxpool.Pool, ad appDay, in levelInputs) error {
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0)), set_config('work_mem', $2, true), set_config('jit', 'off', true)`,
			rollupLockKey(ad.app), queryWorkMem); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, attributeLevelsSQL, ad.app, ad.day, ad.day.AddDate(0, 0, 1))
		if err != nil {
			return err
		}
		changed := tag.RowsAffected() > 0
		// The level counts hold funnel steps by input method
		// (migrations/0059_level_gameplay_cells.sql), so a step's new input
		// method rolls its day up again too.
		tag, err = tx.Exec(ctx, stepInputMethodsSQL, ad.app, ad.day, ad.day.AddDate(0, 0, 1))
		if err != nil {
			return err
		}
		if changed || tag.RowsAffected() > 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM dashboard_rollup_days WHERE app_id = $1 AND day = $2`, ad.app, ad.day); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `INSERT INTO dashboard_level_days (app_id, day, inputs) VALUES ($1, $2, $3)
			ON CONFLICT (app_id, day) DO UPDATE SET inputs = excluded.inputs, attributed_at = now()`, ad.app, ad.day, in[:])
		return err
	})
	if err != nil {
		return fmt.Errorf("error attributing levels of app %s on %s: %w", ad.app, ad.day.Format(time.DateOnly), err)
	}
	return nil
}

// rollupLockKey names the advisory lock of an app's rollups and level
// attribution: one app-day is rolled up or attributed at a time, since a
// day's firsts depend on the days before it (refreshFirsts).
func rollupLockKey(app uuid.UUID) string {
	return "dashboard_rollup:" + app.String()
}
