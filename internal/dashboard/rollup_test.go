package dashboard

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// rollupRows are three days of telemetry in two builds, two regions, two
// GPUs and levels L1 and L2, fps values on the 0.1 grid the fps rollup
// keeps. Trajectory i is player u(i%3+1)'s, in that player's session of
// filterRows, so its level is (attributed by attribute, at the end):
// u1 03-01 06:00 and 09:00 none (before s1's first event), 12:00 L2; u2
// 03-02 07:00 none, 10:00 L1 (an event of the same instant), 13:00 L1;
// u3 03-03 08:00 and 11:00 L1 (21 h and 24 h after s3's event), 14:00
// none (27 h after).
func rollupRows(t *testing.T, db *pgxpool.Pool, app string) {
	t.Helper()
	ctx := context.Background()
	filterRows(t, db, app) // 2026-03-01 and 02
	for p, hw := range map[string]string{"u1": `{"gpu":"G1"}`, "u2": `{"gpu":"G2","ram":"8GB"}`} {
		_, err := db.Exec(ctx, `UPDATE players SET hardware = $3::jsonb WHERE app_id = $1 AND player_id = $2`, app, p, hw)
		require.NoError(t, err)
	}
	fps := []float64{29.3, 45.7, 60, 12.5, 88.8, 29.9, 30, 144.4, 151.2}
	for i, v := range fps {
		p := []string{"u1", "u2", "u3"}[i%3]
		build := []string{"2.0", "1.0"}[i%2]
		at := time.Date(2026, 3, 1+i%3, 6+i, 0, 0, 0, time.UTC).Format(time.RFC3339)
		_, err := db.Exec(ctx, `INSERT INTO trajectories (event_id, app_id, build_id, player_id, session_id, input_method,
				fps_mean, fps_low_5, fps_low_1, positions, num_points, timestamp_start, timestamp_end, received_at)
			VALUES (gen_random_uuid(), $1, $2, $3, 's' || right($3, 1), 'kb', $4, $5, NULLIF($6, 0), '{0,0,0}', 1, $7, $7, now())`,
			app, build, p, v, v-5, float64(i%2)*(v-10), ts(at))
		require.NoError(t, err)
	}
	addGameplay(t, db, app, "u1", "s9", "Jump", "", "2026-03-03T23:59:59Z")
	addGameplay(t, db, app, "u2", "s8", "Jump", "", "2026-03-03T08:00:00Z") // u2's day 1
	attribute(t, db, "2026-03-10T12:00:00Z")
}

type rollupSnapshot struct {
	Days, Counts, FPS, FPSBy, Players, NamePlayers, Firsts, Sessions []string
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
		Days:        q(`SELECT concat_ws('|', app_id, day, rolled_up_at) FROM dashboard_rollup_days ORDER BY 1`),
		Counts:      q(`SELECT concat_ws('|', app_id, day, kind, build_id, region, events) FROM dashboard_daily_counts ORDER BY 1`),
		FPS:         q(`SELECT concat_ws('|', app_id, day, build_id, region, metric, bucket, trajectories, fps_sum) FROM dashboard_daily_fps ORDER BY 1`),
		FPSBy:       q(`SELECT concat_ws('|', app_id, day, dimension, value, metric, buckets, counts, trajectories, fps_sum) FROM dashboard_daily_fps_by ORDER BY 1`),
		Players:     q(`SELECT concat_ws('|', app_id, day, dimension, value, region, player_id) FROM dashboard_daily_perf_players ORDER BY 1`),
		NamePlayers: q(`SELECT concat_ws('|', app_id, day, kind, build_id, region, name, player_id, events) FROM dashboard_daily_name_players ORDER BY 1`),
		Firsts:      q(`SELECT concat_ws('|', app_id, day, grouping, build_id, region, metric, name, prev_day, items, events) FROM dashboard_daily_firsts ORDER BY 1`),
		Sessions:    q(`SELECT concat_ws('|', app_id, day, build_id, region, player_id, session_id, events) FROM dashboard_daily_sessions ORDER BY 1`),
	}
}

// perfBys are the performance view's breakdowns.
var perfBys = []string{"build_id", "gpu", "level_id"}

// rollupAnswer is what TestRollupsEqualRaw compares: the views that read
// rollups, performance once per breakdown.
type rollupAnswer struct {
	overview  overviewView
	perf      []performanceView
	retention retentionView
	steps     funnelStepsView
}

// rollupAnswers asks app A's views for each query.
func (f *fixture) rollupAnswers(t *testing.T, queries []url.Values) []rollupAnswer {
	t.Helper()
	var out []rollupAnswer
	for _, q := range queries {
		var a rollupAnswer
		f.view(t, f.a.SecretKey, "/dashboard/api/overview", q, &a.overview)
		for _, by := range perfBys {
			pq := url.Values{"by": {by}}
			for k, v := range q {
				pq[k] = v
			}
			var p performanceView
			f.view(t, f.a.SecretKey, "/dashboard/api/performance", pq, &p)
			a.perf = append(a.perf, p)
		}
		f.view(t, f.a.SecretKey, "/dashboard/api/retention", q, &a.retention)
		f.view(t, f.a.SecretKey, "/dashboard/api/funnel/steps", q, &a.steps)
		out = append(out, a)
	}
	return out
}

// TestRollupsEqualRaw: the overview (top events too), performance (by
// build, GPU and level), retention and funnel step names views answer the same from the daily rollups as from raw
// rows, whole or partial days, with or without filters; a second run
// changes nothing; a late event makes its day roll up again, and so does a
// late event of the day before that changes the level of a trajectory.
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
		{"2026-03-02T00:00:00Z", "2026-03-04T00:00:00Z"}, // the last two days
	} {
		for _, filter := range [][]string{nil, {"build_id", "2.0"}, {"region", "US"}, {"build_id", "1.0", "region", "EU"}} {
			q := url.Values{"from": {rg[0]}, "to": {rg[1]}}
			for i := 0; i < len(filter); i += 2 {
				q.Set(filter[i], filter[i+1])
			}
			queries = append(queries, q)
		}
	}
	raw := f.rollupAnswers(t, queries)
	for _, a := range raw {
		require.Zero(t, a.overview.RollupDays)
		for _, p := range a.perf {
			require.Zero(t, p.RollupDays)
		}
	}

	// Raw, performance by build equals Postgres's own percentile_cont on
	// the same rows. Build 1.0 has fps_mean 12.5, 29.9, 45.7, 60, 144.4;
	// build 2.0 25, 29.3, 30, 40, 60, 88.8, 151.2 (median 40), so it comes
	// first.
	byBuild := raw[0].perf[0]
	require.Equal(t, "2.0", *byBuild.Groups[0].Value)
	require.InDelta(t, 40, byBuild.Groups[0].FPSMean.P50, 1e-9)
	g := byBuild.Groups[1]
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
	// By level (rollupRows and filterRows work them out): L1 60, 88.8,
	// 29.9, 144.4 and filterRows' 60 and 40 (median 60); L2 30 and 25
	// (27.5); the rest unknown (37.5).
	require.Equal(t, []string{"L2", "<nil>", "L1"}, groupValues(raw[0].perf[2]))
	require.Equal(t, []int64{2, 4, 6}, groupCounts(raw[0].perf[2]))
	// By GPU: G1 is u1's, G2 u2's, u3 has no players row.
	require.Equal(t, map[string]int64{"G1": 4, "G2": 4, "<nil>": 4}, groupSizes(raw[0].perf[1]))

	now := ts("2026-03-10T12:00:00Z")
	st, err := Rollup(ctx, db, now)
	require.NoError(t, err)
	require.Equal(t, RollupStats{Days: 6, Rebuilt: 6}, st, "three days of two apps, levels attributed already")
	first := snapshotRollups(t, db)
	require.NotEmpty(t, first.FPS)
	require.NotEmpty(t, first.FPSBy)
	require.NotEmpty(t, first.Players)
	require.NotEmpty(t, first.NamePlayers)
	require.NotEmpty(t, first.Firsts)

	rolled := f.rollupAnswers(t, queries)
	require.Equal(t, 3, rolled[0].overview.RollupDays)
	require.Equal(t, []eventCount{{"Jump", 5, 2}, {"Shoot", 1, 1}}, rolled[0].overview.TopEvents)
	for i, p := range rolled[0].perf {
		require.Equal(t, 3, p.RollupDays, perfBys[i])
	}
	require.Equal(t, 3, rolled[1].perf[0].RollupDays, "by build, filtered by build")
	require.Zero(t, rolled[1].perf[1].RollupDays, "by GPU, filtered: raw")
	require.Equal(t, 1, rolled[4].overview.RollupDays, "only 2026-03-02 is whole inside 09:30..10:00 two days on")
	requireSameAnswers(t, raw, rolled)

	// Again, with nothing new: nothing changes, not even rolled_up_at.
	st, err = Rollup(ctx, db, now)
	require.NoError(t, err)
	require.Equal(t, RollupStats{Days: 6, Rebuilt: 0}, st)
	require.Equal(t, first, snapshotRollups(t, db))

	// A late event for a rolled-up day: that app-day alone rolls up again.
	// Its day's level events changed, so the trajectories of the day and
	// the days either side are attributed again.
	a := f.a.AppID.String()
	addTrajectory(t, db, a, "1.0", "u2", "s2", [3]float64{9.9, 5, 1}, "2026-03-02T20:00:00Z")
	addGameplay(t, db, a, "u2", "s2", "Late", "", "2026-03-02T21:00:00Z")
	stale := f.rollupAnswers(t, queries) // the rollup misses them until the next run
	require.Equal(t, raw[0].overview.Totals.Events["realtime"], stale[0].overview.Totals.Events["realtime"])
	st, err = Rollup(ctx, db, now)
	require.NoError(t, err)
	require.Equal(t, RollupStats{Days: 6, Rebuilt: 1, LevelDays: 3}, st)
	rolled = f.rollupAnswers(t, queries)
	require.Equal(t, raw[0].overview.Totals.Events["realtime"]+1, rolled[0].overview.Totals.Events["realtime"])
	require.Equal(t, map[string]int64{"L1": 7, "L2": 2, "<nil>": 4}, groupSizes(rolled[0].perf[2]), "the late trajectory is in L1 (s2's, 10:00)")

	// A late level event on 2026-03-02 at 23:00 puts u3's 03-03
	// trajectories in L7: 03-03's raw counts are the same, yet it rolls up
	// again.
	addGameplay(t, db, a, "u3", "s3", "Enter", "L7", "2026-03-02T23:00:00Z")
	st, err = Rollup(ctx, db, now)
	require.NoError(t, err)
	require.Equal(t, RollupStats{Days: 6, Rebuilt: 2, LevelDays: 3}, st, "03-02 for its count, 03-03 for its levels")
	rolled = f.rollupAnswers(t, queries)
	require.Equal(t, map[string]int64{"L1": 5, "L2": 2, "L7": 3, "<nil>": 3}, groupSizes(rolled[0].perf[2]))

	// u1, so far active on 03-01 and 03-03, plays on 03-02 too: only 03-02
	// is rebuilt, and 03-03's firsts follow (u1's day before it is 03-02
	// now), else u1 would count twice from 03-02 on.
	addGameplay(t, db, a, "u1", "s1", "Jump", "", "2026-03-02T12:00:00Z")
	st, err = Rollup(ctx, db, now)
	require.NoError(t, err)
	require.Equal(t, RollupStats{Days: 6, Rebuilt: 1, LevelDays: 3}, st)
	rolled = f.rollupAnswers(t, queries)

	// With 2026-03-02 not rolled up, the covered days are no run: distinct
	// counts come from the day rollups' pairs, still the same.
	_, err = db.Exec(ctx, `DELETE FROM dashboard_rollup_days WHERE day = '2026-03-02'`)
	require.NoError(t, err)
	gap := f.rollupAnswers(t, queries)
	require.Equal(t, 2, gap[0].overview.RollupDays)
	requireSameAnswers(t, gap, rolled)

	// And equal to raw: drop the rollups and ask again.
	_, err = db.Exec(ctx, `DELETE FROM dashboard_rollup_days`)
	require.NoError(t, err)
	requireSameAnswers(t, f.rollupAnswers(t, queries), rolled)
}

// groupValues are a performance view's group values, "<nil>" for none.
func groupValues(v performanceView) []string {
	var out []string
	for _, g := range v.Groups {
		s := "<nil>"
		if g.Value != nil {
			s = *g.Value
		}
		out = append(out, s)
	}
	return out
}

// groupCounts are a performance view's trajectories per group.
func groupCounts(v performanceView) []int64 {
	var out []int64
	for _, g := range v.Groups {
		out = append(out, g.Trajectories)
	}
	return out
}

// groupSizes are a performance view's trajectories by group value, "<nil>"
// for none.
func groupSizes(v performanceView) map[string]int64 {
	out := map[string]int64{}
	for i, name := range groupValues(v) {
		out[name] = v.Groups[i].Trajectories
	}
	return out
}

func requireSameAnswers(t *testing.T, want, got []rollupAnswer) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		wo, go_ := want[i].overview, got[i].overview
		require.Equal(t, wo.Totals, go_.Totals, "query %d", i)
		require.Equal(t, wo.Days, go_.Days, "query %d", i)
		require.Equal(t, wo.TopEvents, go_.TopEvents, "query %d", i)
		require.Equal(t, want[i].retention.Cohorts, got[i].retention.Cohorts, "query %d", i)
		require.Equal(t, want[i].steps.Steps, got[i].steps.Steps, "query %d", i)
		for b := range want[i].perf {
			requireSamePerformance(t, want[i].perf[b], got[i].perf[b], 1e-9, fmt.Sprintf("query %d by %s", i, perfBys[b]))
		}
	}
}

// requireSamePerformance checks that got answers as want, percentiles
// within tol.
func requireSamePerformance(t *testing.T, want, got performanceView, tol float64, name string) {
	t.Helper()
	require.Equal(t, want.Histogram, got.Histogram, name)
	require.Len(t, got.Groups, len(want.Groups), name)
	for j := range want.Groups {
		w, g := want.Groups[j], got.Groups[j]
		require.Equal(t, w.Value, g.Value, "%s group %d", name, j)
		require.Equal(t, []int64{w.Trajectories, w.Players}, []int64{g.Trajectories, g.Players}, "%s group %d", name, j)
		require.InDelta(t, w.SlowShare, g.SlowShare, 1e-9, "%s group %d", name, j)
		for k, pair := range [][2]fpsStats{{w.FPSMean, g.FPSMean}, {w.FPSLow5, g.FPSLow5}, {w.FPSLow1, g.FPSLow1}} {
			require.InDelta(t, pair[0].Avg, pair[1].Avg, 1e-9, "%s group %d metric %d", name, j, k)
			require.InDelta(t, pair[0].P10, pair[1].P10, tol, "%s group %d metric %d", name, j, k)
			require.InDelta(t, pair[0].P50, pair[1].P50, tol, "%s group %d metric %d", name, j, k)
			require.InDelta(t, pair[0].P90, pair[1].P90, tol, "%s group %d metric %d", name, j, k)
		}
	}
}

// TestRollupsEqualRawRandom: on random telemetry over ten days (players
// coming back over days, sessions across midnight, builds changing, fps
// off the 0.1 grid), every view that reads rollups answers as from raw
// rows for random ranges and filters, fps percentiles within one bucket
// (0.1 fps).
func TestRollupsEqualRawRandom(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, nil)
	db := f.db.Pool
	r := rand.New(rand.NewPCG(1, 2))
	start := ts("2026-03-01T00:00:00Z")
	var b pgx.Batch
	for _, app := range []string{f.a.AppID.String(), f.b.AppID.String()} {
		for p := range 20 {
			player := fmt.Sprintf("p%d", p)
			if p%5 != 4 { // some players have no identity row
				b.Queue(`INSERT INTO players (app_id, player_id, build_id, region, hardware, first_seen, last_seen)
					VALUES ($1, $2, '1.0', $3, $4::jsonb, $5, $5)`, app, player, []string{"EU", "US"}[p%2],
					fmt.Sprintf(`{"gpu":"G%d"}`, p%3), start.Add(time.Duration(p)*time.Hour))
			}
			at := start.Add(time.Duration(r.IntN(48)) * time.Hour)
			for s := 0; at.Before(start.AddDate(0, 0, 10)); s++ {
				session := fmt.Sprintf("%s-s%d", player, s)
				build := []string{"1.0", "1.1", "2.0"}[min(2, int(at.Sub(start).Hours())/80+r.IntN(2))]
				level := fmt.Sprintf("L%d", r.IntN(3))
				for e := range 3 + r.IntN(6) {
					t0 := at.Add(time.Duration(e*40+r.IntN(30)) * time.Minute) // sessions of up to ~6 h, some across midnight
					name := []string{"Jump", "Shoot", "Pick", "Die"}[r.IntN(4)]
					b.Queue(`INSERT INTO gameplay_events (event_id, app_id, build_id, player_id, session_id, level_id, event_name, "timestamp", received_at)
						VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, $7, now())`, app, build, player, session, level, name, t0)
					if e%2 == 0 {
						b.Queue(`INSERT INTO funnel_steps (event_id, app_id, build_id, player_id, session_id, level_id, funnel_step_name, "timestamp", received_at)
							VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, 'Step', $6, now())`, app, build, player, session, level, t0.Add(time.Minute))
					}
					fps := 20 + r.Float64()*100
					b.Queue(`INSERT INTO trajectories (event_id, app_id, build_id, player_id, session_id,
							fps_mean, fps_low_5, fps_low_1, positions, num_points, timestamp_start, timestamp_end, received_at)
						VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, $7, '{0,0,0}', 1, $8, $8, now())`,
						app, build, player, session, fps, fps*0.7, fps*0.45, t0.Add(2*time.Minute))
				}
				at = at.Add(time.Duration(10+r.IntN(40)) * time.Hour)
			}
		}
	}
	require.NoError(t, db.SendBatch(ctx, &b).Close())
	attribute(t, db, "2026-03-20T12:00:00Z")

	var queries []url.Values
	for range 12 {
		from := start.Add(time.Duration(r.IntN(6*24)) * time.Hour).Add(time.Duration(r.IntN(2)) * 30 * time.Minute)
		to := from.Add(time.Duration(12+r.IntN(7*24)) * time.Hour)
		q := url.Values{"from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}}
		switch r.IntN(4) {
		case 1:
			q.Set("build_id", "1.1")
		case 2:
			q.Set("region", "US")
		case 3:
			q.Set("build_id", "2.0")
			q.Set("region", "EU")
		}
		queries = append(queries, q)
	}
	raw := f.rollupAnswers(t, queries)
	_, err := Rollup(ctx, db, ts("2026-03-20T12:00:00Z"))
	require.NoError(t, err)
	rolled := f.rollupAnswers(t, queries)
	for i := range queries {
		require.Equal(t, raw[i].overview.Totals, rolled[i].overview.Totals, "query %d %v", i, queries[i])
		require.Equal(t, raw[i].overview.Days, rolled[i].overview.Days, "query %d", i)
		require.Equal(t, raw[i].overview.TopEvents, rolled[i].overview.TopEvents, "query %d", i)
		require.Equal(t, raw[i].retention.Cohorts, rolled[i].retention.Cohorts, "query %d", i)
		require.Equal(t, raw[i].steps.Steps, rolled[i].steps.Steps, "query %d", i)
		for b := range perfBys {
			requireSamePerformance(t, raw[i].perf[b], rolled[i].perf[b], 0.1, fmt.Sprintf("query %d by %s", i, perfBys[b]))
		}
	}
	var served int
	for _, a := range rolled {
		served += a.overview.RollupDays
		for _, p := range a.perf {
			served += p.RollupDays
		}
	}
	require.NotZero(t, served, "some answers came from the rollups")
}
