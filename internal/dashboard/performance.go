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
	// rollups rather than raw rows (only by build, filtered at most by
	// build and region).
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

// perfGroupExpr is each breakdown's group expression for a trajectory x.
// A trajectory's GPU is its player's hardware.gpu (the players row, so the
// latest known); its level is the level of the latest gameplay event of its
// session at or before its start (as for the level filter,
// docs/dashboard.md "Filters").
var perfGroupExpr = map[string]string{
	"build_id": "x.build_id",
	"gpu":      "(SELECT p.hardware->>'gpu' FROM players p WHERE p.app_id = x.app_id AND p.player_id = x.player_id)",
	"level_id": sessionLookup("level_id", "x", "timestamp_start"),
}

// perfRowsSQL is the trajectories with an fps_mean in [$2, $3) that pass
// f, with their group.
func perfRowsSQL(by string, f *filters) string {
	return `SELECT x.player_id, x.fps_mean, x.fps_low_5, x.fps_low_1, ` + perfGroupExpr[by] + ` AS grp
	FROM trajectories x
	WHERE x.app_id = $1 AND x.timestamp_start >= $2 AND x.timestamp_start < $3 AND x.fps_mean IS NOT NULL` + f.where("trajectories", "x")
}

func performanceSQL(by string, f *filters) string {
	return `WITH t AS (` + perfRowsSQL(by, f) + `)
SELECT t.grp, count(*), count(DISTINCT t.player_id),
	avg(t.fps_mean), percentile_cont(ARRAY[0.1, 0.5, 0.9]) WITHIN GROUP (ORDER BY t.fps_mean),
	avg(t.fps_low_5), percentile_cont(ARRAY[0.1, 0.5, 0.9]) WITHIN GROUP (ORDER BY t.fps_low_5),
	avg(t.fps_low_1), percentile_cont(ARRAY[0.1, 0.5, 0.9]) WITHIN GROUP (ORDER BY t.fps_low_1),
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
		if by == "build_id" && f.only("build_id", "region") {
			return h.performanceFromRollups(ctx, tx, app, rg, &f, args, out)
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
