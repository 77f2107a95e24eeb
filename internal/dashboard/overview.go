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

// overviewView is GET /dashboard/api/overview.
type overviewView struct {
	timeRange
	Totals overviewTotals `json:"totals"`
	// Days has one entry per UTC day of the range, zeros included.
	Days []overviewDay `json:"days"`
	// TopEvents are the most frequent gameplay event names (at most 20).
	TopEvents []eventCount `json:"top_events"`
	// RollupDays is how many whole days the event counts were read from
	// the daily rollups rather than raw rows.
	RollupDays int `json:"rollup_days"`
	// Rejected are the events the api refused (readRejected).
	Rejected rejectedEvents `json:"rejected"`
}

type overviewTotals struct {
	Events        map[string]int64 `json:"events"`
	ActivePlayers int64            `json:"active_players"`
	NewPlayers    int64            `json:"new_players"`
	Sessions      int64            `json:"sessions"`
	DeadLettered  int64            `json:"dead_lettered"`
}

type overviewDay struct {
	Day           day              `json:"day"`
	Events        map[string]int64 `json:"events"`
	ActivePlayers int64            `json:"active_players"`
	NewPlayers    int64            `json:"new_players"`
	Sessions      int64            `json:"sessions"`
}

type eventCount struct {
	Name    string `json:"name"`
	Events  int64  `json:"events"`
	Players int64  `json:"players"`
}

// kinds are the telemetry kinds as the overview names them, with their
// table and time column.
var kinds = []struct{ name, table, ts string }{
	{"player", "player_events", `"timestamp"`},
	{"funnel", "funnel_steps", `"timestamp"`},
	{"gameplay", "gameplay_events", `"timestamp"`},
	{"realtime", "trajectories", "timestamp_start"},
}

// activitySQL is every event of the app in [$2, $3) that passes f, as
// (player, session, time): what "active" means on every view. in, when
// set, narrows each table's time column further.
func activitySQL(f *filters, in func(col string) string) string {
	and := func(col string) string {
		if in == nil {
			return ""
		}
		return " AND " + in(col)
	}
	return `
	SELECT x.player_id, NULL::text AS session_id, x."timestamp" AS ts FROM player_events x
		WHERE x.app_id = $1 AND x."timestamp" >= $2 AND x."timestamp" < $3` + and(`x."timestamp"`) + f.where("player_events", "x") + `
	UNION ALL SELECT x.player_id, x.session_id, x."timestamp" FROM funnel_steps x
		WHERE x.app_id = $1 AND x."timestamp" >= $2 AND x."timestamp" < $3` + and(`x."timestamp"`) + f.where("funnel_steps", "x") + `
	UNION ALL SELECT x.player_id, x.session_id, x."timestamp" FROM gameplay_events x
		WHERE x.app_id = $1 AND x."timestamp" >= $2 AND x."timestamp" < $3` + and(`x."timestamp"`) + f.where("gameplay_events", "x") + `
	UNION ALL SELECT x.player_id, x.session_id, x.timestamp_start FROM trajectories x
		WHERE x.app_id = $1 AND x.timestamp_start >= $2 AND x.timestamp_start < $3` + and("x.timestamp_start") + f.where("trajectories", "x")
}

func (h *Handler) viewOverview(ctx context.Context, app uuid.UUID, q url.Values) (any, error) {
	rg, err := h.parseRange(q)
	if err != nil {
		return nil, err
	}
	f, err := parseFilters(q)
	if err != nil {
		return nil, err
	}
	args := []any{app, rg.From, rg.To}
	f.bind(&args)
	out := &overviewView{timeRange: rg, TopEvents: []eventCount{}}
	out.Totals.Events = map[string]int64{}
	index := map[int64]int{}
	for i, d := range rg.days() {
		index[d.Unix()] = i
		ev := map[string]int64{}
		for _, k := range kinds {
			ev[k.name] = 0
			out.Totals.Events[k.name] = 0
		}
		out.Days = append(out.Days, overviewDay{Day: day(d), Events: ev})
	}
	at := func(d time.Time) *overviewDay {
		if i, ok := index[d.Unix()]; ok {
			return &out.Days[i]
		}
		return nil
	}
	// Event counts come from the daily rollups for the whole days they
	// cover, when the filters are ones the rollups keep.
	useRollups := f.only("build_id", "region")
	addCount := func(d time.Time, kind string, n int64) {
		if od := at(d); od != nil {
			od.Events[kind] += n
		}
		out.Totals.Events[kind] += n
	}
	err = h.readTx(ctx, func(tx pgx.Tx) error {
		covered, rest := []time.Time(nil), []timeRange{rg}
		if useRollups {
			var err error
			if covered, rest, err = rollupPlan(ctx, tx, app, rg); err != nil {
				return err
			}
			out.RollupDays = len(covered)
		}
		for _, k := range kinds {
			if len(rest) == 0 {
				break
			}
			kargs := slices.Clone(args)
			in := restWhere("x."+k.ts, rest, &kargs)
			rows, err := tx.Query(ctx, `SELECT date_trunc('day', x.`+k.ts+` AT TIME ZONE 'UTC') AS d, count(*)
				FROM `+k.table+` x WHERE x.app_id = $1 AND x.`+k.ts+` >= $2 AND x.`+k.ts+` < $3 AND `+in+f.where(k.table, "x")+`
				GROUP BY 1`, kargs...)
			if err != nil {
				return err
			}
			var (
				d time.Time
				n int64
			)
			_, err = pgx.ForEachRow(rows, []any{&d, &n}, func() error {
				addCount(d, k.name, n)
				return nil
			})
			if err != nil {
				return err
			}
		}
		if len(covered) > 0 {
			rargs := append(slices.Clone(args), covered)
			rows, err := tx.Query(ctx, `SELECT r.day, r.kind, sum(r.events)::bigint FROM dashboard_daily_counts r
				WHERE r.app_id = $1 AND r.day >= ($2::timestamptz AT TIME ZONE 'UTC')::date AND r.day <= ($3::timestamptz AT TIME ZONE 'UTC')::date
					AND r.day = ANY($`+strconv.Itoa(len(rargs))+`::date[])`+f.rollupWhere()+`
				GROUP BY 1, 2`, rargs...)
			if err != nil {
				return err
			}
			var (
				d    time.Time
				kind string
				n    int64
			)
			if _, err = pgx.ForEachRow(rows, []any{&d, &kind, &n}, func() error {
				addCount(d, kind, n)
				return nil
			}); err != nil {
				return err
			}
		}

		// Active players and sessions per day, and over the whole range (the
		// empty grouping set, where d is NULL). The rows are first reduced
		// to distinct (day, player, session), which a hash aggregate does
		// without sorting every event.
		// Rolled-up days read their distinct (player, session) rows from
		// the daily sessions rollup.
		aargs := slices.Clone(args)
		in := restCond(bindRest(rest, &aargs))
		fromRollups := ""
		if len(covered) > 0 {
			aargs = append(aargs, covered)
			fromRollups = `SELECT r.day::timestamp AS d, r.player_id, r.session_id FROM dashboard_daily_sessions r
				WHERE r.app_id = $1 AND r.day >= ($2::timestamptz AT TIME ZONE 'UTC')::date AND r.day <= ($3::timestamptz AT TIME ZONE 'UTC')::date
					AND r.day = ANY($` + strconv.Itoa(len(aargs)) + `::date[])` + f.rollupWhere() + `
				UNION ALL `
		}
		rows, err := tx.Query(ctx, `SELECT d, count(DISTINCT player_id),
				count(DISTINCT (player_id, session_id)) FILTER (WHERE session_id IS NOT NULL)
			FROM (
				SELECT d, player_id, session_id FROM (`+fromRollups+`
					SELECT date_trunc('day', ts AT TIME ZONE 'UTC') AS d, player_id, session_id
					FROM (`+activitySQL(&f, in)+`) a
				) u GROUP BY 1, 2, 3
			) ds GROUP BY GROUPING SETS ((1), ())`, aargs...)
		if err != nil {
			return err
		}
		var (
			d                 *time.Time
			players, sessions int64
		)
		_, err = pgx.ForEachRow(rows, []any{&d, &players, &sessions}, func() error {
			if d == nil {
				out.Totals.ActivePlayers, out.Totals.Sessions = players, sessions
			} else if od := at(*d); od != nil {
				od.ActivePlayers, od.Sessions = players, sessions
			}
			return nil
		})
		if err != nil {
			return err
		}

		rows, err = tx.Query(ctx, `SELECT date_trunc('day', p.first_seen AT TIME ZONE 'UTC'), count(*) FROM players p
			WHERE p.app_id = $1 AND p.first_seen >= $2 AND p.first_seen < $3`+newPlayersWhere(&f)+` GROUP BY 1`, args...)
		if err != nil {
			return err
		}
		var nd time.Time
		_, err = pgx.ForEachRow(rows, []any{&nd, &players}, func() error {
			if od := at(nd); od != nil {
				od.NewPlayers = players
			}
			out.Totals.NewPlayers += players
			return nil
		})
		if err != nil {
			return err
		}

		// Per (name, player) first, by hash, then per name.
		rows, err = tx.Query(ctx, `SELECT event_name, sum(n)::bigint, count(*) FROM (
				SELECT x.event_name, x.player_id, count(*) AS n FROM gameplay_events x
				WHERE x.app_id = $1 AND x."timestamp" >= $2 AND x."timestamp" < $3`+f.where("gameplay_events", "x")+`
				GROUP BY 1, 2
			) np GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20`, args...)
		if err != nil {
			return err
		}
		if out.TopEvents, err = pgx.CollectRows(rows, pgx.RowToStructByPos[eventCount]); err != nil {
			return err
		}

		// Dead letters carry the app only in their subject, and no build,
		// region, input method or level: the filters leave them alone.
		return tx.QueryRow(ctx, `SELECT count(*) FROM dead_letters
			WHERE received_at >= $2 AND received_at < $3 AND subject LIKE 'telemetry.' || $1::text || '.%'`,
			app, rg.From, rg.To).Scan(&out.Totals.DeadLettered)
	})
	if err != nil {
		return nil, err
	}
	if err := h.readTx(ctx, func(tx pgx.Tx) error { return readRejected(ctx, tx, app, rg, &out.Rejected) }); err != nil {
		return nil, err
	}
	return out, nil
}

// newPlayersWhere filters the players row p of a new player: by its build
// and region, and, under an input method or level filter, to players with
// a matching event in the range.
func newPlayersWhere(f *filters) string {
	var b strings.Builder
	if ph, ok := f.ph["build_id"]; ok {
		b.WriteString(" AND p.build_id = " + ph)
	}
	if ph, ok := f.ph["region"]; ok {
		b.WriteString(" AND p.region = " + ph)
	}
	if f.InputMethod != nil || f.LevelID != nil {
		b.WriteString(" AND p.player_id IN (SELECT a.player_id FROM (" + activitySQL(f, nil) + ") a)")
	}
	return b.String()
}
