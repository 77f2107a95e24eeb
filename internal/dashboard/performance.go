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

// perfGroupExpr is the build and GPU breakdowns' group expression for a
// trajectory x. A trajectory's GPU is its player's hardware.gpu (the players
// row, so the latest known). Its level (perfLevelRowsSQL) is the level of the
// latest gameplay event of its session at or before its start, as for the
// level filter (docs/dashboard.md, "Filters").
var perfGroupExpr = map[string]string{
	"build_id": "x.build_id",
	"gpu":      "pg.hardware->>'gpu'",
}

// perfRowsSQL is the trajectories with an fps_mean in [$2, $3) that pass
// f, with their build or GPU.
func perfRowsSQL(by string, f *filters) string {
	join := ""
	if by == "gpu" {
		// A hash join on the app's players, not a lookup per trajectory.
		join = "LEFT JOIN players pg ON pg.app_id = x.app_id AND pg.player_id = x.player_id"
	}
	return `SELECT x.player_id, x.fps_mean, x.fps_low_5, x.fps_low_1, ` + perfGroupExpr[by] + ` AS grp
	FROM trajectories x ` + join + `
	WHERE x.app_id = $1 AND x.timestamp_start >= $2 AND x.timestamp_start < $3 AND x.fps_mean IS NOT NULL` + f.where("trajectories", "x")
}

// perfLevelRowsSQL is perfRowsSQL by level, computed in one pass instead
// of one lookup per trajectory: the session's gameplay events that name a
// level and its trajectories, in time order (a gameplay event before a
// trajectory of the same instant), each trajectory taking the level of the
// latest gameplay event before it.
func perfLevelRowsSQL(f *filters) string {
	return `WITH tr AS (
	SELECT x.player_id, x.session_id, x.timestamp_start AS ts, x.fps_mean, x.fps_low_5, x.fps_low_1
	FROM trajectories x
	WHERE x.app_id = $1 AND x.timestamp_start >= $2 AND x.timestamp_start < $3 AND x.fps_mean IS NOT NULL` + f.where("trajectories", "x") + `
),
u AS (
	SELECT g.player_id, g.session_id, g."timestamp" AS ts, g.level_id, 0 AS is_t,
		NULL::float8 AS fps_mean, NULL::float8 AS fps_low_5, NULL::float8 AS fps_low_1
	FROM gameplay_events g
	WHERE g.app_id = $1 AND g."timestamp" >= $2::timestamptz - interval '1 day' AND g."timestamp" < $3
		AND g.level_id IS NOT NULL AND g.session_id IS NOT NULL
	UNION ALL SELECT player_id, session_id, ts, NULL, 1, fps_mean, fps_low_5, fps_low_1 FROM tr
),
w AS (
	SELECT u.*, count(u.level_id) OVER (PARTITION BY u.player_id, u.session_id ORDER BY u.ts, u.is_t ROWS UNBOUNDED PRECEDING) AS n
	FROM u
),
t AS (
	SELECT player_id, fps_mean, fps_low_5, fps_low_1, grp FROM (
		SELECT w.player_id, w.fps_mean, w.fps_low_5, w.fps_low_1, w.is_t,
			CASE WHEN w.session_id IS NULL OR w.n = 0 THEN NULL
				ELSE first_value(w.level_id) OVER (PARTITION BY w.player_id, w.session_id, w.n ORDER BY w.ts, w.is_t) END AS grp
		FROM w
	) l WHERE is_t = 1
)`
}

func performanceSQL(by string, f *filters) string {
	src := `WITH t AS (` + perfRowsSQL(by, f) + `)`
	if by == "level_id" {
		src = perfLevelRowsSQL(f)
	}
	return src + `
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
