package dashboard

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// namedKind is a kind whose rows have a name the views rank (namedKinds).
type namedKind = struct{ kind, table, name string }

// nameCounts ranks the names of kind n in the range, by rows then name,
// at most limit: the rows and distinct players per name, per (name,
// player) first, by hash, then per name. The covered days' pairs come from
// dashboard_daily_name_players, the rest's from raw rows.
func (r *rolled) nameCounts(ctx context.Context, n namedKind, limit int) ([]eventCount, error) {
	args, in := r.withRest(r.args)
	fromRollups := ""
	if len(r.covered) > 0 {
		var covered string
		args, covered = r.withCovered(args)
		fromRollups = `SELECT r.name, r.player_id, r.events AS n FROM dashboard_daily_name_players r WHERE ` + covered + `
			AND r.kind = '` + n.kind + `'
			UNION ALL `
	}
	rows, err := r.tx.Query(ctx, `SELECT name, sum(n)::bigint, count(*) FROM (
			SELECT name, player_id, sum(n) AS n FROM (`+fromRollups+`
				SELECT x.`+n.name+` AS name, x.player_id, count(*) AS n FROM `+n.table+` x
				WHERE x.app_id = $1 AND x."timestamp" >= $2 AND x."timestamp" < $3 AND `+in(`x."timestamp"`)+r.f.where(n.table, "x")+`
				GROUP BY 1, 2
			) u GROUP BY 1, 2
		) np GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT `+strconv.Itoa(limit), args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[eventCount])
}

// namesFromFirsts is nameCounts when the covered days are one run: the
// run's rows and players per name from dashboard_daily_firsts, plus the
// rest's raw rows and the players the run has not seen with the name.
func (r *rolled) namesFromFirsts(ctx context.Context, n namedKind, limit int) ([]eventCount, error) {
	byName := map[string]*eventCount{}
	add := func(name string, events, players int64) {
		c := byName[name]
		if c == nil {
			c = &eventCount{Name: name}
			byName[name] = c
		}
		c.Events += events
		c.Players += players
	}
	args, q := r.firstsSQL("'" + firstsMetric[n.kind] + "'")
	rows, err := r.tx.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	var (
		day                   time.Time
		metric                string
		name                  *string
		items, firsts, events int64
	)
	if _, err := pgx.ForEachRow(rows, []any{&day, &metric, &name, &items, &firsts, &events}, func() error {
		add(*name, events, firsts)
		return nil
	}); err != nil {
		return nil, err
	}
	if len(r.rest) > 0 {
		args, in := r.withRest(r.args)
		args, _ = r.withRun(args)
		rows, err := r.tx.Query(ctx, `SELECT p.name, sum(p.n)::bigint, count(*) FILTER (WHERE `+
			r.notInRun(args, "dashboard_daily_name_players", " AND r.kind = '"+n.kind+"' AND r.name = p.name")+`)
			FROM (
				SELECT x.`+n.name+` AS name, x.player_id, count(*) AS n FROM `+n.table+` x
				WHERE x.app_id = $1 AND x."timestamp" >= $2 AND x."timestamp" < $3 AND `+in(`x."timestamp"`)+r.f.where(n.table, "x")+`
				GROUP BY 1, 2
			) p GROUP BY 1`, args...)
		if err != nil {
			return nil, err
		}
		var rn string
		if _, err := pgx.ForEachRow(rows, []any{&rn, &events, &firsts}, func() error {
			add(rn, events, firsts)
			return nil
		}); err != nil {
			return nil, err
		}
	}
	out := make([]eventCount, 0, len(byName))
	for _, c := range byName {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b eventCount) int {
		if c := cmp.Compare(b.Events, a.Events); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return out[:min(len(out), limit)], nil
}
