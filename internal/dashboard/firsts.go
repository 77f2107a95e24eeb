package dashboard

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// firstsWindow is how many days back dashboard_daily_firsts looks for an
// item's previous day (migrations/0052_dashboard_firsts.sql): distinct
// counts over a run of days at most this many days apart come from it.
const firstsWindow = 90

// firstsItem is one kind of item: its day rollup table, which of its rows
// hold such items (cond, on the row's alias), the column naming the item
// besides player_id, whether that is kept as the firsts row's name and
// may be NULL (an unknown group), whether the table has build_id, and
// whether the rows count events.
type firstsItem struct {
	metric, table, cond, key       string
	named, nullable, build, events bool
}

var firstsItems = []firstsItem{
	{"players", "dashboard_daily_sessions", "", "", false, false, true, false},
	{"sessions", "dashboard_daily_sessions", "%s.session_id IS NOT NULL", "session_id", false, false, true, false},
	{"event_players", "dashboard_daily_name_players", "%s.kind = 'gameplay'", "name", true, false, true, true},
	{"step_players", "dashboard_daily_name_players", "%s.kind = 'funnel'", "name", true, false, true, true},
	{"perf_build_id", "dashboard_daily_perf_players", "%s.dimension = 'build_id'", "value", true, true, false, false},
	{"perf_gpu", "dashboard_daily_perf_players", "%s.dimension = 'gpu'", "value", true, true, false, false},
	{"perf_level_id", "dashboard_daily_perf_players", "%s.dimension = 'level_id'", "value", true, true, false, false},
}

// firstsMetric is the firsts metric of the players per name of a
// dashboard_daily_name_players kind.
var firstsMetric = map[string]string{"gameplay": "event_players", "funnel": "step_players"}

// firstsSQL fills dashboard_daily_firsts for the days $2 of app $1 with
// its items: per day and grouping, the items and their previous day of
// activity under that grouping, at most firstsWindow days back. An item
// counts in every grouping whose build and region it has: all; build;
// region; build and region (builds only for tables with build_id).
func (it firstsItem) firstsSQL() string {
	groupings, b := "('all'), ('region')", "NULL::text"
	where, buildMatch := " AND (s.region IS NOT NULL OR g.grouping = 'all')", ""
	if it.build {
		groupings = "('all'), ('build'), ('region'), ('build_region')"
		b = "CASE WHEN g.grouping IN ('build', 'build_region') THEN s.build_id END"
		where = ` AND (s.region IS NOT NULL OR g.grouping IN ('all', 'build'))
		AND (s.build_id IS NOT NULL OR g.grouping IN ('all', 'region'))`
		buildMatch = " AND (i.b IS NULL OR p.build_id = i.b)"
	}
	key, keyMatch, name, events := "", "", "NULL::text", "0"
	if it.key != "" {
		op := " = "
		if it.nullable {
			op = " IS NOT DISTINCT FROM "
		}
		key = ", s." + it.key
		keyMatch = " AND p." + it.key + op + "i." + it.key
	}
	if it.cond != "" {
		where += " AND " + fmt.Sprintf(it.cond, "s")
		keyMatch += " AND " + fmt.Sprintf(it.cond, "p")
	}
	if it.named {
		name = "i." + it.key
	}
	if it.events {
		events = "sum(s.events)"
	}
	return `INSERT INTO dashboard_daily_firsts (app_id, day, grouping, build_id, region, metric, name, prev_day, items, events)
SELECT $1, i.day, i.grouping, i.b, i.r, '` + it.metric + `', ` + name + `, pv.prev_day, count(*), sum(i.events)
FROM (
	SELECT s.day, g.grouping, ` + b + ` AS b,
		CASE WHEN g.grouping IN ('region', 'build_region') THEN s.region END AS r,
		s.player_id` + key + `, ` + events + ` AS events
	FROM ` + it.table + ` s CROSS JOIN (VALUES ` + groupings + `) g (grouping)
	WHERE s.app_id = $1 AND s.day = ANY($2::date[])` + where + `
	GROUP BY 1, 2, 3, 4, 5` + key + `
) i
LEFT JOIN LATERAL (
	SELECT max(p.day) AS prev_day FROM ` + it.table + ` p
	WHERE p.app_id = $1 AND p.player_id = i.player_id` + keyMatch + `
		AND p.day < i.day AND p.day >= i.day - ` + fmt.Sprint(firstsWindow) + buildMatch + `
		AND (i.r IS NULL OR p.region = i.r)
) pv ON true
GROUP BY 2, 3, 4, 5, 7, 8`
}

// refreshFirsts recomputes the firsts of day, just rolled up in tx, and of
// the rolled-up days after it whose previous days it may be (at most
// firstsWindow days on).
func refreshFirsts(ctx context.Context, tx pgx.Tx, app uuid.UUID, day time.Time) error {
	days := []time.Time{day}
	rows, err := tx.Query(ctx, `SELECT day FROM dashboard_rollup_days WHERE app_id = $1 AND day > $2 AND day <= $3 ORDER BY day`,
		app, day, day.AddDate(0, 0, firstsWindow))
	if err != nil {
		return err
	}
	var d time.Time
	if _, err := pgx.ForEachRow(rows, []any{&d}, func() error {
		days = append(days, d)
		return nil
	}); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM dashboard_daily_firsts WHERE app_id = $1 AND day = ANY($2::date[])`, app, days); err != nil {
		return err
	}
	for _, it := range firstsItems {
		if _, err := tx.Exec(ctx, it.firstsSQL(), app, days); err != nil {
			return fmt.Errorf("error rolling up the first %s: %w", it.metric, err)
		}
	}
	return nil
}

// firstsRun reports whether covered is one run of consecutive days at
// most firstsWindow days apart, and its first and last day.
func firstsRun(covered []time.Time) (first, last time.Time, ok bool) {
	if len(covered) == 0 || len(covered) > firstsWindow {
		return first, last, false
	}
	for i := 1; i < len(covered); i++ {
		if !covered[i].Equal(covered[i-1].AddDate(0, 0, 1)) {
			return first, last, false
		}
	}
	return covered[0], covered[len(covered)-1], true
}

// firstsGrouping is the condition on a firsts row r of having the grouping
// of f's build and region filters (the only ones it keeps); rollupWhere
// adds their values.
func (f *filters) firstsGrouping() string {
	grouping := "all"
	switch {
	case f.BuildID != nil && f.Region != nil:
		grouping = "build_region"
	case f.BuildID != nil:
		grouping = "build"
	case f.Region != nil:
		grouping = "region"
	}
	return " AND r.grouping = '" + grouping + "'"
}
