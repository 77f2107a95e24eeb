package dashboard

import (
	"context"
	"net/url"
	"strconv"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Bounds of the performance view.
const (
	maxPerfGroups = 100
	// fpsBucketWidth and fpsBuckets shape the fps_mean histogram: [0,10),
	// [10,20), ... and a last bucket for fpsBuckets*width and over.
	fpsBucketWidth = 10
	fpsBuckets     = 15
	// slowFPS is the frame rate under which a trajectory counts as slow.
	slowFPS = 30
)

// performanceView is GET /dashboard/api/performance (docs/dashboard.md,
// "Performance").
type performanceView struct {
	timeRange
	By string `json:"by"`
	// Groups are the values of By, the slowest median fps_mean first.
	Groups []perfGroup `json:"groups"`
	// Histogram counts trajectories by fps_mean over the whole range.
	Histogram []fpsBucket `json:"histogram"`
	// RollupDays is how many whole days were read from the daily fps
	// rollups rather than raw rows (see perfRollupServes).
	RollupDays int `json:"rollup_days"`
}

type perfGroup struct {
	// Value is the group's gpu, build or level; null when unknown.
	Value        *string  `json:"value"`
	Trajectories int64    `json:"trajectories"`
	Players      int64    `json:"players"`
	FPSMean      fpsStats `json:"fps_mean"`
	FPSLow5      fpsStats `json:"fps_low_5"`
	FPSLow1      fpsStats `json:"fps_low_1"`
	// SlowShare is the share of trajectories whose fps_mean is under 30.
	SlowShare float64 `json:"slow_share"`
}

// fpsStats summarises one fps column of a group.
type fpsStats struct {
	Avg float64 `json:"avg"`
	P10 float64 `json:"p10"`
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
}

type fpsBucket struct {
	// From is the bucket's lower bound; To its upper bound, null for the
	// last, open bucket.
	From         float64  `json:"from"`
	To           *float64 `json:"to"`
	Trajectories int64    `json:"trajectories"`
}

// perfGroupExpr is each breakdown's group expression for a trajectory x. A
// trajectory's GPU is its player's hardware.gpu (the players row, so the
// latest known, joined by perfJoin); its level is its level_id (sent by the
// client or attributed through its session, docs/dashboard.md, "A
// trajectory's level").
var perfGroupExpr = map[string]string{
	"build_id": "x.build_id",
	"gpu":      "pg.hardware->>'gpu'",
	"level_id": "x.level_id",
}

// perfJoin is what a trajectory x needs joined for breakdown by: the
// players row for the GPU, by a hash join on the app's players rather
// than a lookup per trajectory.
func perfJoin(by string) string {
	if by == "gpu" {
		return " LEFT JOIN players pg ON pg.app_id = x.app_id AND pg.player_id = x.player_id"
	}
	return ""
}

// perfStatsSQL is the average and the 10th, 50th and 90th percentiles of
// col, zeros when no row of the group has it (as fpsHist.stats).
func perfStatsSQL(col string) string {
	return `coalesce(avg(` + col + `), 0), coalesce(percentile_cont(ARRAY[0.1, 0.5, 0.9]) WITHIN GROUP (ORDER BY ` + col + `), ARRAY[0, 0, 0])`
}

func performanceSQL(by string, f *filters) string {
	return `WITH t AS (
	SELECT x.player_id, x.fps_mean, x.fps_low_5, x.fps_low_1, ` + perfGroupExpr[by] + ` AS grp
	FROM trajectories x` + perfJoin(by) + `
	WHERE x.app_id = $1 AND x.timestamp_start >= $2 AND x.timestamp_start < $3 AND x.fps_mean IS NOT NULL` + f.where("trajectories", "x") + `
)
SELECT t.grp, count(*), count(DISTINCT t.player_id),
	` + perfStatsSQL("t.fps_mean") + `,
	` + perfStatsSQL("t.fps_low_5") + `,
	` + perfStatsSQL("t.fps_low_1") + `,
	avg((t.fps_mean < ` + strconv.Itoa(slowFPS) + `)::int)
FROM t
GROUP BY 1
ORDER BY percentile_cont(0.5) WITHIN GROUP (ORDER BY t.fps_mean), 1 NULLS LAST
LIMIT ` + strconv.Itoa(maxPerfGroups)
}

// histogramSQL counts the trajectories that pass f by fps_mean bucket
// (0-based; the last bucket is open).
func histogramSQL(f *filters) string {
	return `SELECT least(greatest(width_bucket(x.fps_mean, 0, ` + strconv.Itoa(fpsBuckets*fpsBucketWidth) + `, ` + strconv.Itoa(fpsBuckets) + `), 1), ` +
		strconv.Itoa(fpsBuckets+1) + `) - 1, count(*)
	FROM trajectories x
	WHERE x.app_id = $1 AND x.timestamp_start >= $2 AND x.timestamp_start < $3 AND x.fps_mean IS NOT NULL` + f.where("trajectories", "x") + `
	GROUP BY 1`
}

func (h *Handler) viewPerformance(ctx context.Context, app uuid.UUID, q url.Values) (any, error) {
	rg, err := h.parseRange(q)
	if err != nil {
		return nil, err
	}
	by, err := parseChoice(q, "by", "build_id", "gpu", "build_id", "level_id")
	if err != nil {
		return nil, err
	}
	f, err := parseFilters(q)
	if err != nil {
		return nil, err
	}
	args := []any{app, rg.From, rg.To}
	f.bind(&args)
	out := &performanceView{timeRange: rg, By: by, Groups: []perfGroup{}}
	for i := 0; i <= fpsBuckets; i++ {
		fb := fpsBucket{From: float64(i * fpsBucketWidth)}
		if i < fpsBuckets {
			to := float64((i + 1) * fpsBucketWidth)
			fb.To = &to
		}
		out.Histogram = append(out.Histogram, fb)
	}
	err = h.readTx(ctx, func(tx pgx.Tx) error {
		if perfRollupServes(by, &f) {
			return h.performanceFromRollups(ctx, tx, app, rg, by, &f, args, out)
		}
		rows, err := tx.Query(ctx, performanceSQL(by, &f), args...)
		if err != nil {
			return err
		}
		var (
			g          perfGroup
			p1, p2, p3 []float64
		)
		_, err = pgx.ForEachRow(rows, []any{&g.Value, &g.Trajectories, &g.Players,
			&g.FPSMean.Avg, &p1, &g.FPSLow5.Avg, &p2, &g.FPSLow1.Avg, &p3, &g.SlowShare}, func() error {
			g.FPSMean.P10, g.FPSMean.P50, g.FPSMean.P90 = p1[0], p1[1], p1[2]
			g.FPSLow5.P10, g.FPSLow5.P50, g.FPSLow5.P90 = p2[0], p2[1], p2[2]
			g.FPSLow1.P10, g.FPSLow1.P50, g.FPSLow1.P90 = p3[0], p3[1], p3[2]
			out.Groups = append(out.Groups, g)
			return nil
		})
		if err != nil {
			return err
		}

		rows, err = tx.Query(ctx, histogramSQL(&f), args...)
		if err != nil {
			return err
		}
		var (
			b int
			n int64
		)
		_, err = pgx.ForEachRow(rows, []any{&b, &n}, func() error {
			out.Histogram[b].Trajectories = n
			return nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
