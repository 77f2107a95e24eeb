package dashboard

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// The overview's distinct counts when the covered days are one run
// (firstsRun): each covered day's items from dashboard_daily_firsts, those
// first seen in the run counting for the range, plus the raw items of the
// rest that the run has not (docs/dashboard.md, "Rollups").

// firstsSQL sums the firsts of the covered run per day, metric and event
// name: all items, those counted for the range (no earlier day in the run)
// and their events.
func (r *rolled) firstsSQL(metrics string) ([]any, string) {
	args, run := r.withRun(r.args)
	return args, `SELECT r.day, r.metric, r.name, sum(r.items)::bigint,
		coalesce(sum(r.items) FILTER (WHERE r.prev_day IS NULL OR r.prev_day < $` + strconv.Itoa(len(args)-1) + `), 0)::bigint,
		sum(r.events)::bigint
	FROM dashboard_daily_firsts r
	WHERE ` + run + r.f.firstsGrouping() + ` AND r.metric IN (` + metrics + `)
	GROUP BY 1, 2, 3`
}

// notInRun is the condition that a raw item p (p.player_id, and match on
// the rollup row r) has no row in table on a day of the covered run under
// the filters, bound to args by withRun.
func (r *rolled) notInRun(args []any, table, match string) string {
	return `NOT EXISTS (SELECT 1 FROM ` + table + ` r
		WHERE r.app_id = $1 AND r.player_id = p.player_id` + match + `
			AND r.day >= $` + strconv.Itoa(len(args)-1) + ` AND r.day <= $` + strconv.Itoa(len(args)) + r.f.rollupWhere() + `)`
}

// activeFromFirsts counts the active players and sessions: per covered day
// and for the run from the firsts, per rest day from the raw rows, and for
// the range the run's plus the rest's players and sessions the run has not.
func (o *overview) activeFromFirsts(ctx context.Context) error {
	args, q := o.firstsSQL("'players', 'sessions'")
	rows, err := o.tx.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	var (
		d             time.Time
		metric        string
		name          *string
		items, firsts int64
		events        int64
	)
	perDay := map[int64][2]int64{}
	var total [2]int64
	if _, err := pgx.ForEachRow(rows, []any{&d, &metric, &name, &items, &firsts, &events}, func() error {
		i := 0
		if metric == "sessions" {
			i = 1
		}
		v := perDay[d.Unix()]
		v[i] += items
		perDay[d.Unix()] = v
		total[i] += firsts
		return nil
	}); err != nil {
		return err
	}
	for _, c := range o.covered {
		v := perDay[c.Unix()]
		o.setActive(&c, v[0], v[1])
	}
	if len(o.rest) == 0 {
		o.setActive(nil, total[0], total[1])
		return nil
	}

	args, in := o.withRest(o.args)
	args, _ = o.withRun(args)
	rows, err = o.tx.Query(ctx, `WITH a AS MATERIALIZED (
			SELECT date_trunc('day', ts AT TIME ZONE 'UTC') AS d, player_id, session_id FROM (`+activitySQL(o.f, in)+`) x
			GROUP BY 1, 2, 3
		)
		SELECT d, count(DISTINCT player_id), count(DISTINCT (player_id, session_id)) FILTER (WHERE session_id IS NOT NULL)
		FROM a GROUP BY 1
		UNION ALL
		SELECT NULL,
			(SELECT count(*) FROM (SELECT DISTINCT player_id FROM a) p WHERE `+o.notInRun(args, "dashboard_daily_sessions", "")+`),
			(SELECT count(*) FROM (SELECT DISTINCT player_id, session_id FROM a WHERE session_id IS NOT NULL) p
				WHERE `+o.notInRun(args, "dashboard_daily_sessions", " AND r.session_id = p.session_id")+`)`, args...)
	if err != nil {
		return err
	}
	var (
		rd                *time.Time
		players, sessions int64
	)
	_, err = pgx.ForEachRow(rows, []any{&rd, &players, &sessions}, func() error {
		if rd == nil {
			o.setActive(nil, total[0]+players, total[1]+sessions)
		} else {
			o.setActive(rd, players, sessions)
		}
		return nil
	})
	return err
}
