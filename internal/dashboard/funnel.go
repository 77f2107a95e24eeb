package dashboard

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Bounds of a funnel request.
const (
	maxFunnelSteps  = 10
	maxStepNameLen  = 256
	maxFunnelGroups = 50
	// maxStepNames is how many step names funnel/steps lists.
	maxStepNames  = 200
	defaultWindow = time.Hour
	maxWindow     = 30 * 24 * time.Hour
)

// funnelBreakdowns are the funnel's by values.
var funnelBreakdowns = []string{"build_id", "region", "input_method"}

// funnelView is GET /dashboard/api/funnel (docs/dashboard.md, "Funnels").
type funnelView struct {
	timeRange
	Window string `json:"window"`
	// Per is what is counted: "player" or "session".
	Per string `json:"per"`
	// By is the breakdown (build_id, region or input_method), empty for
	// none.
	By string `json:"by,omitempty"`
	// Steps is the whole funnel when By is empty.
	Steps []funnelStep `json:"steps,omitempty"`
	// Groups is one funnel per value of By, the largest first.
	Groups []funnelGroup `json:"groups,omitempty"`
}

type funnelGroup struct {
	// Value is the breakdown's value for the entering step; null when it
	// had none.
	Value *string      `json:"value"`
	Steps []funnelStep `json:"steps"`
}

// funnelStep is one step's result. Players counts sessions when the funnel
// is counted per session.
type funnelStep struct {
	Name                   string   `json:"name"`
	Players                int64    `json:"players"`
	DropOff                int64    `json:"drop_off"`
	ConversionFromFirst    *float64 `json:"conversion_from_first"`
	ConversionFromPrevious *float64 `json:"conversion_from_previous"`
	MedianSeconds          *float64 `json:"median_seconds"`
	P90Seconds             *float64 `json:"p90_seconds"`
}

// funnelRow is one (group, step) row of the funnel query.
type funnelRow struct {
	Group  *string
	Step   int
	Count  int64
	Median *float64
	P90    *float64
}

func parseSteps(q url.Values) ([]string, error) {
	v := q.Get("steps")
	if strings.TrimSpace(v) == "" {
		return nil, badParam("steps", "is required: a comma-separated list of funnel step names, in order")
	}
	steps := strings.Split(v, ",")
	if len(steps) > maxFunnelSteps {
		return nil, badParam("steps", fmt.Sprintf("at most %d steps", maxFunnelSteps))
	}
	for i, s := range steps {
		s = strings.TrimSpace(s)
		switch {
		case s == "":
			return nil, badParam("steps", fmt.Sprintf("step %d is empty", i+1))
		case len(s) > maxStepNameLen:
			return nil, badParam("steps", fmt.Sprintf("step %d is longer than %d bytes", i+1, maxStepNameLen))
		case slices.Contains(steps[:i], s):
			return nil, badParam("steps", fmt.Sprintf("step %q is named twice", s))
		}
		steps[i] = s
	}
	return steps, nil
}

// funnelSQL builds the query for n steps. $1 app, $2 from, $3 to, $4 the
// step names, $5 the window in seconds.
//
// Each unit (player, or player and session) enters at its first step-1
// event in [from, to). Step k is the unit's earliest step-k event at or
// after the time it reached step k-1 and at most the window after it
// entered. So steps out of order do not count, a repeated step counts
// once (its first time), and later steps may fall after to, within the
// window.
func funnelSQL(n int, per, by string, f *filters) string {
	sess := "''"
	if per == "session" {
		sess = "coalesce(x.session_id, '')"
	}
	grp := "NULL::text"
	if by != "" {
		grp = dimension(by, "funnel_steps", "e")
	}
	var b strings.Builder
	fmt.Fprintf(&b, `WITH ev AS MATERIALIZED (
	SELECT x.player_id AS p, %s AS s, x.funnel_step_name AS step, x."timestamp" AS ts, x.build_id, x.session_id AS sid, x.input_method
	FROM funnel_steps x
	WHERE x.app_id = $1 AND x."timestamp" >= $2 AND x."timestamp" < $3::timestamptz + $5::float8 * interval '1 second'
		AND x.funnel_step_name = ANY($4::text[])%s
),
s1 AS (
	SELECT e.p, e.s, e.t, e.t1, %s AS grp, NULL::float8 AS dt
	FROM (
		SELECT DISTINCT ON (p, s) p, s, ts AS t, ts AS t1,
			$1::uuid AS app_id, p AS player_id, sid AS session_id, ts AS "timestamp", build_id, input_method
		FROM ev WHERE step = ($4::text[])[1] AND ts < $3 ORDER BY p, s, ts
	) e
)`, sess, f.where("funnel_steps", "x"), grp)
	for k := 2; k <= n; k++ {
		fmt.Fprintf(&b, `,
s%d AS (
	SELECT prev.p, prev.s, min(ev.ts) AS t, prev.t1, prev.grp, extract(epoch FROM min(ev.ts) - prev.t)::float8 AS dt
	FROM s%d prev JOIN ev ON ev.p = prev.p AND ev.s = prev.s AND ev.step = ($4::text[])[%d]
		AND ev.ts >= prev.t AND ev.ts <= prev.t1 + $5::float8 * interval '1 second'
	GROUP BY prev.p, prev.s, prev.t, prev.t1, prev.grp
)`, k, k-1, k)
	}
	b.WriteString(`
SELECT grp, k, count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY dt), percentile_cont(0.9) WITHIN GROUP (ORDER BY dt)
FROM (`)
	for k := 1; k <= n; k++ {
		if k > 1 {
			b.WriteString(" UNION ALL ")
		}
		fmt.Fprintf(&b, "SELECT grp, %d AS k, dt FROM s%d", k, k)
	}
	b.WriteString(") x GROUP BY grp, k")
	return b.String()
}

func (h *Handler) viewFunnel(ctx context.Context, app uuid.UUID, q url.Values) (any, error) {
	rg, err := h.parseRange(q)
	if err != nil {
		return nil, err
	}
	steps, err := parseSteps(q)
	if err != nil {
		return nil, err
	}
	window, err := parseDuration(q, "window", defaultWindow, time.Second, maxWindow)
	if err != nil {
		return nil, err
	}
	per, err := parseChoice(q, "per", "player", "player", "session")
	if err != nil {
		return nil, err
	}
	by, err := parseChoice(q, "by", "", funnelBreakdowns...)
	if err != nil {
		return nil, err
	}
	f, err := parseFilters(q)
	if err != nil {
		return nil, err
	}
	args := []any{app, rg.From, rg.To, steps, window.Seconds()}
	f.bind(&args)
	var rows []funnelRow
	err = h.readTx(ctx, func(tx pgx.Tx) error {
		// Postgres cannot estimate how many units reach each step and
		// expects one, which makes it loop over the events once per unit:
		// hash joins are the right plan at every size.
		if _, err := tx.Exec(ctx, "SELECT set_config('enable_nestloop', 'off', true)"); err != nil {
			return err
		}
		r, err := tx.Query(ctx, funnelSQL(len(steps), per, by, &f), args...)
		if err != nil {
			return err
		}
		rows, err = pgx.CollectRows(r, pgx.RowToStructByPos[funnelRow])
		return err
	})
	if err != nil {
		return nil, err
	}
	out := &funnelView{timeRange: rg, Window: window.String(), Per: per, By: by}
	groups := funnelGroups(steps, rows)
	if by == "" {
		out.Steps = groups[0].Steps
		return out, nil
	}
	out.Groups = groups[1:]
	if len(out.Groups) > maxFunnelGroups {
		out.Groups = out.Groups[:maxFunnelGroups]
	}
	return out, nil
}

// funnelGroups turns the query's rows into funnels. The first entry is the
// ungrouped funnel (every step, zeros included); the rest are the groups,
// the most entered first.
func funnelGroups(steps []string, rows []funnelRow) []funnelGroup {
	type key struct {
		null bool
		v    string
	}
	byKey := map[key]*funnelGroup{}
	var order []key
	get := func(g *string) *funnelGroup {
		k := key{null: g == nil}
		if g != nil {
			k.v = *g
		}
		if fg, ok := byKey[k]; ok {
			return fg
		}
		fg := &funnelGroup{Value: g, Steps: make([]funnelStep, len(steps))}
		for i, s := range steps {
			fg.Steps[i].Name = s
		}
		byKey[k] = fg
		order = append(order, k)
		return fg
	}
	total := &funnelGroup{Steps: make([]funnelStep, len(steps))}
	for i, s := range steps {
		total.Steps[i].Name = s
	}
	for _, r := range rows {
		st := &get(r.Group).Steps[r.Step-1]
		st.Players, st.MedianSeconds, st.P90Seconds = r.Count, r.Median, r.P90
		total.Steps[r.Step-1] = *st // with no breakdown there is one group, the NULL one
	}
	out := []funnelGroup{*finishFunnel(total)}
	for _, k := range order {
		out = append(out, *finishFunnel(byKey[k]))
	}
	slices.SortStableFunc(out[1:], func(a, b funnelGroup) int { return cmp.Compare(b.Steps[0].Players, a.Steps[0].Players) })
	return out
}

// finishFunnel fills each step's conversions and drop-off from the counts.
func finishFunnel(g *funnelGroup) *funnelGroup {
	for i := range g.Steps {
		st := &g.Steps[i]
		st.ConversionFromFirst = ratio(st.Players, g.Steps[0].Players)
		if i == 0 {
			st.ConversionFromPrevious = ratio(st.Players, st.Players)
			continue
		}
		st.ConversionFromPrevious = ratio(st.Players, g.Steps[i-1].Players)
		st.DropOff = g.Steps[i-1].Players - st.Players
	}
	return g
}

// funnelStepsView is GET /dashboard/api/funnel/steps: the app's step names
// in the range, to pick a funnel from.
type funnelStepsView struct {
	timeRange
	Steps []eventCount `json:"steps"`
}

func (h *Handler) viewFunnelSteps(ctx context.Context, app uuid.UUID, q url.Values) (any, error) {
	rg, err := h.parseRange(q)
	if err != nil {
		return nil, err
	}
	f, err := parseFilters(q)
	if err != nil {
		return nil, err
	}
	r := &rolled{f: &f, args: []any{app, rg.From, rg.To}}
	f.bind(&r.args)
	out := &funnelStepsView{timeRange: rg}
	err = h.readTx(ctx, func(tx pgx.Tx) error {
		r.tx = tx
		if err := r.plan(ctx, app, rg); err != nil {
			return err
		}
		if r.run {
			out.Steps, err = r.namesFromFirsts(ctx, namedKinds[1], maxStepNames)
		} else {
			out.Steps, err = r.nameCounts(ctx, namedKinds[1], maxStepNames)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
