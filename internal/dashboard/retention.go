package dashboard

import (
	"context"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// retentionDays are the return days the cohort table shows.
var retentionDays = []int{1, 7, 30}

// retentionView is GET /dashboard/api/retention (docs/dashboard.md,
// "Retention").
type retentionView struct {
	timeRange
	// Cohorts has one entry per UTC day of the range, the oldest first.
	Cohorts []cohort `json:"cohorts"`
}

// cohort is the players first seen on one day and how many of them were
// active again N days later.
type cohort struct {
	Day     day   `json:"day"`
	Players int64 `json:"players"`
	// Returned maps "1", "7", "30" to that day's return; null while the
	// day has not begun.
	Returned map[string]*returned `json:"returned"`
}

type returned struct {
	Players int64    `json:"players"`
	Rate    *float64 `json:"rate"`
}

// retentionSQL counts, per cohort day, its players and those active on
// day 1, 7 and 30. Cohorts come from players.first_seen in [$2, $3), so a
// player with no identity row is in no cohort; activity is any event in
// [$4, $5).
//
// Activity on the whole days the daily sessions rollup covers (covered,
// bound as $n) comes from it; the rest (in) is read raw.
func retentionSQL(f *filters, in func(col string) string, coveredPh string) string {
	fromRollups := ""
	if coveredPh != "" {
		fromRollups = `SELECT r.player_id, r.day AS d FROM dashboard_daily_sessions r
		WHERE r.app_id = $1 AND r.day >= ($4::timestamptz AT TIME ZONE 'UTC')::date AND r.day <= ($5::timestamptz AT TIME ZONE 'UTC')::date
			AND r.day = ANY(` + coveredPh + `::date[])
	UNION ALL `
	}
	return `
WITH cohort AS (
	SELECT p.player_id, (p.first_seen AT TIME ZONE 'UTC')::date AS d FROM players p
	WHERE p.app_id = $1 AND p.first_seen >= $2 AND p.first_seen < $3` + cohortWhere(f) + `
),
act AS (
	-- Straight into a hash join on the cohorts' players, which keeps only
	-- their days 1, 7 and 30: few rows for the distinct counts below.
	SELECT player_id, d FROM (` + fromRollups + `
		SELECT a.player_id, (a.ts AT TIME ZONE 'UTC')::date AS d FROM (` + activityRangeSQL(in) + `) a
	) u
)
SELECT c.d::timestamp, count(DISTINCT c.player_id),
	count(DISTINCT c.player_id) FILTER (WHERE act.d - c.d = 1),
	count(DISTINCT c.player_id) FILTER (WHERE act.d - c.d = 7),
	count(DISTINCT c.player_id) FILTER (WHERE act.d - c.d = 30)
FROM cohort c LEFT JOIN act ON act.player_id = c.player_id AND act.d - c.d IN (1, 7, 30)
GROUP BY c.d`
}

// cohortWhere filters the cohort's players rows p by their build and region
// (retention takes no input method or level filter).
func cohortWhere(f *filters) string {
	var b strings.Builder
	if ph, ok := f.ph["build_id"]; ok {
		b.WriteString(" AND p.build_id = " + ph)
	}
	if ph, ok := f.ph["region"]; ok {
		b.WriteString(" AND p.region = " + ph)
	}
	return b.String()
}

// activityRangeSQL is activitySQL over [$4, $5), narrowed by in.
func activityRangeSQL(in func(col string) string) string {
	return `
	SELECT player_id, "timestamp" AS ts FROM player_events
		WHERE app_id = $1 AND "timestamp" >= $4 AND "timestamp" < $5 AND ` + in(`"timestamp"`) + `
	UNION ALL SELECT player_id, "timestamp" FROM funnel_steps
		WHERE app_id = $1 AND "timestamp" >= $4 AND "timestamp" < $5 AND ` + in(`"timestamp"`) + `
	UNION ALL SELECT player_id, "timestamp" FROM gameplay_events
		WHERE app_id = $1 AND "timestamp" >= $4 AND "timestamp" < $5 AND ` + in(`"timestamp"`) + `
	UNION ALL SELECT player_id, timestamp_start FROM trajectories
		WHERE app_id = $1 AND timestamp_start >= $4 AND timestamp_start < $5 AND ` + in("timestamp_start")
}

func (h *Handler) viewRetention(ctx context.Context, app uuid.UUID, q url.Values) (any, error) {
	rg, err := h.parseRange(q)
	if err != nil {
		return nil, err
	}
	f, err := parseFilters(q, "input_method", "level_id")
	if err != nil {
		return nil, err
	}
	days := rg.days()
	out := &retentionView{timeRange: rg, Cohorts: make([]cohort, len(days))}
	index := map[int64]int{}
	for i, d := range days {
		index[d.Unix()] = i
		out.Cohorts[i] = cohort{Day: day(d), Returned: map[string]*returned{}}
	}
	const dayLen = 24 * time.Hour
	actFrom := days[0].Add(dayLen)
	actTo := days[len(days)-1].Add(time.Duration(retentionDays[len(retentionDays)-1]+1) * dayLen)
	args := []any{app, rg.From, rg.To, actFrom, actTo}
	f.bind(&args)
	err = h.readTx(ctx, func(tx pgx.Tx) error {
		covered, rest, err := rollupPlan(ctx, tx, app, timeRange{From: actFrom, To: actTo})
		if err != nil {
			return err
		}
		qargs := slices.Clone(args)
		in := restCond(bindRest(rest, &qargs))
		coveredPh := ""
		if len(covered) > 0 {
			qargs = append(qargs, covered)
			coveredPh = "$" + strconv.Itoa(len(qargs))
		}
		rows, err := tx.Query(ctx, retentionSQL(&f, in, coveredPh), qargs...)
		if err != nil {
			return err
		}
		var (
			d     time.Time
			n     int64
			backs [3]int64
		)
		_, err = pgx.ForEachRow(rows, []any{&d, &n, &backs[0], &backs[1], &backs[2]}, func() error {
			i, ok := index[d.Unix()]
			if !ok {
				return nil
			}
			c := &out.Cohorts[i]
			c.Players = n
			for j, nd := range retentionDays {
				c.Returned[strconv.Itoa(nd)] = &returned{Players: backs[j]}
			}
			return nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	today := h.cfg.Now().UTC().Truncate(dayLen)
	for i := range out.Cohorts {
		c := &out.Cohorts[i]
		for _, nd := range retentionDays {
			k := strconv.Itoa(nd)
			if time.Time(c.Day).Add(time.Duration(nd) * dayLen).After(today) {
				c.Returned[k] = nil
				continue
			}
			if c.Returned[k] == nil {
				c.Returned[k] = &returned{}
			}
			c.Returned[k].Rate = ratio(c.Returned[k].Players, c.Players)
		}
	}
	return out, nil
}
