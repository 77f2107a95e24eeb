package dashboard

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// rollupRows are three days of telemetry in two builds and two regions,
// fps values on the 0.1 grid the fps rollup keeps.
func rollupRows(t *testing.T, db *pgxpool.Pool, app string) {
	t.Helper()
	filterRows(t, db, app) // 2026-03-01 and 02
	fps := []float64{29.3, 45.7, 60, 12.5, 88.8, 29.9, 30, 144.4, 151.2}
	for i, v := range fps {
		p := []string{"u1", "u2", "u3"}[i%3]
		build := []string{"2.0", "1.0"}[i%2]
		at := time.Date(2026, 3, 1+i%3, 6+i, 0, 0, 0, time.UTC).Format(time.RFC3339)
		_, err := db.Exec(context.Background(), `INSERT INTO trajectories (event_id, app_id, build_id, player_id, session_id, input_method,
				fps_mean, fps_low_5, fps_low_1, positions, num_points, timestamp_start, timestamp_end, received_at)
			VALUES (gen_random_uuid(), $1, $2, $3, 's', 'kb', $4, $5, NULLIF($6, 0), '{0,0,0}', 1, $7, $7, now())`,
			app, build, p, v, v-5, float64(i%2)*(v-10), ts(at))
		require.NoError(t, err)
	}
	addGameplay(t, db, app, "u1", "s9", "Jump", "", "2026-03-03T23:59:59Z")
	addGameplay(t, db, app, "u2", "s8", "Jump", "", "2026-03-03T08:00:00Z") // u2's day 1
}

type rollupSnapshot struct {
	Days   []string
	Counts []string
	FPS    []string
}

func snapshotRollups(t *testing.T, db *pgxpool.Pool) rollupSnapshot {
	t.Helper()
	q := func(sql string) []string {
		rows, err := db.Query(context.Background(), sql)
		require.NoError(t, err)
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return out
	}
	return rollupSnapshot{
		Days:   q(`SELECT concat_ws('|', app_id, day, rolled_up_at) FROM dashboard_rollup_days ORDER BY 1`),
		Counts: q(`SELECT concat_ws('|', app_id, day, kind, build_id, region, events) FROM dashboard_daily_counts ORDER BY 1`),
		FPS:    q(`SELECT concat_ws('|', app_id, day, build_id, region, metric, bucket, trajectories, fps_sum) FROM dashboard_daily_fps ORDER BY 1`),
	}
}

// TestRollupsEqualRaw: the overview and performance views answer the same
// from the daily rollups as from raw rows, whole or partial days, with or
// without filters; a second run changes nothing, and a late event makes
// its day roll up again.
func TestRollupsEqualRaw(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, nil)
	db := f.db.Pool
	rollupRows(t, db, f.a.AppID.String())
	rollupRows(t, db, f.b.AppID.String())

	queries := []url.Values{}
	for _, rg := range [][2]string{
		{"2026-03-01T00:00:00Z", "2026-03-04T00:00:00Z"}, // whole days
		{"2026-03-01T09:30:00Z", "2026-03-03T10:00:00Z"}, // partial days at both ends
		{"2026-03-02T00:00:00Z", "2026-03-02T12:00:00Z"}, // under a day
	} {
		for _, filter := range [][]string{nil, {"build_id", "2.0"}, {"region", "US"}, {"build_id", "1.0", "region", "EU"}} {
			q := url.Values{"from": {rg[0]}, "to": {rg[1]}}
			for i := 0; i < len(filter); i += 2 {
				q.Set(filter[i], filter[i+1])
			}
			queries = append(queries, q)
		}
	}
	type answer struct {
		overview  overviewView
		perf      performanceView
		retention retentionView
	}
	answers := func() []answer {
		var out []answer
		for _, q := range queries {
			var a answer
			f.view(t, f.a.SecretKey, "/dashboard/api/overview", q, &a.overview)
			f.view(t, f.a.SecretKey, "/dashboard/api/performance", q, &a.perf)
			f.view(t, f.a.SecretKey, "/dashboard/api/retention", q, &a.retention)
			out = append(out, a)
		}
		return out
	}
	raw := answers()
	for _, a := range raw {
		require.Zero(t, a.overview.RollupDays)
		require.Zero(t, a.perf.RollupDays)
	}

	// Raw, performance by build equals Postgres's own percentile_cont on
	// the same rows. Build 1.0 has fps_mean 12.5, 29.9, 45.7, 60, 144.4;
	// build 2.0 25, 29.3, 30, 40, 60, 88.8, 151.2 (median 40), so it comes
	// first.
	require.Equal(t, "2.0", *raw[0].perf.Groups[0].Value)
	require.InDelta(t, 40, raw[0].perf.Groups[0].FPSMean.P50, 1e-9)
	g := raw[0].perf.Groups[1]
	require.Equal(t, "1.0", *g.Value)
	require.Equal(t, int64(5), g.Trajectories)
	require.InDelta(t, 58.5, g.FPSMean.Avg, 1e-9)
	require.InDelta(t, 45.7, g.FPSMean.P50, 1e-9)
	require.InDelta(t, 12.5+0.4*(29.9-12.5), g.FPSMean.P10, 1e-9)
	require.InDelta(t, 0.4, g.SlowShare, 1e-9)
	var pg struct{ p10, p50, p90 float64 }
	require.NoError(t, db.QueryRow(ctx, `SELECT percentile_cont(0.1) WITHIN GROUP (ORDER BY fps_low_5), percentile_cont(0.5) WITHIN GROUP (ORDER BY fps_low_5),
			percentile_cont(0.9) WITHIN GROUP (ORDER BY fps_low_5)
		FROM trajectories WHERE app_id = $1 AND build_id = '1.0'`, f.a.AppID).Scan(&pg.p10, &pg.p50, &pg.p90))
	require.InDelta(t, pg.p10, g.FPSLow5.P10, 1e-9)
	require.InDelta(t, pg.p50, g.FPSLow5.P50, 1e-9)
	require.InDelta(t, pg.p90, g.FPSLow5.P90, 1e-9)

	now := ts("2026-03-10T12:00:00Z")
	st, err := Rollup(ctx, db, now)
	require.NoError(t, err)
	require.Equal(t, RollupStats{Days: 6, Rebuilt: 6}, st, "three days of two apps")
	first := snapshotRollups(t, db)
	require.NotEmpty(t, first.FPS)

	rolled := answers()
	require.Equal(t, 3, rolled[0].overview.RollupDays)
	require.Equal(t, 3, rolled[0].perf.RollupDays)
	require.Equal(t, 1, rolled[4].overview.RollupDays, "only 2026-03-02 is whole inside 09:30..10:00 two days on")
	requireSameAnswers(t, raw, rolled, func(a answer) (overviewView, performanceView) { return a.overview, a.perf })
	for i := range raw {
		require.Equal(t, raw[i].retention.Cohorts, rolled[i].retention.Cohorts, "query %d", i)
	}
	// u2 (first seen 2026-03-02) came back on 2026-03-03, which retention
	// read from the rollup.
	require.Equal(t, int64(1), rolled[0].retention.Cohorts[1].Returned["1"].Players)

	// Again, with nothing new: nothing changes, not even rolled_up_at.
	st, err = Rollup(ctx, db, now)
	require.NoError(t, err)
	require.Equal(t, RollupStats{Days: 6, Rebuilt: 0}, st)
	require.Equal(t, first, snapshotRollups(t, db))

	// A late event for a rolled-up day: that app-day alone rolls up again.
	addTrajectory(t, db, f.a.AppID.String(), "1.0", "u2", "s2", [3]float64{9.9, 5, 1}, "2026-03-02T20:00:00Z")
	addGameplay(t, db, f.a.AppID.String(), "u2", "s2", "Late", "", "2026-03-02T21:00:00Z")
	stale := answers() // the rollup misses them until the next run
	require.Equal(t, raw[0].overview.Totals.Events["realtime"], stale[0].overview.Totals.Events["realtime"])
	st, err = Rollup(ctx, db, now)
	require.NoError(t, err)
	require.Equal(t, RollupStats{Days: 6, Rebuilt: 1}, st)
	rolled = answers()
	require.Equal(t, raw[0].overview.Totals.Events["realtime"]+1, rolled[0].overview.Totals.Events["realtime"])
	// And equal to raw: drop the rollups and ask again.
	_, err = db.Exec(ctx, `DELETE FROM dashboard_rollup_days`)
	require.NoError(t, err)
	requireSameAnswers(t, answers(), rolled, func(a answer) (overviewView, performanceView) { return a.overview, a.perf })
}

func requireSameAnswers[A any](t *testing.T, want, got []A, views func(A) (overviewView, performanceView)) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		wo, wp := views(want[i])
		go_, gp := views(got[i])
		require.Equal(t, wo.Totals, go_.Totals, "query %d", i)
		require.Equal(t, wo.Days, go_.Days, "query %d", i)
		require.Equal(t, wp.Histogram, gp.Histogram, "query %d", i)
		require.Len(t, gp.Groups, len(wp.Groups), "query %d", i)
		for j := range wp.Groups {
			w, g := wp.Groups[j], gp.Groups[j]
			require.Equal(t, w.Value, g.Value, "query %d group %d", i, j)
			require.Equal(t, []int64{w.Trajectories, w.Players}, []int64{g.Trajectories, g.Players}, "query %d group %d", i, j)
			require.InDelta(t, w.SlowShare, g.SlowShare, 1e-9)
			for k, pair := range [][2]fpsStats{{w.FPSMean, g.FPSMean}, {w.FPSLow5, g.FPSLow5}, {w.FPSLow1, g.FPSLow1}} {
				require.InDelta(t, pair[0].Avg, pair[1].Avg, 1e-9, "query %d group %d metric %d", i, j, k)
				require.InDelta(t, pair[0].P10, pair[1].P10, 1e-9, "query %d group %d metric %d", i, j, k)
				require.InDelta(t, pair[0].P50, pair[1].P50, 1e-9, "query %d group %d metric %d", i, j, k)
				require.InDelta(t, pair[0].P90, pair[1].P90, 1e-9, "query %d group %d metric %d", i, j, k)
			}
		}
	}
}
