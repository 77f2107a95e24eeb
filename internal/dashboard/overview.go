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

// maxTopEvents is how many gameplay event names the overview ranks.
const maxTopEvents = 20

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
	o := &overview{rolled: rolled{f: &f, args: []any{app, rg.From, rg.To}}, index: map[int64]int{},
		out: &overviewView{timeRange: rg, TopEvents: []eventCount{}}}
	f.bind(&o.args)
	o.out.Totals.Events = map[string]int64{}
	for i, d := range rg.days() {
		o.index[d.Unix()] = i
		ev := map[string]int64{}
		for _, k := range kinds {
			ev[k.name] = 0
			o.out.Totals.Events[k.name] = 0
		}
		o.out.Days = append(o.out.Days, overviewDay{Day: day(d), Events: ev})
	}
	err = h.readTx(ctx, func(tx pgx.Tx) error {
		o.tx = tx
		if err := o.plan(ctx, app, rg); err != nil {
			return err
		}
		o.out.RollupDays = len(o.covered)
		steps := []func(context.Context) error{o.eventCounts, o.active, o.newPlayers, o.topEvents, o.deadLetters}
		if o.run {
			steps = []func(context.Context) error{o.eventCounts, o.activeFromFirsts, o.newPlayers, o.topEventsFromFirsts, o.deadLetters}
		}
		for _, step := range steps {
			if err := step(ctx); err != nil {
				return err
			}
		}
		return readRejected(ctx, tx, app, rg, &o.out.Rejected)
	})
	if err != nil {
		return nil, err
	}
	return o.out, nil
}

// rolled is a view's range split for the rollups: its arguments ($1 app,
// $2 from, $3 to, then the filters), the whole days the rollups cover and
// the rest, read raw; when the covered days are one run (firstsRun), its
// first and last day.
type rolled struct {
	tx          pgx.Tx
	f           *filters
	args        []any
	covered     []time.Time
	rest        []timeRange
	first, last time.Time
	run         bool
}

// plan splits rg (rollupPlan) when the filters are ones the rollups keep
// (build, region); otherwise all of rg is the rest.
func (r *rolled) plan(ctx context.Context, app uuid.UUID, rg timeRange) error {
	r.rest = []timeRange{rg}
	if !r.f.only("build_id", "region") {
		return nil
	}
	var err error
	if r.covered, r.rest, err = rollupPlan(ctx, r.tx, app, rg); err != nil {
		return err
	}
	r.first, r.last, r.run = firstsRun(r.covered)
	return nil
}

// overview is one overview request's state.
type overview struct {
	rolled
	out   *overviewView
	index map[int64]int
}

// at is the answer's day d; nil when d is outside the range.
func (o *overview) at(d time.Time) *overviewDay {
	if i, ok := o.index[d.Unix()]; ok {
		return &o.out.Days[i]
	}
	return nil
}

// withRest is a copy of args with the rest's bounds bound, and their
// condition on a time column.
func (r *rolled) withRest(args []any) ([]any, func(col string) string) {
	args = slices.Clone(args)
	return args, restCond(bindRest(r.rest, &args))
}

// withCovered is a copy of args with the covered days bound, and the
// condition on a rollup row r of being on one of them and passing the
// filters.
func (r *rolled) withCovered(args []any) ([]any, string) {
	args = append(slices.Clone(args), r.covered)
	return args, `r.app_id = $1 AND r.day >= ($2::timestamptz AT TIME ZONE 'UTC')::date AND r.day <= ($3::timestamptz AT TIME ZONE 'UTC')::date
		AND r.day = ANY($` + strconv.Itoa(len(args)) + `::date[])` + r.f.rollupWhere()
}

// withRun is a copy of args with the covered run's first and last day
// bound, and the condition on a rollup row r of lying in it and passing
// the filters.
func (r *rolled) withRun(args []any) ([]any, string) {
	args = append(slices.Clone(args), r.first, r.last)
	return args, `r.app_id = $1 AND r.day >= ($2::timestamptz AT TIME ZONE 'UTC')::date AND r.day <= ($3::timestamptz AT TIME ZONE 'UTC')::date
		AND r.day >= $` + strconv.Itoa(len(args)-1) + ` AND r.day <= $` + strconv.Itoa(len(args)) + r.f.rollupWhere()
}

// eventCounts counts the events per kind and day: the rest raw, the
// covered days from dashboard_daily_counts.
func (o *overview) eventCounts(ctx context.Context) error {
	add := func(d time.Time, kind string, n int64) {
		if od := o.at(d); od != nil {
			od.Events[kind] += n
		}
		o.out.Totals.Events[kind] += n
	}
	var (
		d    time.Time
		kind string
		n    int64
	)
	for _, k := range kinds {
		if len(o.rest) == 0 {
			break
		}
		args, in := o.withRest(o.args)
		rows, err := o.tx.Query(ctx, `SELECT date_trunc('day', x.`+k.ts+` AT TIME ZONE 'UTC') AS d, count(*)
			FROM `+k.table+` x WHERE x.app_id = $1 AND x.`+k.ts+` >= $2 AND x.`+k.ts+` < $3 AND `+in("x."+k.ts)+o.f.where(k.table, "x")+`
			GROUP BY 1`, args...)
		if err != nil {
			return err
		}
		if _, err = pgx.ForEachRow(rows, []any{&d, &n}, func() error {
			add(d, k.name, n)
			return nil
		}); err != nil {
			return err
		}
	}
	if len(o.covered) == 0 {
		return nil
	}
	args, covered := o.withCovered(o.args)
	rows, err := o.tx.Query(ctx, `SELECT r.day, r.kind, sum(r.events)::bigint FROM dashboard_daily_counts r
		WHERE `+covered+` GROUP BY 1, 2`, args...)
	if err != nil {
		return err
	}
	_, err = pgx.ForEachRow(rows, []any{&d, &kind, &n}, func() error {
		add(d, kind, n)
		return nil
	})
	return err
}

// setActive records a day's active players and sessions, or the range's
// when d is nil.
func (o *overview) setActive(d *time.Time, players, sessions int64) {
	if d == nil {
		o.out.Totals.ActivePlayers, o.out.Totals.Sessions = players, sessions
	} else if od := o.at(*d); od != nil {
		od.ActivePlayers, od.Sessions = players, sessions
	}
}

// active counts the active players and sessions per day, and over the
// whole range (the empty grouping set, where d is NULL), from the distinct
// (day, player, session) rows: the covered days' from the daily sessions
// rollup, the rest's raw. A hash aggregate reduces them without sorting
// every event.
func (o *overview) active(ctx context.Context) error {
	args, in := o.withRest(o.args)
	fromRollups := ""
	if len(o.covered) > 0 {
		var covered string
		args, covered = o.withCovered(args)
		fromRollups = `SELECT r.day::timestamp AS d, r.player_id, r.session_id FROM dashboard_daily_sessions r WHERE ` + covered + `
			UNION ALL `
	}
	rows, err := o.tx.Query(ctx, `SELECT d, count(DISTINCT player_id),
			count(DISTINCT (player_id, session_id)) FILTER (WHERE session_id IS NOT NULL)
		FROM (
			SELECT d, player_id, session_id FROM (`+fromRollups+`
				SELECT date_trunc('day', ts AT TIME ZONE 'UTC') AS d, player_id, session_id
				FROM (`+activitySQL(o.f, in)+`) a
			) u GROUP BY 1, 2, 3
		) ds GROUP BY GROUPING SETS ((1), ())`, args...)
	if err != nil {
		return err
	}
	var (
		d                 *time.Time
		players, sessions int64
	)
	_, err = pgx.ForEachRow(rows, []any{&d, &players, &sessions}, func() error {
		o.setActive(d, players, sessions)
		return nil
	})
	return err
}

// newPlayers counts the players first seen per day (the players table).
func (o *overview) newPlayers(ctx context.Context) error {
	rows, err := o.tx.Query(ctx, `SELECT date_trunc('day', p.first_seen AT TIME ZONE 'UTC'), count(*) FROM players p
		WHERE p.app_id = $1 AND p.first_seen >= $2 AND p.first_seen < $3`+newPlayersWhere(o.f)+` GROUP BY 1`, o.args...)
	if err != nil {
		return err
	}
	var (
		d time.Time
		n int64
	)
	_, err = pgx.ForEachRow(rows, []any{&d, &n}, func() error {
		if od := o.at(d); od != nil {
			od.NewPlayers = n
		}
		o.out.Totals.NewPlayers += n
		return nil
	})
	return err
}

// topEvents ranks the gameplay event names (nameCounts).
func (o *overview) topEvents(ctx context.Context) error {
	var err error
	o.out.TopEvents, err = o.nameCounts(ctx, namedKinds[0], maxTopEvents)
	return err
}

// topEventsFromFirsts ranks the gameplay event names (namesFromFirsts).
func (o *overview) topEventsFromFirsts(ctx context.Context) error {
	var err error
	o.out.TopEvents, err = o.namesFromFirsts(ctx, namedKinds[0], maxTopEvents)
	return err
}

// deadLetters counts the app's dead letters. They carry the app only in
// their subject, and no build, region, input method or level: the filters
// leave them alone.
func (o *overview) deadLetters(ctx context.Context) error {
	return o.tx.QueryRow(ctx, `SELECT count(*) FROM dead_letters
		WHERE received_at >= $2 AND received_at < $3 AND subject LIKE 'telemetry.' || $1::text || '.%'`,
		o.args[:3]...).Scan(&o.out.Totals.DeadLettered)
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
