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

func (h *fpsHist) add(b int, n int64, sum float64) {
	if h.counts == nil {
		h.counts = map[int]int64{}
	}
	if _, ok := h.counts[b]; !ok {
		h.buckets = append(h.buckets, b)
	}
	h.counts[b] += n
	h.n += n
	h.sum += sum
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

// performanceFromRollups answers the performance view by build from the
// daily fps buckets for the whole days they cover and raw trajectories,
// bucketed the same way, for the rest of the range. It is used when the
// breakdown is by build and the filters are ones the rollups keep (build,
// region).
func (h *Handler) performanceFromRollups(ctx context.Context, tx pgx.Tx, app uuid.UUID, rg timeRange, f *filters, args []any, out *performanceView) error {
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
	rows, err := tx.Query(ctx, `WITH b AS (
	SELECT r.build_id AS grp, r.metric, r.bucket, r.trajectories AS n, r.fps_sum AS s FROM dashboard_daily_fps r
	WHERE r.app_id = $1 AND r.day >= ($2::timestamptz AT TIME ZONE 'UTC')::date AND r.day <= ($3::timestamptz AT TIME ZONE 'UTC')::date
		AND r.day = ANY($`+strconv.Itoa(len(bargs))+`::date[])`+f.rollupWhere()+`
	UNION ALL
	SELECT x.build_id, m.metric, `+fmt.Sprintf(fpsBucketExpr, "m.v")+`, 1, m.v
	FROM trajectories x
	CROSS JOIN LATERAL (VALUES ('mean', x.fps_mean), ('low_5', x.fps_low_5), ('low_1', x.fps_low_1)) m (metric, v)
	WHERE x.app_id = $1 AND x.timestamp_start >= $2 AND x.timestamp_start < $3 AND `+in+`
		AND x.fps_mean IS NOT NULL AND m.v IS NOT NULL`+f.where("trajectories", "x")+`
)
SELECT grp, metric, bucket, sum(n)::bigint, sum(s) FROM b GROUP BY 1, 2, 3`, bargs...)
	if err != nil {
		return err
	}
	type group struct {
		value   *string
		metrics map[string]*fpsHist
	}
	groups := map[string]*group{}
	var (
		grp    *string
		metric string
		bucket int
		n      int64
		sum    float64
	)
	_, err = pgx.ForEachRow(rows, []any{&grp, &metric, &bucket, &n, &sum}, func() error {
		key := "\x00null"
		if grp != nil {
			key = *grp
		}
		g := groups[key]
		if g == nil {
			g = &group{value: grp, metrics: map[string]*fpsHist{"mean": {}, "low_5": {}, "low_1": {}}}
			groups[key] = g
		}
		g.metrics[metric].add(bucket, n, sum)
		if metric == "mean" {
			out.Histogram[min(bucket/(10*fpsBucketWidth), fpsBuckets)].Trajectories += n
		}
		return nil
	})
	if err != nil {
		return err
	}

	// Distinct players do not add up across days: they are counted raw.
	players := map[string]int64{}
	rows, err = tx.Query(ctx, `SELECT build_id, count(*) FROM (
			SELECT x.build_id, x.player_id FROM trajectories x
			WHERE x.app_id = $1 AND x.timestamp_start >= $2 AND x.timestamp_start < $3 AND x.fps_mean IS NOT NULL`+f.where("trajectories", "x")+`
			GROUP BY 1, 2
		) bp GROUP BY 1`, args...)
	if err != nil {
		return err
	}
	if _, err = pgx.ForEachRow(rows, []any{&grp, &n}, func() error {
		key := "\x00null"
		if grp != nil {
			key = *grp
		}
		players[key] = n
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
