package dashboard

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

func TestOverview(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, nil)
	a, b, db := f.a.AppID.String(), f.b.AppID.String(), f.db.Pool
	addPlayer(t, db, a, "pa", "2026-03-01T10:00:00Z", "")
	addPlayer(t, db, a, "pb", "2026-03-02T09:00:00Z", "")
	addPlayer(t, db, a, "pz", "2026-02-20T00:00:00Z", "") // an old player
	addPlayerEvent(t, db, a, "pa", "2026-03-01T10:00:00Z")
	addPlayerEvent(t, db, a, "pb", "2026-03-02T09:00:00Z")
	addGameplay(t, db, a, "pa", "s1", "Jump", "", "2026-03-01T10:05:00Z")
	addGameplay(t, db, a, "pa", "s1", "Jump", "", "2026-03-01T11:00:00Z")
	addGameplay(t, db, a, "pz", "s9", "Shoot", "", "2026-03-02T12:00:00Z")
	addGameplay(t, db, a, "pc", "s5", "Jump", "", "2026-03-02T13:00:00Z") // no identity row
	addGameplay(t, db, a, "pa", "s2", "<img src=x onerror=alert(1)>", "", "2026-03-02T14:00:00Z")
	addStep(t, db, a, "b1", "pb", "s3", "Start", "2026-03-02T09:30:00Z")
	addTrajectory(t, db, a, "b1", "pz", "s9", [3]float64{60, 50, 40}, "2026-03-02T12:05:00Z")
	// Outside [from, to).
	addGameplay(t, db, a, "pa", "s1", "Jump", "", "2026-03-03T00:00:00Z")
	addGameplay(t, db, a, "pa", "s1", "Jump", "", "2026-02-28T23:59:59Z")
	// App B, with a player id that A has too.
	addPlayer(t, db, b, "pa", "2026-03-01T10:00:00Z", "")
	addGameplay(t, db, b, "pa", "s1", "Jump", "", "2026-03-01T10:05:00Z")
	addGameplay(t, db, b, "pq", "s1", "Secret_B", "", "2026-03-02T10:05:00Z")
	for i, app := range []string{a, b} {
		_, err := db.Exec(ctx, `INSERT INTO dead_letters (stream_seq, subject, data, reason, received_at)
			VALUES ($1, 'telemetry.' || $2 || '.gameplay', '\x00', 'test', '2026-03-01T12:00:00Z')`, i+1, app)
		require.NoError(t, err)
	}

	var got overviewView
	f.view(t, f.a.SecretKey, "/dashboard/api/overview", url.Values{
		"from": {"2026-03-01T00:00:00Z"}, "to": {"2026-03-03T00:00:00Z"}, "app_id": {b}}, &got)
	require.Equal(t, overviewTotals{
		Events:        map[string]int64{"player": 2, "funnel": 1, "gameplay": 5, "realtime": 1},
		ActivePlayers: 4, // pa pb pz pc
		NewPlayers:    2, // pa pb
		Sessions:      5, // pa/s1 pa/s2 pb/s3 pz/s9 pc/s5
		DeadLettered:  1,
	}, got.Totals)
	require.Equal(t, []overviewDay{
		{Day: day(ts("2026-03-01T00:00:00Z")), Events: map[string]int64{"player": 1, "funnel": 0, "gameplay": 2, "realtime": 0},
			ActivePlayers: 1, NewPlayers: 1, Sessions: 1},
		{Day: day(ts("2026-03-02T00:00:00Z")), Events: map[string]int64{"player": 1, "funnel": 1, "gameplay": 3, "realtime": 1},
			ActivePlayers: 4, NewPlayers: 1, Sessions: 4},
	}, got.Days)
	require.Equal(t, []eventCount{{"Jump", 3, 2}, {"<img src=x onerror=alert(1)>", 1, 1}, {"Shoot", 1, 1}}, got.TopEvents)

	// A range with no data has every day, all zeros.
	f.view(t, f.a.SecretKey, "/dashboard/api/overview", url.Values{
		"from": {"2025-01-01T12:00:00Z"}, "to": {"2025-01-02T12:00:00Z"}}, &got)
	require.Len(t, got.Days, 2)
	require.Equal(t, overviewTotals{Events: map[string]int64{"player": 0, "funnel": 0, "gameplay": 0, "realtime": 0}}, got.Totals)
	require.Empty(t, got.TopEvents)

	// No range: the last seven days up to now.
	var def overviewView
	f.view(t, f.a.SecretKey, "/dashboard/api/overview", nil, &def)
	require.WithinDuration(t, time.Now(), def.To, time.Minute)
	require.Equal(t, 7*24*time.Hour, def.To.Sub(def.From))
}

func TestRetention(t *testing.T) {
	t.Parallel()
	f := newFixture(t, &Config{Now: func() time.Time { return ts("2026-04-15T12:00:00Z") }})
	a, b, db := f.a.AppID.String(), f.b.AppID.String(), f.db.Pool
	addPlayer(t, db, a, "r1", "2026-03-01T10:00:00Z", "")
	addPlayer(t, db, a, "r2", "2026-03-01T20:00:00Z", "")
	addPlayer(t, db, a, "r3", "2026-03-02T08:00:00Z", "")
	addPlayer(t, db, a, "old", "2026-02-01T08:00:00Z", "")
	// r1 returns on days 1, 7 and 30.
	addGameplay(t, db, a, "r1", "s", "Jump", "", "2026-03-02T01:00:00Z")
	addGameplay(t, db, a, "r1", "s", "Jump", "", "2026-03-08T23:59:59Z")
	addGameplay(t, db, a, "r1", "s", "Jump", "", "2026-03-31T00:00:00Z")
	// r2 twice on day 1, once on day 4.
	addGameplay(t, db, a, "r2", "s", "Jump", "", "2026-03-02T10:00:00Z")
	addGameplay(t, db, a, "r2", "s", "Jump", "", "2026-03-02T11:00:00Z")
	addGameplay(t, db, a, "r2", "s", "Jump", "", "2026-03-05T11:00:00Z")
	// r3 returns on day 1 (a trajectory) and day 30 (a funnel step).
	addTrajectory(t, db, a, "b1", "r3", "s", [3]float64{60, 50, 40}, "2026-03-03T00:00:00Z")
	addStep(t, db, a, "b1", "r3", "s", "Start", "2026-04-01T05:00:00Z")
	// Active, with no identity row: in no cohort.
	addGameplay(t, db, a, "ghost", "s", "Jump", "", "2026-03-02T10:00:00Z")
	addGameplay(t, db, a, "ghost", "s", "Jump", "", "2026-03-03T10:00:00Z")
	// App B: its r1 returns every day of A's cohorts.
	addPlayer(t, db, b, "r1", "2026-03-01T10:00:00Z", "")
	addPlayer(t, db, b, "b2", "2026-03-02T10:00:00Z", "")
	for _, d := range []string{"02", "03", "08", "09", "31"} {
		addGameplay(t, db, b, "r1", "s", "Jump", "", "2026-03-"+d+"T10:00:00Z")
	}

	q := url.Values{"from": {"2026-03-01T00:00:00Z"}, "to": {"2026-03-03T00:00:00Z"}}
	var got retentionView
	f.view(t, f.a.SecretKey, "/dashboard/api/retention", q, &got)
	ret := func(n int64, rate float64) *returned { return &returned{Players: n, Rate: fl(rate)} }
	require.Equal(t, []cohort{
		{Day: day(ts("2026-03-01T00:00:00Z")), Players: 2,
			Returned: map[string]*returned{"1": ret(2, 1), "7": ret(1, 0.5), "30": ret(1, 0.5)}},
		{Day: day(ts("2026-03-02T00:00:00Z")), Players: 1,
			Returned: map[string]*returned{"1": ret(1, 1), "7": ret(0, 0), "30": ret(1, 1)}},
	}, got.Cohorts)

	// On 2026-03-10, day 30 has not come yet: null, not zero.
	early, err := New(&Config{Now: func() time.Time { return ts("2026-03-10T12:00:00Z") }}, &Deps{DB: db})
	require.NoError(t, err)
	v, err := early.viewRetention(context.Background(), f.a.AppID, q)
	require.NoError(t, err)
	c := v.(*retentionView).Cohorts[1]
	require.Equal(t, ret(0, 0), c.Returned["7"]) // 2026-03-09 has passed
	require.Nil(t, c.Returned["30"])

	f.view(t, f.b.SecretKey, "/dashboard/api/retention", q, &got)
	require.Equal(t, int64(1), got.Cohorts[0].Players)
	require.Equal(t, ret(1, 1), got.Cohorts[0].Returned["7"])
	require.Equal(t, ret(0, 0), got.Cohorts[1].Returned["1"])
}

func TestPerformance(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	a, b, db := f.a.AppID.String(), f.b.AppID.String(), f.db.Pool
	addPlayer(t, db, a, "g1", "2026-02-01T00:00:00Z", `{"gpu":"RTX 4090","ram":"32GB"}`)
	addPlayer(t, db, a, "g2", "2026-02-01T00:00:00Z", `{"gpu":"GTX 960"}`)
	addTrajectory(t, db, a, "b1", "g1", "s1", [3]float64{100, 80, 60}, "2026-03-01T10:00:00Z")
	addTrajectory(t, db, a, "b1", "g1", "s1", [3]float64{90, 70, 50}, "2026-03-01T10:10:00Z")
	addTrajectory(t, db, a, "b1", "g2", "s2", [3]float64{25, 20, 10}, "2026-03-01T11:00:00Z")
	addTrajectory(t, db, a, "b2", "g2", "s2", [3]float64{35, 30, 20}, "2026-03-01T11:30:00Z")
	addTrajectory(t, db, a, "b2", "g3", "s3", [3]float64{155, 140, 120}, "2026-03-01T12:00:00Z") // no players row
	addTrajectory(t, db, a, "b1", "g1", "s1", [3]float64{1, 1, 1}, "2026-03-02T00:00:00Z")       // at to
	addGameplay(t, db, a, "g1", "s1", "Enter", "L1", "2026-03-01T09:59:00Z")
	addGameplay(t, db, a, "g1", "s1", "Enter", "L2", "2026-03-01T10:05:00Z")
	addGameplay(t, db, a, "g1", "s1", "Jump", "", "2026-03-01T10:06:00Z") // no level: ignored
	addGameplay(t, db, a, "g2", "s2", "Enter", "L3", "2026-03-01T10:00:00Z")
	addGameplay(t, db, a, "g2", "s9", "Enter", "L9", "2026-03-01T10:59:00Z") // another session
	addPlayer(t, db, b, "g1", "2026-02-01T00:00:00Z", `{"gpu":"GTX 960"}`)
	addTrajectory(t, db, b, "b1", "g1", "s1", [3]float64{5, 5, 5}, "2026-03-01T10:00:00Z")
	addGameplay(t, db, b, "g2", "s2", "Enter", "L0", "2026-03-01T10:59:00Z")
	attribute(t, db, "2026-03-10T12:00:00Z")

	q := func(by string) url.Values {
		return url.Values{"from": {"2026-03-01T00:00:00Z"}, "to": {"2026-03-02T00:00:00Z"}, "by": {by}}
	}
	type row struct {
		value              string
		n, players         int64
		avg, p10, p50, p90 float64
		slow               float64
	}
	summary := func(v performanceView) []row {
		var out []row
		for _, g := range v.Groups {
			r := row{n: g.Trajectories, players: g.Players, avg: g.FPSMean.Avg, p10: g.FPSMean.P10, p50: g.FPSMean.P50, p90: g.FPSMean.P90, slow: g.SlowShare}
			if g.Value != nil {
				r.value = *g.Value
			}
			out = append(out, r)
		}
		return out
	}
	var got performanceView
	f.view(t, f.a.SecretKey, "/dashboard/api/performance", q("gpu"), &got)
	require.Equal(t, []row{
		{"GTX 960", 2, 1, 30, 26, 30, 34, 0.5},
		{"RTX 4090", 2, 1, 95, 91, 95, 99, 0},
		{"", 1, 1, 155, 155, 155, 155, 0},
	}, summary(got))
	require.Equal(t, fpsStats{Avg: 25, P10: 21, P50: 25, P90: 29}, got.Groups[0].FPSLow5)
	require.Equal(t, fpsStats{Avg: 15, P10: 11, P50: 15, P90: 19}, got.Groups[0].FPSLow1)
	hist := map[float64]int64{}
	var total int64
	for _, hb := range got.Histogram {
		if hb.Trajectories > 0 {
			hist[hb.From] = hb.Trajectories
		}
		total += hb.Trajectories
	}
	require.Equal(t, map[float64]int64{20: 1, 30: 1, 90: 1, 100: 1, 150: 1}, hist)
	require.Equal(t, int64(5), total)
	require.Len(t, got.Histogram, 16)
	require.Nil(t, got.Histogram[15].To)

	f.view(t, f.a.SecretKey, "/dashboard/api/performance", q("level_id"), &got)
	require.Equal(t, []row{
		{"L3", 2, 1, 30, 26, 30, 34, 0.5},
		{"L2", 1, 1, 90, 90, 90, 90, 0},
		{"L1", 1, 1, 100, 100, 100, 100, 0},
		{"", 1, 1, 155, 155, 155, 155, 0},
	}, summary(got))

	f.view(t, f.a.SecretKey, "/dashboard/api/performance", q("build_id"), &got)
	require.Equal(t, []row{
		{"b1", 3, 2, 215.0 / 3, 38, 90, 98, 1.0 / 3},
		{"b2", 2, 2, 95, 47, 95, 143, 0},
	}, summary(got))

	f.view(t, f.b.SecretKey, "/dashboard/api/performance", q("gpu"), &got)
	require.Equal(t, []row{{"GTX 960", 1, 1, 5, 5, 5, 5, 1}}, summary(got))

	status, body := f.get(t, f.a.SecretKey, "/dashboard/api/performance", url.Values{"by": {"region"}})
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "by", body["field"])
}

// TestQueryTimeout: a query past DASHBOARD_QUERY_TIMEOUT is cancelled by
// Postgres and answers 503 asking for a narrower range.
func TestQueryTimeout(t *testing.T) {
	t.Parallel()
	f := newFixture(t, &Config{QueryTimeout: 50 * time.Millisecond})
	err := f.h.readTx(context.Background(), func(tx pgx.Tx) error {
		_, err := tx.Exec(context.Background(), "SELECT pg_sleep(5)")
		return err
	})
	require.Error(t, err)
	rec := httptest.NewRecorder()
	f.h.writeError(rec, httptest.NewRequest(http.MethodGet, "/dashboard/api/overview", nil), err)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Contains(t, rec.Body.String(), `"error":"query_timeout"`)
	require.Contains(t, rec.Body.String(), "narrow the range")

	// Read-only: a view cannot write, whatever it runs.
	err = f.h.readTx(context.Background(), func(tx pgx.Tx) error {
		_, err := tx.Exec(context.Background(), "DELETE FROM apps")
		return err
	})
	require.ErrorContains(t, err, "read-only")
}
