package dashboard

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

// funnelFixture writes the funnel rows of docs/dashboard.md's worked
// example: steps Start, Move, End; window 1h; range 2026-03-01..03-04.
func funnelFixture(t *testing.T) *fixture {
	f := newFixture(t, nil)
	a, db := f.a.AppID.String(), f.db.Pool
	// p1 completes: +300s, +900s.
	addStep(t, db, a, "1.0.2", "p1", "s1", "Start", "2026-03-01T10:00:00Z")
	addStep(t, db, a, "1.0.2", "p1", "s1", "Move", "2026-03-01T10:05:00Z")
	addStep(t, db, a, "1.0.2", "p1", "s1", "End", "2026-03-01T10:20:00Z")
	// p2 starts twice (the first counts) in two sessions: +1800s, +600s.
	addStep(t, db, a, "1.0.2", "p2", "s2a", "Start", "2026-03-01T10:00:00Z")
	addStep(t, db, a, "1.0.2", "p2", "s2b", "Start", "2026-03-01T10:10:00Z")
	addStep(t, db, a, "1.0.2", "p2", "s2b", "Move", "2026-03-01T10:30:00Z")
	addStep(t, db, a, "1.0.2", "p2", "s2b", "End", "2026-03-01T10:40:00Z")
	// p3 out of order: Move before Start and End before Move do not
	// count; Move at +1200s does.
	addStep(t, db, a, "1.0.3", "p3", "s3", "Move", "2026-03-01T09:00:00Z")
	addStep(t, db, a, "1.0.3", "p3", "s3", "Start", "2026-03-01T09:30:00Z")
	addStep(t, db, a, "1.0.3", "p3", "s3", "End", "2026-03-01T09:40:00Z")
	addStep(t, db, a, "1.0.3", "p3", "s3", "Move", "2026-03-01T09:50:00Z")
	// p4's End is one second outside the window: +600s, then nothing.
	addStep(t, db, a, "1.0.3", "p4", "s4", "Start", "2026-03-01T12:00:00Z")
	addStep(t, db, a, "1.0.3", "p4", "s4", "Move", "2026-03-01T12:10:00Z")
	addStep(t, db, a, "1.0.3", "p4", "s4", "End", "2026-03-01T13:00:01Z")
	// p5 has no identity row (no players row) and completes: +60s, +60s.
	addStep(t, db, a, "1.0.3", "p5", "s5", "Start", "2026-03-02T08:00:00Z")
	addStep(t, db, a, "1.0.3", "p5", "s5", "Move", "2026-03-02T08:01:00Z")
	addStep(t, db, a, "1.0.3", "p5", "s5", "End", "2026-03-02T08:02:00Z")
	// p6 never starts.
	addStep(t, db, a, "1.0.3", "p6", "s6", "Move", "2026-03-02T08:01:00Z")
	addStep(t, db, a, "1.0.3", "p6", "s6", "End", "2026-03-02T08:02:00Z")
	// p7 enters just before to; its Move after to is within the window:
	// +2400s.
	addStep(t, db, a, "1.0.3", "p7", "s7", "Start", "2026-03-03T23:30:00Z")
	addStep(t, db, a, "1.0.3", "p7", "s7", "Move", "2026-03-04T00:10:00Z")
	// p8 started before from: not in the funnel.
	addStep(t, db, a, "1.0.3", "p8", "s8", "Start", "2026-02-28T23:50:00Z")
	addStep(t, db, a, "1.0.3", "p8", "s8", "Move", "2026-03-01T00:05:00Z")
	// p9 only starts.
	addStep(t, db, a, "1.0.2", "p9", "s9", "Start", "2026-03-02T09:00:00Z")
	// p10 starts at to: outside the range.
	addStep(t, db, a, "1.0.2", "p10", "s10", "Start", "2026-03-04T00:00:00Z")
	addPlayer(t, db, a, "p1", "2026-03-01T09:00:00Z", "")
	// App B: the same player ids, and more of them.
	b := f.b.AppID.String()
	for _, p := range []string{"p1", "p2", "p3", "p4", "p5", "p6", "b1", "b2"} {
		addStep(t, db, b, "1.0.2", p, "s", "Start", "2026-03-01T10:00:00Z")
		addStep(t, db, b, "1.0.2", p, "s", "Move", "2026-03-01T10:00:01Z")
		addStep(t, db, b, "1.0.2", p, "s", "End", "2026-03-01T10:00:02Z")
	}
	return f
}

func fl(v float64) *float64 { return &v }

var funnelQuery = url.Values{"steps": {"Start,Move,End"}, "window": {"1h"},
	"from": {"2026-03-01T00:00:00Z"}, "to": {"2026-03-04T00:00:00Z"}}

func TestFunnel(t *testing.T) {
	t.Parallel()
	f := funnelFixture(t)

	t.Run("PerPlayer", func(t *testing.T) {
		t.Parallel()
		var got funnelView
		f.view(t, f.a.SecretKey, "/dashboard/api/funnel", funnelQuery, &got)
		require.Equal(t, "1h0m0s", got.Window)
		require.Equal(t, "player", got.Per)
		// Entered: p1 p2 p3 p4 p5 p7 p9. Move: all but p9, gaps 300 1800
		// 1200 600 60 2400 (sorted 60 300 600 1200 1800 2400: median
		// (600+1200)/2, p90 at rank 4.5 = 1800+0.5*600). End: p1 p2 p5,
		// gaps 900 600 60 (median 600, p90 at rank 1.8 = 600+0.8*300).
		require.Equal(t, []funnelStep{
			{Name: "Start", Players: 7, ConversionFromFirst: fl(1), ConversionFromPrevious: fl(1)},
			{Name: "Move", Players: 6, DropOff: 1, ConversionFromFirst: fl(6.0 / 7), ConversionFromPrevious: fl(6.0 / 7),
				MedianSeconds: fl(900), P90Seconds: fl(2100)},
			{Name: "End", Players: 3, DropOff: 3, ConversionFromFirst: fl(3.0 / 7), ConversionFromPrevious: fl(0.5),
				MedianSeconds: fl(600), P90Seconds: fl(840)},
		}, got.Steps)
	})

	t.Run("PerSession", func(t *testing.T) {
		t.Parallel()
		q := url.Values{"per": {"session"}}
		for k, v := range funnelQuery {
			q[k] = v
		}
		var got funnelView
		f.view(t, f.a.SecretKey, "/dashboard/api/funnel", q, &got)
		// p2's first session only starts; its second completes
		// (+1200s, +600s).
		require.Equal(t, []int64{8, 6, 3}, []int64{got.Steps[0].Players, got.Steps[1].Players, got.Steps[2].Players})
		require.Equal(t, 900.0, *got.Steps[1].MedianSeconds)
	})

	t.Run("ByBuild", func(t *testing.T) {
		t.Parallel()
		q := url.Values{"by": {"build_id"}}
		for k, v := range funnelQuery {
			q[k] = v
		}
		var got funnelView
		f.view(t, f.a.SecretKey, "/dashboard/api/funnel", q, &got)
		require.Empty(t, got.Steps)
		require.Len(t, got.Groups, 2)
		// 1.0.3 (p3 p4 p5 p7) entered more than 1.0.2 (p1 p2 p9).
		g := got.Groups[0]
		require.Equal(t, "1.0.3", *g.Value)
		require.Equal(t, []int64{4, 4, 1}, []int64{g.Steps[0].Players, g.Steps[1].Players, g.Steps[2].Players})
		require.Equal(t, 0.25, *g.Steps[2].ConversionFromPrevious)
		// Gaps 1200 600 60 2400: median 900.
		require.Equal(t, 900.0, *g.Steps[1].MedianSeconds)
		g = got.Groups[1]
		require.Equal(t, "1.0.2", *g.Value)
		require.Equal(t, []int64{3, 2, 2}, []int64{g.Steps[0].Players, g.Steps[1].Players, g.Steps[2].Players})
		require.Equal(t, 1050.0, *g.Steps[1].MedianSeconds) // 300 and 1800
	})

	t.Run("ShorterWindow", func(t *testing.T) {
		t.Parallel()
		q := url.Values{"window": {"20m"}}
		for k, v := range funnelQuery {
			if k != "window" {
				q[k] = v
			}
		}
		var got funnelView
		f.view(t, f.a.SecretKey, "/dashboard/api/funnel", q, &got)
		// Within 20 minutes of Start: Move for p1 (5m), p3 (20m, the
		// edge counts), p4 (10m), p5; End only for p1 (20m) and p5.
		require.Equal(t, []int64{7, 4, 2}, []int64{got.Steps[0].Players, got.Steps[1].Players, got.Steps[2].Players})
	})

	t.Run("EmptyRange", func(t *testing.T) {
		t.Parallel()
		var got funnelView
		f.view(t, f.a.SecretKey, "/dashboard/api/funnel", url.Values{"steps": {"Start,Move"},
			"from": {"2025-01-01T00:00:00Z"}, "to": {"2025-01-02T00:00:00Z"}}, &got)
		require.Equal(t, []funnelStep{{Name: "Start"}, {Name: "Move"}}, got.Steps)
	})

	t.Run("OtherAppNeverVisible", func(t *testing.T) {
		t.Parallel()
		var got funnelView
		q := url.Values{"app_id": {f.a.AppID.String()}}
		for k, v := range funnelQuery {
			q[k] = v
		}
		f.view(t, f.b.SecretKey, "/dashboard/api/funnel", q, &got)
		require.Equal(t, []int64{8, 8, 8}, []int64{got.Steps[0].Players, got.Steps[1].Players, got.Steps[2].Players})
	})

	t.Run("StepNames", func(t *testing.T) {
		t.Parallel()
		var got funnelStepsView
		f.view(t, f.a.SecretKey, "/dashboard/api/funnel/steps", funnelQuery, &got)
		// In [from, to): Start 8 by 7 players (p2 twice; p8 before from,
		// p10 at to), Move 8 by 7 (p3 twice, p8; p7's is after to), End 6.
		// Ties by name.
		require.Equal(t, []eventCount{{"Move", 8, 7}, {"Start", 8, 7}, {"End", 6, 6}}, got.Steps)
	})
}

func TestFunnelBadParameters(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	for _, tc := range []struct {
		name  string
		q     url.Values
		field string
	}{
		{"NoSteps", url.Values{}, "steps"},
		{"EmptyStep", url.Values{"steps": {"A,,B"}}, "steps"},
		{"RepeatedStep", url.Values{"steps": {"A,B,A"}}, "steps"},
		{"TooManySteps", url.Values{"steps": {"1,2,3,4,5,6,7,8,9,10,11"}}, "steps"},
		{"BadWindow", url.Values{"steps": {"A"}, "window": {"soon"}}, "window"},
		{"WindowTooLong", url.Values{"steps": {"A"}, "window": {"31d"}}, "window"},
		{"BadBy", url.Values{"steps": {"A"}, "by": {"region; DROP TABLE apps"}}, "by"},
		{"BadPer", url.Values{"steps": {"A"}, "per": {"team"}}, "per"},
		{"BadFrom", url.Values{"steps": {"A"}, "from": {"yesterday"}}, "from"},
		{"BadTo", url.Values{"steps": {"A"}, "to": {"2026-13-01T00:00:00Z"}}, "to"},
		{"Backwards", url.Values{"steps": {"A"}, "from": {"2026-03-02T00:00:00Z"}, "to": {"2026-03-01T00:00:00Z"}}, "from"},
		{"TooLong", url.Values{"steps": {"A"}, "from": {"2025-01-01T00:00:00Z"}, "to": {"2026-03-01T00:00:00Z"}}, "from"},
	} {
		status, body := f.get(t, f.a.SecretKey, "/dashboard/api/funnel", tc.q)
		require.Equal(t, http.StatusBadRequest, status, tc.name)
		require.Equal(t, "invalid_parameter", body["error"], tc.name)
		require.Equal(t, tc.field, body["field"], tc.name)
		require.Contains(t, body["message"], tc.field, tc.name)
	}
}
