package dashboard

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExplorer(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	a, b, db := f.a.AppID.String(), f.b.AppID.String(), f.db.Pool
	addPlayer(t, db, a, "p1", "2026-03-01T09:00:00Z", `{"gpu":"RTX 4090"}`)
	addGameplay(t, db, a, "p1", "s1", "Jump", "L1", "2026-03-01T10:00:00Z")
	addGameplay(t, db, a, "p1", "s1", "Shoot", "L2", "2026-03-01T10:05:00Z")
	addGameplay(t, db, a, "p1", "s2", "Jump", "", "2026-03-02T10:00:00Z")
	addGameplay(t, db, a, "p2", "s3", "Jump", "L1", "2026-03-01T11:00:00Z")
	addStep(t, db, a, "1.0.3", "p1", "s1", "Start", "2026-03-01T09:59:00Z")
	addTrajectory(t, db, a, "1.0.3", "p1", "s2", [3]float64{60, 50, 40}, "2026-03-02T10:01:00Z")
	_, err := db.Exec(t.Context(), `UPDATE gameplay_events SET custom_data = '{"note":"<script>x</script>","n":[1,2]}'
		WHERE event_name = 'Shoot'`)
	require.NoError(t, err)
	addGameplay(t, db, b, "p1", "s1", "Jump", "L1", "2026-03-01T10:00:00Z")
	rng := url.Values{"from": {"2026-03-01T00:00:00Z"}, "to": {"2026-03-03T00:00:00Z"}}
	with := func(kv ...string) url.Values {
		q := url.Values{}
		for k, v := range rng {
			q[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			q.Set(kv[i], kv[i+1])
		}
		return q
	}
	names := func(v eventsView) []string {
		var out []string
		for _, e := range v.Events {
			n := "<nil>"
			if e.Name != nil {
				n = *e.Name
			}
			out = append(out, e.PlayerID+"/"+*e.SessionID+"/"+n)
		}
		return out
	}

	var ev eventsView
	f.view(t, f.a.SecretKey, "/dashboard/api/events", with(), &ev)
	require.Equal(t, []string{"p1/s2/Jump", "p2/s3/Jump", "p1/s1/Shoot", "p1/s1/Jump"}, names(ev), "latest first, app A only")
	var fields map[string]any
	require.NoError(t, json.Unmarshal(ev.Events[2].Fields, &fields))
	require.Equal(t, map[string]any{"level_id": "L2", "custom_data": map[string]any{"note": "<script>x</script>", "n": []any{1.0, 2.0}}}, fields)

	f.view(t, f.a.SecretKey, "/dashboard/api/events", with("player_id", "p1", "name", "Jump"), &ev)
	require.Equal(t, []string{"p1/s2/Jump", "p1/s1/Jump"}, names(ev))
	f.view(t, f.a.SecretKey, "/dashboard/api/events", with("session_id", "s1", "limit", "1"), &ev)
	require.Equal(t, []string{"p1/s1/Shoot"}, names(ev))
	_, err = db.Exec(t.Context(), `UPDATE trajectories SET level_id = 'L9' WHERE app_id = $1`, a)
	require.NoError(t, err)
	f.view(t, f.a.SecretKey, "/dashboard/api/events", with("kind", "realtime"), &ev)
	require.Len(t, ev.Events, 1)
	require.Nil(t, ev.Events[0].Name)
	require.NoError(t, json.Unmarshal(ev.Events[0].Fields, &fields))
	require.Equal(t, "L9", fields["level_id"], "a trajectory's level, sent or attributed")
	f.view(t, f.b.SecretKey, "/dashboard/api/events", with(), &ev)
	require.Equal(t, []string{"p1/s1/Jump"}, names(ev))

	var pv playerView
	f.view(t, f.a.SecretKey, "/dashboard/api/player", with("player_id", "p1"), &pv)
	require.NotNil(t, pv.Identity)
	require.JSONEq(t, `{"gpu":"RTX 4090"}`, string(pv.Identity.Hardware))
	require.Len(t, pv.Sessions, 2)
	s2, s1 := pv.Sessions[0], pv.Sessions[1]
	require.Equal(t, "s2", s2.SessionID)
	require.Equal(t, []int64{1, 0, 1}, []int64{s2.Gameplay, s2.Funnel, s2.Realtime})
	require.Equal(t, "s1", s1.SessionID)
	require.Equal(t, ts("2026-03-01T09:59:00Z"), s1.Start.UTC())
	require.Equal(t, ts("2026-03-01T10:05:00Z"), s1.End.UTC())
	require.Equal(t, []string{"L1", "L2"}, s1.Levels)
	require.Equal(t, []string{"Start"}, s1.FunnelSteps)

	f.view(t, f.a.SecretKey, "/dashboard/api/player", with("player_id", "p2"), &pv)
	require.Nil(t, pv.Identity, "no identity row")
	require.Len(t, pv.Sessions, 1)
	f.view(t, f.b.SecretKey, "/dashboard/api/player", with("player_id", "p2"), &pv)
	require.Empty(t, pv.Sessions)

	for _, tc := range []struct {
		path  string
		q     url.Values
		field string
	}{
		{"/dashboard/api/events", with("kind", "secret"), "kind"},
		{"/dashboard/api/events", with("limit", "501"), "limit"},
		{"/dashboard/api/events", with("limit", "x"), "limit"},
		{"/dashboard/api/player", with(), "player_id"},
	} {
		status, body := f.get(t, f.a.SecretKey, tc.path, tc.q)
		require.Equal(t, http.StatusBadRequest, status, tc)
		require.Equal(t, tc.field, body["field"], tc)
	}
}
