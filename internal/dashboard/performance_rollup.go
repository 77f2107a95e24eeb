package dashboard

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// fpsHist is one metric's 0.1-fps buckets: bucket b holds the values in
// [b/10, (b+1)/10).
type fpsHist struct {
	buckets []int // ascending
	counts  map[int]int64
	n       int64
	sum     float64
}

// add counts n more values in bucket b.
func (h *fpsHist) add(b int, n int64) {
	if h.counts == nil {
		h.counts = map[int]int64{}
	}
	if _, ok := h.counts[b]; !ok {
		h.buckets = append(h.buckets, b)
	}
	h.counts[b] += n
	h.n += n
}

// nth is the value of the i-th (0-based) smallest entry, taken as its
// bucket's lower bound.
func (h *fpsHist) nth(i int64) float64 {
	for _, b := range h.buckets {
		if i < h.counts[b] {
			return float64(b) / 10
		}
		i -= h.counts[b]
	}
	return float64(h.buckets[len(h.buckets)-1]) / 10
}

// stats are the metric's average and continuous percentiles, computed as
// Postgres's percentile_cont would over the values rounded down to 0.1 fps.
func (h *fpsHist) stats() fpsStats {
	if h.n == 0 {
		return fpsStats{}
	}
	slices.Sort(h.buckets)
	pct := func(q float64) float64 {
		pos := q * float64(h.n-1)
		lo := math.Floor(pos)
		a := h.nth(int64(lo))
		if pos == lo {
			return a
		}
		return a + (pos-lo)*(h.nth(int64(lo)+1)-a)
	}
	return fpsStats{Avg: h.sum / float64(h.n), P10: pct(0.1), P50: pct(0.5), P90: pct(0.9)}
}

// perfRollupServes reports whether the rollups can answer the performance
// view by by under f: by build, filtered at most by build and region (what
// dashboard_daily_fps keeps); by GPU or level, unfiltered.
func perfRollupServes(by string, f *filters) bool {
	if by == "build_id" {
		return f.only("build_id", "region")
	}
	return !f.set()
}

// perfRollupSQL is the query of performanceFromRollups: per group and
// metric, buckets (ascending) with their trajectories and the values' sum,
// one row per covered day (the placeholder covered) from the rollups and
// one for the raw trajectories of the rest (in), bucketed the same way.
// The covered days come from dashboard_daily_fps_by, or, under a region
// filter (by build only), from dashboard_daily_fps, which keeps the
// region. by is one of perfGroupExpr's keys, so it is written as a
// literal.
func perfRollupSQL(by, in, covered string, f *filters) string {
	days := ` AND r.day >= ($2::timestamptz AT TIME ZONE 'UTC')::date AND r.day <= ($3::timestamptz AT TIME ZONE 'UTC')::date
		AND r.day = ANY(` + covered + `::date[])`
	src := `SELECT r.value, r.metric, r.buckets, r.counts, r.fps_sum FROM dashboard_daily_fps_by r
	WHERE r.app_id = $1 AND r.dimension = '` + by + `'` + perfValueWhere(f) + days
	if f.Region != nil {
		src = `SELECT r.build_id, r.metric, array_agg(r.bucket ORDER BY r.bucket), array_agg(r.trajectories ORDER BY r.bucket), sum(r.fps_sum)
	FROM dashboard_daily_fps r
	WHERE r.app_id = $1` + f.rollupWhere() + days + `
	GROUP BY r.day, 1, 2`
	}
	return src + `
UNION ALL
SELECT grp, metric, array_agg(bucket ORDER BY bucket), array_agg(n ORDER BY bucket), sum(s) FROM (
	SELECT ` + perfGroupExpr[by] + ` AS grp, m.metric, ` + fmt.Sprintf(fpsBucketExpr, "m.v") + ` AS bucket, count(*) AS n, sum(m.v) AS s
	FROM trajectories x` + perfJoin(by) + `
	CROSS JOIN LATERAL (VALUES ('mean', x.fps_mean), ('low_5', x.fps_low_5), ('low_1', x.fps_low_1)) m (metric, v)
	WHERE x.app_id = $1 AND x.timestamp_start >= $2 AND x.timestamp_start < $3 AND ` + in + `
		AND x.fps_mean IS NOT NULL AND m.v IS NOT NULL` + f.where("trajectories", "x") + `
	GROUP BY 1, 2, 3
) b GROUP BY 1, 2`
}

// perfValueWhere is the build filter on a by-dimension rollup row r whose
// value is the build (perfRollupServes allows it by build only).
func perfValueWhere(f *filters) string {
	if ph, ok := f.ph["build_id"]; ok {
		return " AND r.value = " + ph
	}
	return ""
}

// perfPlayersSQL counts the distinct players per group: those of the
// covered days from dashboard_daily_perf_players and those of the raw
// trajectories in the rest, each pair once.
func perfPlayersSQL(by, in, covered string, f *filters) string {
	where := perfValueWhere(f)
	if ph, ok := f.ph["region"]; ok {
		where += " AND r.region = " + ph
	}
	return `SELECT grp, count(*) FROM (
	SELECT r.value AS grp, r.player_id FROM dashboard_daily_perf_players r
	WHERE r.app_id = $1 AND r.dimension = '` + by + `'` + where + `
		AND r.day >= ($2::timestamptz AT TIME ZONE 'UTC')::date AND r.day <= ($3::timestamptz AT TIME ZONE 'UTC')::date
		AND r.day = ANY(` + covered + `::date[])
	UNION
	SELECT ` + perfGroupExpr[by] + `, x.player_id FROM trajectories x` + perfJoin(by) + `
	WHERE x.app_id = $1 AND x.timestamp_start >= $2 AND x.timestamp_start < $3 AND ` + in + `
		AND x.fps_mean IS NOT NULL` + f.where("trajectories", "x") + `
) bp GROUP BY 1`
}

// perfFirstsSQL counts the distinct players per group when the covered
// days are one run [first, last]: the run's from dashboard_daily_firsts,
// plus those of the raw trajectories in the rest (in) the run has not seen
// in the group, one row each.
func perfFirstsSQL(by, in, first, last string, f *filters) string {
	grouping, where := "all", ""
	if ph, ok := f.ph["region"]; ok {
		grouping, where = "region", " AND r.region = "+ph
	}
	if ph, ok := f.ph["build_id"]; ok {
		where += " AND r.name = " + ph // by build only (perfRollupServes)
	}
	perfWhere := ""
	if ph, ok := f.ph["region"]; ok {
		perfWhere = " AND r.region = " + ph
	}
	return `SELECT r.name, coalesce(sum(r.items) FILTER (WHERE r.prev_day IS NULL OR r.prev_day < ` + first + `), 0)::bigint
	FROM dashboard_daily_firsts r
	WHERE r.app_id = $1 AND r.day >= ($2::timestamptz AT TIME ZONE 'UTC')::date AND r.day <= ($3::timestamptz AT TIME ZONE 'UTC')::date
		AND r.day >= ` + first + ` AND r.day <= ` + last + `
		AND r.grouping = '` + grouping + `' AND r.metric = 'perf_` + by + `'` + where + `
	GROUP BY 1
UNION ALL
SELECT p.grp, count(*) FROM (
	SELECT DISTINCT ` + perfGroupExpr[by] + ` AS grp, x.player_id FROM trajectories x` + perfJoin(by) + `
	WHERE x.app_id = $1 AND x.timestamp_start >= $2 AND x.timestamp_start < $3 AND ` + in + `
		AND x.fps_mean IS NOT NULL` + f.where("trajectories", "x") + `
) p
WHERE NOT EXISTS (SELECT 1 FROM dashboard_daily_perf_players r
	WHERE r.app_id = $1 AND r.player_id = p.player_id AND r.dimension = '` + by + `' AND r.value IS NOT DISTINCT FROM p.grp
		AND r.day >= ` + first + ` AND r.day <= ` + last + perfWhere + `)
GROUP BY 1`
}

// performanceFromRollups answers the performance view by by from the daily
// fps buckets and players for the whole days they cover and raw
// trajectories, bucketed the same way, for the rest of the range. It is
// used when perfRollupServes.
func (h *Handler) performanceFromRollups(ctx context.Context, tx pgx.Tx, app uuid.UUID, rg timeRange, by string, f *filters, args []any, out *performanceView) error {
	covered, rest, err := rollupPlan(ctx, tx, app, rg)
	if err != nil {
		return err
	}
	out.RollupDays = len(covered)
	if covered == nil {
		covered = []time.Time{}
	}
	bargs := slices.Clone(args)
	in := restWhere("x.timestamp_start", rest, &bargs)
	bargs = append(bargs, covered)
	cov := "$" + strconv.Itoa(len(bargs))
	rows, err := tx.Query(ctx, perfRollupSQL(by, in, cov, f), bargs...)
	if err != nil {
		return err
	}
	type group struct {
		value   *string
		metrics map[string]*fpsHist
	}
	groups := map[string]*group{}
	var (
		grp     *string
		metric  string
		buckets []int
		counts  []int64
		sum     float64
		n       int64
	)
	_, err = pgx.ForEachRow(rows, []any{&grp, &metric, &buckets, &counts, &sum}, func() error {
		key := groupKey(grp)
		g := groups[key]
		if g == nil {
			g = &group{value: grp, metrics: map[string]*fpsHist{"mean": {}, "low_5": {}, "low_1": {}}}
			groups[key] = g
		}
		h := g.metrics[metric]
		h.sum += sum
		for i, b := range buckets {
			h.add(b, counts[i])
			if metric == "mean" {
				out.Histogram[min(b/(10*fpsBucketWidth), fpsBuckets)].Trajectories += counts[i]
			}
		}
		return nil
	})
	if err != nil {
		return err
	}

	// Distinct players do not add up across days: the day's players are
	// rolled up, not their count, and over one run of days their firsts.
	players := map[string]int64{}
	q, qargs := perfPlayersSQL(by, in, cov, f), bargs
	if first, last, ok := firstsRun(covered); ok {
		qargs = append(slices.Clone(bargs[:len(bargs)-1]), first, last)
		q = perfFirstsSQL(by, in, "$"+strconv.Itoa(len(qargs)-1), "$"+strconv.Itoa(len(qargs)), f)
	}
	rows, err = tx.Query(ctx, q, qargs...)
	if err != nil {
		return err
	}
	if _, err = pgx.ForEachRow(rows, []any{&grp, &n}, func() error {
		players[groupKey(grp)] += n
		return nil
	}); err != nil {
		return err
	}

	for key, g := range groups {
		mean := g.metrics["mean"]
		var slow int64
		for b, c := range mean.counts {
			if b < slowFPS*10 {
				slow += c
			}
		}
		out.Groups = append(out.Groups, perfGroup{
			Value: g.value, Trajectories: mean.n, Players: players[key],
			FPSMean: mean.stats(), FPSLow5: g.metrics["low_5"].stats(), FPSLow1: g.metrics["low_1"].stats(),
			SlowShare: float64(slow) / float64(mean.n),
		})
	}
	// As the raw query orders them: the slowest median first, then by
	// value, unknown last.
	slices.SortFunc(out.Groups, func(a, b perfGroup) int {
		if c := cmp.Compare(a.FPSMean.P50, b.FPSMean.P50); c != 0 {
			return c
		}
		switch {
		case a.Value == nil && b.Value == nil:
			return 0
		case a.Value == nil:
			return 1
		case b.Value == nil:
			return -1
		}
		return cmp.Compare(*a.Value, *b.Value)
	})
	if len(out.Groups) > maxPerfGroups {
		out.Groups = out.Groups[:maxPerfGroups]
	}
	return nil
}

// groupKey is a group's map key: its value, or a key no value has for
// null.
func groupKey(v *string) string {
	if v == nil {
		return "\x00null"
	}
	return *v
}
