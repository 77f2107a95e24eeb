package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// eventsRange is the range the level events tests ask for: 2026-03-01
// (rolled up), 2026-03-02 (not rolled up) and the first half of 2026-03-03.
var eventsRange = url.Values{"from": {"2026-03-01T00:00:00Z"}, "to": {"2026-03-03T12:00:00Z"}}

func TestLevelEvents(t *testing.T) {
	t.Parallel()

	// setup places gameplay events by hand, on a day the rollup job then
	// covers (2026-03-01) and on days it does not (2026-03-02, whose
	// rollup is forgotten, and today-like 2026-03-03, cut by the range).
	// p1 is in EU, p2 in US.
	setup := func(t *testing.T) *fixture {
		t.Helper()
		f := newFixture(t, nil)
		ctx := context.Background()
		a, b, db := f.a.AppID, f.b.AppID, f.db.Pool
		for p, region := range map[string]string{"p1": "EU", "p2": "US"} {
			_, err := db.Exec(ctx, `INSERT INTO players (app_id, player_id, region, first_seen, last_seen)
				VALUES ($1, $2, $3, $4, $4)`, a, p, region, ts("2026-02-01T00:00:00Z"))
			require.NoError(t, err)
		}
		at := []float64{1, 2, 3}
		for _, e := range []gameplayAt{
			// 2026-03-01, rolled up.
			{level: "L", name: "Death", player: "p1", input: "kb", pos: at, at: "2026-03-01T01:00:00Z"},
			{level: "L", name: "Death", player: "p1", input: "kb", pos: []float64{-50, 0, 70}, at: "2026-03-01T02:00:00Z"},
			{level: "L", name: "Death", player: "p1", input: "kb", pos: at, at: "2026-03-01T03:00:00Z"},
			{level: "L", name: "Death", player: "p2", input: "pad", build: "b2", pos: at, at: "2026-03-01T04:00:00Z"},
			{level: "L", name: "Jump", player: "p2", pos: at, at: "2026-03-01T05:00:00Z"},
			{level: "L", name: "Jump", player: "p2", pos: []float64{4, 5, 6}, at: "2026-03-01T06:00:00Z"},
			{level: "L", name: "Jump", player: "p2", at: "2026-03-01T07:00:00Z"},  // no position
			{level: "L", name: "Spawn", player: "p1", at: "2026-03-01T08:00:00Z"}, // never with a position
			{level: "M", name: "Death", player: "p1", pos: at, at: "2026-03-01T09:00:00Z"},
			{name: "Fall", player: "p1", pos: at, at: "2026-03-01T10:00:00Z"},
			// 2026-03-02, read raw.
			{level: "L", name: "Death", player: "p1", input: "kb", pos: at, at: "2026-03-02T01:00:00Z"},
			{level: "L", name: "Pickup", player: "p1", build: "b2", pos: at, at: "2026-03-02T02:00:00Z"},
			{level: "L", name: "Pickup", player: "p1", build: "b2", pos: at, at: "2026-03-02T03:00:00Z"},
			{level: "L", name: "Pickup", player: "p1", build: "b2", pos: at, at: "2026-03-02T04:00:00Z"},
			{level: "L", name: "Pickup", player: "p1", build: "b2", pos: at, at: "2026-03-02T05:00:00Z"},
			{name: "Fall", player: "p1", pos: at, at: "2026-03-02T06:00:00Z"},
			{name: "Drop", player: "p2", pos: at, at: "2026-03-02T07:00:00Z"},
			{name: "Drop", player: "p2", pos: at, at: "2026-03-02T08:00:00Z"},
			// 2026-03-03: in the range until noon.
			{level: "L", name: "Jump", player: "p2", pos: at, at: "2026-03-03T06:00:00Z"},
			// Outside the range.
			{level: "L", name: "Jump", player: "p2", pos: at, at: "2026-03-03T12:00:00Z"},
			{level: "L", name: "Jump", player: "p2", pos: at, at: "2026-03-03T18:00:00Z"},
			{level: "L", name: "Death", player: "p1", pos: at, at: "2026-02-28T23:59:59Z"},
		} {
			addGameplayAt(t, db, a, e)
		}
		for range 9 {
			addGameplayAt(t, db, b, gameplayAt{level: "L", name: "Other", pos: at, at: "2026-03-01T01:00:00Z"})
		}
		return f
	}
	type named struct {
		name string
		n    int64
	}
	events := func(t *testing.T, f *fixture, ref string, q url.Values) []named {
		t.Helper()
		var v levelEventsView
		f.view(t, f.a.SecretKey, levelURL(ref, "events"), q, &v)
		require.Equal(t, levelKeyOf(v.LevelID).ref(), v.Ref)
		require.False(t, v.Truncated)
		out := []named{}
		for _, e := range v.Events {
			out = append(out, named{e.Name, e.PositionedEvents})
		}
		return out
	}
	// rollUp rolls every day up, then forgets 2026-03-02's rollup, so that
	// the range mixes a rolled-up day with raw ones; it checks the days.
	rollUp := func(t *testing.T, f *fixture) {
		t.Helper()
		ctx := context.Background()
		_, err := Rollup(ctx, f.db.Pool, ts("2026-03-10T12:00:00Z"))
		require.NoError(t, err)
		_, err = f.db.Pool.Exec(ctx, `DELETE FROM dashboard_rollup_days WHERE day = '2026-03-02'`)
		require.NoError(t, err)
		readOnlyTx(t, f.db.Pool, func(tx pgx.Tx) error {
			rg := timeRange{From: ts("2026-03-01T00:00:00Z"), To: ts("2026-03-03T12:00:00Z")}
			covered, rest, err := rollupPlanWhere(ctx, tx, f.a.AppID, rg, levelSlicesDone)
			if err != nil {
				return err
			}
			require.Equal(t, []time.Time{ts("2026-03-01T00:00:00Z")}, covered)
			require.Equal(t, []timeRange{{From: ts("2026-03-02T00:00:00Z"), To: rg.To}}, rest)
			return nil
		})
	}
	// cases are the filters asked and the answer placed by hand.
	cases := []struct {
		name string
		ref  string
		q    url.Values
		want []named
	}{
		{"All", "L", eventsRange, []named{{"Death", 5}, {"Pickup", 4}, {"Jump", 3}}},
		{"Build", "L", with(eventsRange, "build_id", "b2"), []named{{"Pickup", 4}, {"Death", 1}}},
		{"Region", "L", with(eventsRange, "region", "US"), []named{{"Jump", 3}, {"Death", 1}}},
		{"InputMethod", "L", with(eventsRange, "input_method", "kb"), []named{{"Death", 4}}},
		{"BuildAndRegion", "L", with(eventsRange, "build_id", "b1", "region", "EU"), []named{{"Death", 4}}},
		{"NoMatch", "L", with(eventsRange, "region", "Nowhere"), []named{}},
		{"OtherLevel", "M", eventsRange, []named{{"Death", 1}}},
		// A tie is in name order.
		{"UnknownLevel", "~", eventsRange, []named{{"Drop", 2}, {"Fall", 2}}},
		{"NoData", "Nope", eventsRange, []named{}},
		{"RolledUpDayAlone", "L", url.Values{"from": {"2026-03-01T00:00:00Z"}, "to": {"2026-03-02T00:00:00Z"}},
			[]named{{"Death", 4}, {"Jump", 2}}},
	}

	t.Run("ByHand", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		raw := map[string][]named{}
		for _, c := range cases {
			raw[c.name] = events(t, f, c.ref, c.q)
			require.Equal(t, c.want, raw[c.name], "raw: %s", c.name)
		}
		rollUp(t, f)
		for _, c := range cases {
			require.Equal(t, c.want, events(t, f, c.ref, c.q), "rolled up: %s", c.name)
		}
	})

	t.Run("RolledUpDayReadFromTheRollup", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		rollUp(t, f)
		// Renaming the rolled-up day's raw rows changes nothing there; the
		// raw days' rows are read as they are.
		_, err := f.db.Pool.Exec(context.Background(), `UPDATE gameplay_events SET event_name = 'Renamed' WHERE app_id = $1`, f.a.AppID)
		require.NoError(t, err)
		require.Equal(t, []named{{"Renamed", 6}, {"Death", 4}, {"Jump", 2}}, events(t, f, "L", eventsRange))
	})

	t.Run("OtherApp", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		var v levelEventsView
		f.view(t, f.b.SecretKey, levelURL("L", "events"), eventsRange, &v)
		require.Equal(t, []levelEventCount{{Name: "Other", PositionedEvents: 9}}, v.Events)
		require.Equal(t, "L", *v.LevelID)
		require.Equal(t, eventsRange.Get("from"), v.From.Format(time.RFC3339))
	})

	t.Run("Capped", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil)
		// 201 names of one event each, and Top of two.
		_, err := f.db.Pool.Exec(context.Background(), `INSERT INTO gameplay_events (event_id, app_id, build_id, player_id,
				level_id, event_name, pos_x, pos_y, pos_z, "timestamp", received_at)
			SELECT gen_random_uuid(), $1, 'b1', 'p', 'Many', CASE WHEN g <= 201 THEN format('e%s', lpad(g::text, 3, '0')) ELSE 'Top' END,
				0, 0, 0, '2026-03-01T12:00:00Z', now()
			FROM generate_series(1, 203) g`, f.a.AppID)
		require.NoError(t, err)
		var v levelEventsView
		f.view(t, f.a.SecretKey, levelURL("Many", "events"), eventsRange, &v)
		require.True(t, v.Truncated)
		require.Len(t, v.Events, maxLevelEvents)
		require.Equal(t, levelEventCount{Name: "Top", PositionedEvents: 2}, v.Events[0])
		require.Equal(t, levelEventCount{Name: "e001", PositionedEvents: 1}, v.Events[1])
		require.Equal(t, fmt.Sprintf("e%03d", maxLevelEvents-1), v.Events[maxLevelEvents-1].Name)
	})
}

func TestLevelEventsBadParameters(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	path := levelURL("L", "events")
	for _, c := range []struct {
		q     url.Values
		field string
	}{
		{with(eventsRange, "level_id", "L"), "level_id"},
		{with(eventsRange, "region", "E\x00U"), "region"},
		{with(eventsRange, "build_id", "a", "build_id", "b"), "build_id"},
		{url.Values{"from": {"yesterday"}}, "from"},
		{url.Values{"from": {"2026-03-02T00:00:00Z"}, "to": {"2026-03-01T00:00:00Z"}}, "from"},
	} {
		body := f.badRequest(t, path, c.q, c.field)
		require.Equal(t, "invalid_parameter", body["error"], c.q)
		require.NotEmpty(t, body["message"], c.q)
	}
	body := f.badRequest(t, levelURL("bad\x01level", "events"), eventsRange, "ref")
	require.Equal(t, "invalid_parameter", body["error"])
	status, body := f.get(t, "", path, eventsRange)
	require.Equal(t, http.StatusUnauthorized, status)
	require.Equal(t, "unauthorized", body["error"])
}
