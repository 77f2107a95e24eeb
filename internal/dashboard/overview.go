package dashboard

import (
	"context"
	"net/url"
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

// activitySQL is every event of the app in [$2, $3) as (player, session,
// time): what "active" means on every view.
const activitySQL = `
	SELECT player_id, NULL::text AS session_id, "timestamp" AS ts FROM player_events
		WHERE app_id = $1 AND "timestamp" >= $2 AND "timestamp" < $3
	UNION ALL SELECT player_id, session_id, "timestamp" FROM funnel_steps
		WHERE app_id = $1 AND "timestamp" >= $2 AND "timestamp" < $3
	UNION ALL SELECT player_id, session_id, "timestamp" FROM gameplay_events
		WHERE app_id = $1 AND "timestamp" >= $2 AND "timestamp" < $3
	UNION ALL SELECT player_id, session_id, timestamp_start FROM trajectories
		WHERE app_id = $1 AND timestamp_start >= $2 AND timestamp_start < $3`

func (h *Handler) viewOverview(ctx context.Context, app uuid.UUID, q url.Values) (any, error) {
	rg, err := h.parseRange(q)
	if err != nil {
		return nil, err
	}
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
	err = h.readTx(ctx, func(tx pgx.Tx) error {
		for _, k := range kinds {
			rows, err := tx.Query(ctx, `SELECT date_trunc('day', `+k.ts+` AT TIME ZONE 'UTC') AS d, count(*)
				FROM `+k.table+` WHERE app_id = $1 AND `+k.ts+` >= $2 AND `+k.ts+` < $3 GROUP BY 1`, app, rg.From, rg.To)
			if err != nil {
				return err
			}
			var (
				d time.Time
				n int64
			)
			_, err = pgx.ForEachRow(rows, []any{&d, &n}, func() error {
				if od := at(d); od != nil {
					od.Events[k.name] = n
				}
				out.Totals.Events[k.name] += n
				return nil
			})
			if err != nil {
				return err
			}
		}

		// Active players and sessions per day, and over the whole range (the
		// empty grouping set, where d is NULL).
		rows, err := tx.Query(ctx, `SELECT date_trunc('day', ts AT TIME ZONE 'UTC') AS d,
				count(DISTINCT player_id), count(DISTINCT (player_id, session_id)) FILTER (WHERE session_id IS NOT NULL)
			FROM (`+activitySQL+`) a GROUP BY GROUPING SETS ((1), ())`, app, rg.From, rg.To)
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

		rows, err = tx.Query(ctx, `SELECT date_trunc('day', first_seen AT TIME ZONE 'UTC'), count(*) FROM players
			WHERE app_id = $1 AND first_seen >= $2 AND first_seen < $3 GROUP BY 1`, app, rg.From, rg.To)
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

		rows, err = tx.Query(ctx, `SELECT event_name, count(*), count(DISTINCT player_id) FROM gameplay_events
			WHERE app_id = $1 AND "timestamp" >= $2 AND "timestamp" < $3
			GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20`, app, rg.From, rg.To)
		if err != nil {
			return err
		}
		if out.TopEvents, err = pgx.CollectRows(rows, pgx.RowToStructByPos[eventCount]); err != nil {
			return err
		}

		// Dead letters carry the app only in their subject.
		return tx.QueryRow(ctx, `SELECT count(*) FROM dead_letters
			WHERE received_at >= $2 AND received_at < $3 AND subject LIKE 'telemetry.' || $1::text || '.%'`,
			app, rg.From, rg.To).Scan(&out.Totals.DeadLettered)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
