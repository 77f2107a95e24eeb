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

// firstsGroupings expands a day rollup row s into the groupings it counts
// in: every row in 'all', and in the build and region groupings when it has
// the value they name.
const firstsGroupings = `CROSS JOIN (VALUES ('all'), ('build'), ('region'), ('build_region')) g (grouping)
	WHERE s.app_id = $1 AND s.day = ANY($2::date[])
		AND (s.build_id IS NOT NULL OR g.grouping IN ('all', 'region'))
		AND (s.region IS NOT NULL OR g.grouping IN ('all', 'build'))`

// firstsItem is one kind of item: its day rollup table, the column that
// names it besides player_id, and for players per name the
// dashboard_daily_name_players kind.
type firstsItem struct {
	metric, table, key, kind string
}

var firstsItems = []firstsItem{
	{"players", "dashboard_daily_sessions", "", ""},
	{"sessions", "dashboard_daily_sessions", "session_id", ""},
	{"event_players", "dashboard_daily_name_players", "name", "gameplay"},
	{"step_players", "dashboard_daily_name_players", "name", "funnel"},
}

// firstsMetric is the firsts metric of the players per name of a
// dashboard_daily_name_players kind.
var firstsMetric = map[string]string{"gameplay": "event_players", "funnel": "step_players"}

// firstsSQL fills dashboard_daily_firsts for the days $2 of app $1 with
// its items: per day and grouping, the items and their previous day of
// activity under that grouping, at most firstsWindow days back.
func (it firstsItem) firstsSQL() string {
	key, keyMatch, where, name, events := "", "", "", "NULL::text", "0"
	if it.key != "" {
		key = ", s." + it.key
		keyMatch = " AND p." + it.key + " = i." + it.key
		where = " AND s." + it.key + " IS NOT NULL"
	}
	if it.kind != "" {
		kind := " AND %s.kind = '" + it.kind + "'"
		where += fmt.Sprintf(kind, "s")
		keyMatch += fmt.Sprintf(kind, "p")
		name, events = "i.name", "sum(s.events)"
	}
	return `INSERT INTO dashboard_daily_firsts (app_id, day, grouping, build_id, region, metric, name, prev_day, items, events)
SELECT $1, i.day, i.grouping, i.b, i.r, '` + it.metric + `', ` + name + `, pv.prev_day, count(*), sum(i.events)
FROM (
	SELECT s.day, g.grouping,
		CASE WHEN g.grouping IN ('build', 'build_region') THEN s.build_id END AS b,
		CASE WHEN g.grouping IN ('region', 'build_region') THEN s.region END AS r,
		s.player_id` + key + `, ` + events + ` AS events
	FROM ` + it.table + ` s ` + firstsGroupings + where + `
	GROUP BY 1, 2, 3, 4, 5` + key + `
) i
LEFT JOIN LATERAL (
	SELECT max(p.day) AS prev_day FROM ` + it.table + ` p
	WHERE p.app_id = $1 AND p.player_id = i.player_id` + keyMatch + `
		AND p.day < i.day AND p.day >= i.day - ` + fmt.Sprint(firstsWindow) + `
		AND (i.b IS NULL OR p.build_id = i.b) AND (i.r IS NULL OR p.region = i.r)
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
