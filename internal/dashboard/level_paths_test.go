package dashboard

import (
	"strconv"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func TestLevelSessionsAndPaths(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		f        *fixture
		t1, t2   uuid.UUID // p1/s1's trajectories, in time order
		t3       uuid.UUID // p2/s2's
		tUnknown uuid.UUID
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		f := newFixture(t, nil)
		a, b, db := f.a.AppID, f.b.AppID, f.db.Pool
		bd := &testBundle{f: f}
		// Inserted out of time order: the answers sort them.
		bd.t2 = addTrajectoryAt(t, db, a, trajectoryAt{player: "p1", session: "s1", level: "L1",
			fps: [3]*float64{fp(30), nil, nil}, positions: []float64{1, 2, 3}, start: "2026-03-01T10:10:00Z"})
		bd.t1 = addTrajectoryAt(t, db, a, trajectoryAt{player: "p1", session: "s1", level: "L1",
			fps: [3]*float64{fp(60), fp(55), fp(40)}, positions: []float64{0, 0, 0, 1, 0, -1},
			start: "2026-03-01T10:00:00Z", end: "2026-03-01T10:05:00Z"})
		bd.t3 = addTrajectoryAt(t, db, a, trajectoryAt{player: "p2", session: "s2", level: "L1",
			positions: []float64{5, 5, 5, 6, 6, 6, 7, 7, 7}, start: "2026-03-01T11:00:00Z", end: "2026-03-01T11:30:00Z"})
		bd.tUnknown = addTrajectoryAt(t, db, a, trajectoryAt{player: "p1", session: "s1",
			positions: []float64{9, 9, 9}, start: "2026-03-01T10:20:00Z"})
		// Not on L1's sessions or paths: another level, no session, out of
		// the range, another build, another app.
		addTrajectoryAt(t, db, a, trajectoryAt{player: "p1", session: "s3", level: "L2", positions: []float64{0, 0, 0}, start: "2026-03-01T12:00:00Z"})
		addTrajectoryAt(t, db, a, trajectoryAt{player: "p1", level: "L1", positions: []float64{0, 0, 0}, start: "2026-03-01T12:00:00Z"})
		addTrajectoryAt(t, db, a, trajectoryAt{player: "p1", session: "s1", level: "L1", positions: []float64{0, 0, 0}, start: "2026-03-02T00:00:00Z"})
		addTrajectoryAt(t, db, a, trajectoryAt{player: "p3", session: "s1", level: "L1", build: "b2", positions: []float64{0, 0, 0}, start: "2026-03-01T09:00:00Z"})
		addTrajectoryAt(t, db, b, trajectoryAt{player: "p1", session: "s1", level: "L1", positions: []float64{0, 0, 0}, start: "2026-03-01T10:30:00Z"})
		return bd
	}
	q := with(heatRange, "build_id", "b1")

	t.Run("Sessions", func(t *testing.T) {
		t.Parallel()
		bd := setup(t)
		f := bd.f
		var v levelSessionsView
		f.view(t, f.a.SecretKey, levelURL("L1", "sessions"), q, &v)
		require.Equal(t, "L1", *v.LevelID)
		require.Equal(t, []levelSession{
			{PlayerID: "p2", SessionID: "s2", Trajectories: 1, Points: 3, Start: ts("2026-03-01T11:00:00Z"), End: ts("2026-03-01T11:30:00Z")},
			{PlayerID: "p1", SessionID: "s1", Trajectories: 2, Points: 3, Start: ts("2026-03-01T10:00:00Z"), End: ts("2026-03-01T10:10:00Z")},
		}, v.Sessions)

		f.view(t, f.a.SecretKey, levelURL("L1", "sessions"), with(q, "limit", "1"), &v)
		require.Len(t, v.Sessions, 1)
		require.Equal(t, "s2", v.Sessions[0].SessionID)

		// Without the build filter, p3's session (build b2) counts too.
		f.view(t, f.a.SecretKey, levelURL("L1", "sessions"), heatRange, &v)
		require.Len(t, v.Sessions, 3)
		require.Equal(t, "p3", v.Sessions[2].PlayerID)

		// The unknown level's session.
		f.view(t, f.a.SecretKey, levelURL("~", "sessions"), q, &v)
		require.Nil(t, v.LevelID)
		require.Equal(t, []levelSession{{PlayerID: "p1", SessionID: "s1", Trajectories: 1, Points: 1,
			Start: ts("2026-03-01T10:20:00Z"), End: ts("2026-03-01T10:20:00Z")}}, v.Sessions)

		// App B sees its own.
		f.view(t, f.b.SecretKey, levelURL("L1", "sessions"), q, &v)
		require.Len(t, v.Sessions, 1)
		require.Equal(t, ts("2026-03-01T10:30:00Z"), v.Sessions[0].Start)

		for _, l := range []string{"0", "501", "x"} {
			f.badRequest(t, levelURL("L1", "sessions"), with(q, "limit", l), "limit")
		}
		f.badRequest(t, levelURL("L1", "sessions"), with(q, "level_id", "L1"), "level_id")
	})

	t.Run("Paths", func(t *testing.T) {
		t.Parallel()
		bd := setup(t)
		f := bd.f
		var v levelPathsView
		f.view(t, f.a.SecretKey, levelURL("L1", "paths"), with(q, "session_id", "s2", "session_id", "s1", "session_id", "s1"), &v)
		require.Equal(t, "L1", v.Ref)
		require.Len(t, v.Paths, 2)
		// Sessions in order of their first trajectory; trajectories in time
		// order.
		p := v.Paths[0]
		require.Equal(t, []string{"p1", "s1"}, []string{p.PlayerID, p.SessionID})
		require.Len(t, p.Trajectories, 2)
		end := ts("2026-03-01T10:05:00Z")
		require.Equal(t, pathTrajectory{EventID: bd.t1, TimestampStart: ts("2026-03-01T10:00:00Z"), TimestampEnd: &end,
			FPS: pathFPS{Mean: fp(60), Low5: fp(55), Low1: fp(40)}, Positions: []float64{0, 0, 0, 1, 0, -1}}, p.Trajectories[0])
		require.Equal(t, pathTrajectory{EventID: bd.t2, TimestampStart: ts("2026-03-01T10:10:00Z"),
			FPS: pathFPS{Mean: fp(30)}, Positions: []float64{1, 2, 3}}, p.Trajectories[1])
		require.Equal(t, []string{"p2", "s2"}, []string{v.Paths[1].PlayerID, v.Paths[1].SessionID})
		require.Equal(t, bd.t3, v.Paths[1].Trajectories[0].EventID)

		// Nulls are nulls in the JSON.
		_, raw := f.get(t, f.a.SecretKey, levelURL("L1", "paths"), with(q, "session_id", "s1"))
		tr := raw["paths"].([]any)[0].(map[string]any)["trajectories"].([]any)[1].(map[string]any)
		require.Nil(t, tr["timestamp_end"])
		require.Equal(t, map[string]any{"mean": 30.0, "low_5": nil, "low_1": nil}, tr["fps"])

		// player_id narrows; another player's session of that id is not
		// there.
		f.view(t, f.a.SecretKey, levelURL("L1", "paths"), with(q, "session_id", "s1", "player_id", "p2"), &v)
		require.Empty(t, v.Paths)
		f.view(t, f.a.SecretKey, levelURL("~", "paths"), with(q, "session_id", "s1"), &v)
		require.Len(t, v.Paths, 1)
		require.Equal(t, bd.tUnknown, v.Paths[0].Trajectories[0].EventID)
		var vb levelPathsView
		f.view(t, f.b.SecretKey, levelURL("L1", "paths"), with(q, "session_id", "s1"), &vb)
		require.Len(t, vb.Paths, 1)
		require.Equal(t, ts("2026-03-01T10:30:00Z"), vb.Paths[0].Trajectories[0].TimestampStart)

		f.badRequest(t, levelURL("L1", "paths"), q, "session_id")
		many := with(q)
		for i := range 21 {
			many.Add("session_id", "s"+strconv.Itoa(i))
		}
		body := f.badRequest(t, levelURL("L1", "paths"), many, "session_id")
		require.Contains(t, body["message"], "20")
		f.badRequest(t, levelURL("L1", "paths"), with(q, "session_id", ""), "session_id")
		f.badRequest(t, levelURL("L1", "paths"), with(q, "session_id", "s1", "input_method", "x\x00"), "input_method")
	})

	t.Run("PointCap", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil)
		a, db := f.a.AppID, f.db.Pool
		addTrajectoryAt(t, db, a, trajectoryAt{player: "p", session: "full", level: "L", positions: make([]float64, 3*maxPathPoints),
			start: "2026-03-01T10:00:00Z"})
		addTrajectoryAt(t, db, a, trajectoryAt{player: "p", session: "one", level: "L", positions: []float64{1, 1, 1},
			start: "2026-03-01T11:00:00Z"})
		var v levelPathsView
		f.view(t, f.a.SecretKey, levelURL("L", "paths"), with(heatRange, "session_id", "full"), &v)
		require.Len(t, v.Paths[0].Trajectories[0].Positions, 3*maxPathPoints)
		body := f.badRequest(t, levelURL("L", "paths"), with(heatRange, "session_id", "full", "session_id", "one"), "session_id")
		require.Equal(t, "too_many_points", body["error"])
		require.Contains(t, body["message"], "200000")
	})
}
