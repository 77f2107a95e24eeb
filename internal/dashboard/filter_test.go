package dashboard

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// filterRows are the fixture of the filter tests: three players, one
// without an identity row, in two builds, two regions and two input
// methods (the comments of each test work out the answers).
//
//	u1: EU, build 2.0. u2: US, build 1.0. u3: no players row.
func filterRows(t *testing.T, db *pgxpool.Pool, app string) {
	t.Helper()
	ctx := context.Background()
	exec := func(sql string, args ...any) {
		t.Helper()
		_, err := db.Exec(ctx, sql, args...)
		require.NoError(t, err)
	}
	player := func(p, build, region, at string) {
		exec(`INSERT INTO players (app_id, player_id, build_id, region, first_seen, last_seen) VALUES ($1, $2, $3, $4, $5, $5)`,
			app, p, build, region, ts(at))
		exec(`INSERT INTO player_events (event_id, app_id, build_id, player_id, event_name, region, "timestamp", received_at)
			VALUES (gen_random_uuid(), $1, $2, $3, 'Create_Player', $4, $5, now())`, app, build, p, region, ts(at))
	}
	gameplay := func(p, s, build, name, level, input, at string) {
		exec(`INSERT INTO gameplay_events (event_id, app_id, build_id, player_id, session_id, level_id, event_name, input_method, "timestamp", received_at)
			VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, $7, $8, now())`, app, build, p, s, level, name, input, ts(at))
	}
	step := func(p, s, build, name string, level *string, at string) {
		exec(`INSERT INTO funnel_steps (event_id, app_id, build_id, player_id, session_id, level_id, funnel_step_name, "timestamp", received_at)
			VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, $7, now())`, app, build, p, s, level, name, ts(at))
	}
	traj := func(p, s, build, input string, fps float64, at string) {
		exec(`INSERT INTO trajectories (event_id, app_id, build_id, player_id, session_id, input_method,
				fps_mean, fps_low_5, fps_low_1, positions, num_points, timestamp_start, timestamp_end, received_at)
			VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, $6, $6, '{0,0,0}', 1, $7, $7, now())`,
			app, build, p, s, input, fps, ts(at))
	}
	l1 := "L1"
	player("u1", "2.0", "EU", "2026-03-01T09:00:00Z")
	player("u2", "1.0", "US", "2026-03-02T08:00:00Z")
	gameplay("u1", "s1", "2.0", "Jump", "L1", "kb", "2026-03-01T10:00:00Z")
	gameplay("u1", "s1", "2.0", "Jump", "L2", "kb", "2026-03-01T10:10:00Z")
	gameplay("u2", "s2", "1.0", "Jump", "L1", "pad", "2026-03-02T10:00:00Z")
	gameplay("u3", "s3", "2.0", "Shoot", "L1", "pad", "2026-03-02T11:00:00Z")
	// A funnel step's input method is its session's latest gameplay event's
	// at or before it: u1 Start kb; u2 Start none (nothing before it); u2
	// End pad; u3 Start pad.
	step("u1", "s1", "2.0", "Start", &l1, "2026-03-01T10:05:00Z")
	step("u2", "s2", "1.0", "Start", nil, "2026-03-02T09:00:00Z")
	step("u2", "s2", "1.0", "End", nil, "2026-03-02T10:30:00Z")
	step("u3", "s3", "2.0", "Start", nil, "2026-03-02T11:30:00Z")
	// A trajectory's level is its session's latest level event at or
	// before it (attributed by the rollup job): u1 L2, u2 L1, u3 L1.
	traj("u1", "s1", "2.0", "kb", 25, "2026-03-01T10:15:00Z")
	traj("u2", "s2", "1.0", "pad", 60, "2026-03-02T10:05:00Z")
	traj("u3", "s3", "2.0", "pad", 40, "2026-03-02T11:05:00Z")
	attribute(t, db, "2026-03-10T12:00:00Z")
}

var filterRange = url.Values{"from": {"2026-03-01T00:00:00Z"}, "to": {"2026-03-03T00:00:00Z"}}

func withFilter(kv ...string) url.Values {
	q := url.Values{}
	for k, v := range filterRange {
		q[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	return q
}

func TestOverviewFilters(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	filterRows(t, f.db.Pool, f.a.AppID.String())
	// App B has the same rows: none of them may count for A.
	filterRows(t, f.db.Pool, f.b.AppID.String())

	totals := func(q url.Values) overviewTotals {
		var got overviewView
		f.view(t, f.a.SecretKey, "/dashboard/api/overview", q, &got)
		return got.Totals
	}
	ev := func(player, funnel, gameplay, realtime int64) map[string]int64 {
		return map[string]int64{"player": player, "funnel": funnel, "gameplay": gameplay, "realtime": realtime}
	}
	require.Equal(t, overviewTotals{Events: ev(2, 4, 4, 3), ActivePlayers: 3, NewPlayers: 2, Sessions: 3},
		totals(filterRange))
	// Build 2.0: u1's events and u3's; u1 is new (its players row is 2.0).
	require.Equal(t, overviewTotals{Events: ev(1, 2, 3, 2), ActivePlayers: 2, NewPlayers: 1, Sessions: 2},
		totals(withFilter("build_id", "2.0")))
	// Region EU: u1 alone; u3 has no players row, so no region.
	require.Equal(t, overviewTotals{Events: ev(1, 1, 2, 1), ActivePlayers: 1, NewPlayers: 1, Sessions: 1},
		totals(withFilter("region", "EU")))
	// Pad: no player events; gameplay u2, u3; steps u2 End, u3 Start;
	// trajectories u2, u3; new: u2 (u3 has no players row).
	require.Equal(t, overviewTotals{Events: ev(0, 2, 2, 2), ActivePlayers: 2, NewPlayers: 1, Sessions: 2},
		totals(withFilter("input_method", "pad")))
	// L1: gameplay u1 10:00, u2, u3; step u1 Start; trajectories u2, u3
	// (u1's is in L2); new: u1, u2.
	require.Equal(t, overviewTotals{Events: ev(0, 1, 3, 2), ActivePlayers: 3, NewPlayers: 2, Sessions: 3},
		totals(withFilter("level_id", "L1")))
	// Filters combine: build 2.0 and pad is u3 alone.
	require.Equal(t, overviewTotals{Events: ev(0, 1, 1, 1), ActivePlayers: 1, NewPlayers: 0, Sessions: 1},
		totals(withFilter("build_id", "2.0", "input_method", "pad")))
	require.Equal(t, overviewTotals{Events: ev(0, 0, 0, 0)}, totals(withFilter("build_id", "9.9")))

	var got overviewView
	f.view(t, f.a.SecretKey, "/dashboard/api/overview", withFilter("region", "US"), &got)
	require.Equal(t, []eventCount{{"Jump", 1, 1}}, got.TopEvents)
	require.Equal(t, int64(0), got.Days[0].ActivePlayers)
	require.Equal(t, int64(1), got.Days[1].ActivePlayers)
}

func TestFilterViews(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	filterRows(t, f.db.Pool, f.a.AppID.String())
	filterRows(t, f.db.Pool, f.b.AppID.String())

	// Performance: pad trajectories are u2 (60 fps, L1) and u3 (40, L1).
	var perf performanceView
	f.view(t, f.a.SecretKey, "/dashboard/api/performance", withFilter("by", "level_id", "input_method", "pad"), &perf)
	require.Len(t, perf.Groups, 1)
	require.Equal(t, "L1", *perf.Groups[0].Value)
	require.Equal(t, int64(2), perf.Groups[0].Trajectories)
	require.Equal(t, fpsStats{Avg: 50, P10: 42, P50: 50, P90: 58}, perf.Groups[0].FPSMean)
	hist := map[float64]int64{}
	for _, b := range perf.Histogram {
		if b.Trajectories > 0 {
			hist[b.From] = b.Trajectories
		}
	}
	require.Equal(t, map[float64]int64{40: 1, 60: 1}, hist)
	// Level L2 is u1's trajectory alone.
	f.view(t, f.a.SecretKey, "/dashboard/api/performance", withFilter("level_id", "L2", "region", "EU"), &perf)
	require.Len(t, perf.Groups, 1)
	require.Equal(t, "2.0", *perf.Groups[0].Value)
	require.Equal(t, 1.0, perf.Groups[0].SlowShare)

	// Funnel Start -> End over 2 h: u2 reaches End 1.5 h after Start. With
	// pad, u2's Start (no input method yet) drops out, so u3 alone enters.
	var fun funnelView
	f.view(t, f.a.SecretKey, "/dashboard/api/funnel", withFilter("steps", "Start,End", "window", "2h"), &fun)
	require.Equal(t, []int64{3, 1}, []int64{fun.Steps[0].Players, fun.Steps[1].Players})
	f.view(t, f.a.SecretKey, "/dashboard/api/funnel", withFilter("steps", "Start,End", "window", "2h", "input_method", "pad"), &fun)
	require.Equal(t, []int64{1, 0}, []int64{fun.Steps[0].Players, fun.Steps[1].Players})
	f.view(t, f.a.SecretKey, "/dashboard/api/funnel", withFilter("steps", "Start,End", "window", "2h", "build_id", "1.0"), &fun)
	require.Equal(t, []int64{1, 1}, []int64{fun.Steps[0].Players, fun.Steps[1].Players})

	var steps funnelStepsView
	f.view(t, f.a.SecretKey, "/dashboard/api/funnel/steps", withFilter("region", "US"), &steps)
	require.Equal(t, []eventCount{{"End", 1, 1}, {"Start", 1, 1}}, steps.Steps)

	// Retention by region: the 2026-03-02 cohort is u2 alone under US.
	var ret retentionView
	f.view(t, f.a.SecretKey, "/dashboard/api/retention", withFilter("region", "US"), &ret)
	require.Equal(t, []int64{0, 1}, []int64{ret.Cohorts[0].Players, ret.Cohorts[1].Players})

	// Explorer: realtime in L1 is u3's then u2's.
	var evs eventsView
	f.view(t, f.a.SecretKey, "/dashboard/api/events", withFilter("kind", "realtime", "level_id", "L1"), &evs)
	require.Len(t, evs.Events, 2)
	require.Equal(t, []string{"u3", "u2"}, []string{evs.Events[0].PlayerID, evs.Events[1].PlayerID})
	f.view(t, f.a.SecretKey, "/dashboard/api/events", withFilter("kind", "player", "region", "EU"), &evs)
	require.Len(t, evs.Events, 1)
	require.Equal(t, "u1", evs.Events[0].PlayerID)
}

func TestFunnelBreakdowns(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	filterRows(t, f.db.Pool, f.a.AppID.String())
	filterRows(t, f.db.Pool, f.b.AppID.String())

	groups := func(by string) map[string][]int64 {
		var fun funnelView
		f.view(t, f.a.SecretKey, "/dashboard/api/funnel", withFilter("steps", "Start,End", "window", "2h", "by", by), &fun)
		require.Equal(t, by, fun.By)
		out := map[string][]int64{}
		for _, g := range fun.Groups {
			k := "(none)"
			if g.Value != nil {
				k = *g.Value
			}
			out[k] = []int64{g.Steps[0].Players, g.Steps[1].Players}
		}
		return out
	}
	require.Equal(t, map[string][]int64{"2.0": {2, 0}, "1.0": {1, 1}}, groups("build_id"))
	require.Equal(t, map[string][]int64{"EU": {1, 0}, "US": {1, 1}, "(none)": {1, 0}}, groups("region"))
	require.Equal(t, map[string][]int64{"kb": {1, 0}, "pad": {1, 0}, "(none)": {1, 1}}, groups("input_method"))
}

func TestFilterBadParameters(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	cases := []struct {
		path  string
		q     url.Values
		field string
	}{
		{"/dashboard/api/overview", url.Values{"build_id": {strings.Repeat("x", 257)}}, "build_id"},
		{"/dashboard/api/overview", url.Values{"region": {"EU\x01"}}, "region"},
		{"/dashboard/api/performance", url.Values{"input_method": {"a", "b"}}, "input_method"},
		{"/dashboard/api/funnel", url.Values{"steps": {"A"}, "level_id": {"\xff"}}, "level_id"},
		{"/dashboard/api/funnel", url.Values{"steps": {"A"}, "by": {"level_id"}}, "by"},
		{"/dashboard/api/retention", url.Values{"level_id": {"L1"}}, "level_id"},
		{"/dashboard/api/retention", url.Values{"input_method": {"pad"}}, "input_method"},
		{"/dashboard/api/player", url.Values{"player_id": {"p"}, "build_id": {"1"}}, "build_id"},
	}
	for _, c := range cases {
		status, body := f.get(t, f.a.SecretKey, c.path, c.q)
		require.Equal(t, http.StatusBadRequest, status, "%s %v", c.path, c.q)
		require.Equal(t, "invalid_parameter", body["error"])
		require.Equal(t, c.field, body["field"], "%s %v", c.path, c.q)
		require.Contains(t, body["message"], c.field)
	}
}
