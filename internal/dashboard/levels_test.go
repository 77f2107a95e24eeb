package dashboard

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// levelRows writes level events and trajectories of app, player p, by
// session, each case in a session of its own.
type levelRows struct {
	t      *testing.T
	db     *pgxpool.Pool
	app, p string
}

// event adds a gameplay event (kind "g") or funnel step ("f") naming level;
// id, when set, is its event_id.
func (r levelRows) event(kind, session, level, at, id string) {
	r.t.Helper()
	var eid any
	if id != "" {
		eid = id
	}
	table, name := "gameplay_events", "event_name"
	if kind == "f" {
		table, name = "funnel_steps", "funnel_step_name"
	}
	_, err := r.db.Exec(context.Background(), `INSERT INTO `+table+` (event_id, app_id, build_id, player_id, session_id, level_id, `+name+`, "timestamp", received_at)
		VALUES (coalesce($1::uuid, gen_random_uuid()), $2, 'b1', $3, $4, NULLIF($5, ''), 'E', $6, now())`, eid, r.app, r.p, session, level, ts(at))
	require.NoError(r.t, err)
}

// traj adds a trajectory of session over [start, end] (no end when end is
// empty), with the client's level when level is set.
func (r levelRows) traj(session, start, end, level string) {
	r.t.Helper()
	var e any
	if end != "" {
		e = ts(end)
	}
	_, err := r.db.Exec(context.Background(), `INSERT INTO trajectories (event_id, app_id, build_id, player_id, session_id, level_id,
			fps_mean, fps_low_5, fps_low_1, positions, num_points, timestamp_start, timestamp_end, received_at)
		VALUES (gen_random_uuid(), $1, 'b1', $2, $3, NULLIF($4, ''), 60, 50, 40, '{0,0,0}', 1, $5, $6, now())`,
		r.app, r.p, session, level, ts(start), e)
	require.NoError(r.t, err)
}

// trajLevel is a stored trajectory's level ("" for NULL) and whether it
// was attributed.
type trajLevel struct {
	Level      string
	Attributed bool
}

// levelsBySession reads app's trajectories of player p as session → their
// levels in time order.
func levelsBySession(t *testing.T, db *pgxpool.Pool, app, p string) map[string][]trajLevel {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT session_id, level_id, level_attributed FROM trajectories
		WHERE app_id = $1 AND player_id = $2 ORDER BY session_id, timestamp_start`, app, p)
	require.NoError(t, err)
	out := map[string][]trajLevel{}
	var (
		s     string
		level *string
		l     trajLevel
	)
	_, err = pgx.ForEachRow(rows, []any{&s, &level, &l.Attributed}, func() error {
		l.Level = ""
		if level != nil {
			l.Level = *level
		}
		out[s] = append(out[s], l)
		return nil
	})
	require.NoError(t, err)
	return out
}

// trajectoryVersions are every trajectory row's id with its xmin, which
// changes whenever the row is written.
func trajectoryVersions(t *testing.T, db *pgxpool.Pool) []string {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT event_id::text || '@' || xmin::text FROM trajectories ORDER BY 1`)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return out
}

func lv(level string) trajLevel { return trajLevel{Level: level, Attributed: true} }

var (
	noLevel = trajLevel{Attributed: true}
	pending = trajLevel{}
)

// TestLevelAttribution: a trajectory takes the level of its session's
// latest gameplay event or funnel step at or before its start, else the
// first inside its window, gameplay first and then the greater event_id at
// one instant, within 24 hours; none is the unknown level; a level sent by
// the client wins; a rerun writes nothing; a late event attributes its
// session's trajectories again; other players and apps never count.
func TestLevelAttribution(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	db := f.db.Pool
	for _, app := range []string{f.a.AppID.String(), f.b.AppID.String()} {
		r := levelRows{t: t, db: db, app: app, p: "p1"}
		// Before: the latest at or before the start, a funnel step as
		// well as a gameplay event; an event without a level is no level
		// event.
		r.event("g", "before", "L1", "2026-03-02T09:00:00Z", "")
		r.event("f", "before", "L2", "2026-03-02T09:30:00Z", "")
		r.event("g", "before", "", "2026-03-02T09:45:00Z", "")
		r.traj("before", "2026-03-02T10:00:00Z", "2026-03-02T10:01:00Z", "")
		r.event("g", "before", "L3", "2026-03-02T10:15:00Z", "")
		r.traj("before", "2026-03-02T10:30:00Z", "2026-03-02T10:31:00Z", "")
		// Inside: nothing before, the first event within [start, end].
		r.event("g", "inside", "L4", "2026-03-02T10:00:30Z", "")
		r.event("g", "inside", "L5", "2026-03-02T10:00:50Z", "")
		r.traj("inside", "2026-03-02T10:00:00Z", "2026-03-02T10:01:00Z", "")
		// After the window, or no end: none.
		r.event("g", "after", "L6", "2026-03-02T10:01:01Z", "")
		r.traj("after", "2026-03-02T10:00:00Z", "2026-03-02T10:01:00Z", "")
		r.event("g", "noend", "L6", "2026-03-02T10:00:01Z", "")
		r.traj("noend", "2026-03-02T10:00:00Z", "", "")
		// Ties at one instant (the trajectory's start is one too: an
		// event then is before it): gameplay before funnel, then the
		// greater event_id, both before and inside.
		r.event("g", "tie-kind", "G", "2026-03-02T10:00:00Z", "00000000-0000-4000-8000-000000000001")
		r.event("f", "tie-kind", "F", "2026-03-02T10:00:00Z", "ffffffff-ffff-4fff-bfff-ffffffffffff")
		r.traj("tie-kind", "2026-03-02T10:00:00Z", "2026-03-02T10:00:00Z", "")
		r.event("f", "tie-id", "A", "2026-03-02T10:00:00Z", "0fffffff-ffff-4fff-bfff-ffffffffffff")
		r.event("f", "tie-id", "B", "2026-03-02T10:00:00Z", "f0000000-0000-4000-8000-000000000000")
		r.traj("tie-id", "2026-03-02T10:05:00Z", "2026-03-02T10:06:00Z", "")
		r.event("f", "tie-inside", "F", "2026-03-02T10:02:00Z", "ffffffff-ffff-4fff-bfff-ffffffffffff")
		r.event("g", "tie-inside", "G1", "2026-03-02T10:02:00Z", "00000000-0000-4000-8000-000000000001")
		r.event("g", "tie-inside", "G2", "2026-03-02T10:02:00Z", "00000000-0000-4000-8000-000000000002")
		r.event("g", "tie-inside", "LATER", "2026-03-02T10:03:00Z", "")
		r.traj("tie-inside", "2026-03-02T10:00:00Z", "2026-03-02T10:10:00Z", "")
		// 24 hours: an event of the day before counts up to 24 h back.
		r.event("g", "day", "D", "2026-03-01T10:00:00Z", "")
		r.traj("day", "2026-03-02T10:00:00Z", "2026-03-02T10:00:00Z", "")
		r.traj("day", "2026-03-02T10:00:01Z", "2026-03-02T10:00:01Z", "")
		// No level events at all: the unknown level.
		r.traj("none", "2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z", "")
		// The client's level wins.
		r.event("g", "sent", "L1", "2026-03-02T09:00:00Z", "")
		r.traj("sent", "2026-03-02T10:00:00Z", "2026-03-02T10:01:00Z", "MINE")
	}
	// The same session id for another player, and app B's own levels for
	// it, never count for app A's p1.
	levelRows{t: t, db: db, app: f.a.AppID.String(), p: "p2"}.event("g", "none", "OTHER", "2026-03-02T09:00:00Z", "")
	levelRows{t: t, db: db, app: f.b.AppID.String(), p: "p1"}.event("g", "none", "OTHER", "2026-03-02T09:00:00Z", "")

	a := f.a.AppID.String()
	require.Equal(t, pending, levelsBySession(t, db, a, "p1")["before"][0], "waiting for the job")
	st := attribute(t, db, "2026-03-10T12:00:00Z")
	require.Equal(t, 2, st.LevelDays, "2026-03-02 of both apps")
	want := map[string][]trajLevel{
		"before":     {lv("L2"), lv("L3")},
		"inside":     {lv("L4")},
		"after":      {noLevel},
		"noend":      {noLevel},
		"tie-kind":   {lv("G")},
		"tie-id":     {lv("B")},
		"tie-inside": {lv("G2")},
		"day":        {lv("D"), noLevel},
		"none":       {noLevel},
		"sent":       {{Level: "MINE"}},
	}
	require.Equal(t, want, levelsBySession(t, db, a, "p1"))

	// Again: no row is written.
	versions := trajectoryVersions(t, db)
	st = attribute(t, db, "2026-03-10T12:00:00Z")
	require.Zero(t, st.LevelDays)
	require.Equal(t, versions, trajectoryVersions(t, db))

	// A late event re-attributes its session's trajectories, on its day
	// and the next: 2026-03-01's count changed, so 03-02 is attributed
	// again.
	r := levelRows{t: t, db: db, app: a, p: "p1"}
	r.event("g", "day", "LATE", "2026-03-01T23:00:00Z", "")
	r.event("f", "none", "LATE", "2026-03-02T10:59:00Z", "")
	st = attribute(t, db, "2026-03-10T12:00:00Z")
	require.Equal(t, 1, st.LevelDays)
	want["day"] = []trajLevel{lv("LATE"), lv("LATE")}
	want["none"] = []trajLevel{lv("LATE")}
	require.Equal(t, want, levelsBySession(t, db, a, "p1"))
	require.Equal(t, lv("OTHER"), levelsBySession(t, db, f.b.AppID.String(), "p1")["none"][0], "app B's own")
}

// TestLevelAttributionBoundedAndConcurrent: a run attributes app-days
// within its budget, newest first, and leaves the rest to the next run;
// runs at once on several connections agree with one run.
func TestLevelAttributionBoundedAndConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, nil)
	db := f.db.Pool
	r := levelRows{t: t, db: db, app: f.a.AppID.String(), p: "p1"}
	for _, d := range []string{"01", "02", "03"} {
		r.event("g", "s"+d, "L"+d, "2026-03-"+d+"T09:00:00Z", "")
		r.traj("s"+d, "2026-03-"+d+"T10:00:00Z", "2026-03-"+d+"T10:00:00Z", "")
		r.traj("s"+d, "2026-03-"+d+"T11:00:00Z", "2026-03-"+d+"T11:00:00Z", "")
	}
	today := ts("2026-03-10T00:00:00Z")
	from := today.AddDate(0, 0, -RollupLookback)
	run := func(budget int64) RollupStats {
		t.Helper()
		counts, err := rawCounts(ctx, db, from.AddDate(0, 0, -1), today.AddDate(0, 0, 2))
		require.NoError(t, err)
		var st RollupStats
		require.NoError(t, attributeLevels(ctx, db, counts, from, today, budget, &st))
		return st
	}
	// A budget of 3 trajectories takes one day (two trajectories) a run;
	// a budget of 1 still takes one.
	require.Equal(t, RollupStats{LevelDays: 1, LevelDaysLeft: 2}, run(3))
	got := levelsBySession(t, db, r.app, "p1")
	require.Equal(t, []trajLevel{lv("L03"), lv("L03")}, got["s03"], "the newest day first")
	require.Equal(t, []trajLevel{pending, pending}, got["s01"])
	require.Equal(t, RollupStats{LevelDays: 1, LevelDaysLeft: 1}, run(1))
	require.Equal(t, RollupStats{LevelDays: 1}, run(4))
	want := levelsBySession(t, db, r.app, "p1")
	require.Equal(t, []trajLevel{lv("L01"), lv("L01")}, want["s01"])

	// Forget it all, then run four times at once.
	_, err := db.Exec(ctx, `UPDATE trajectories SET level_id = NULL, level_attributed = false`)
	require.NoError(t, err)
	_, err = db.Exec(ctx, `DELETE FROM dashboard_level_days`)
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			_, err := Rollup(ctx, db, ts("2026-03-10T12:00:00Z"))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, want, levelsBySession(t, db, r.app, "p1"))
	require.Equal(t, RollupStats{}, run(LevelAttributionBudget), "nothing left to do")
}

// TestStepInputMethods: a funnel step takes the input method of its
// session's latest gameplay event at or before it, within 24 hours, the
// greater event_id at one instant; none without one; a late gameplay event
// changes it at the next run.
func TestStepInputMethods(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	db := f.db.Pool
	ctx := context.Background()
	exec := func(sql string, args ...any) {
		t.Helper()
		_, err := db.Exec(ctx, sql, args...)
		require.NoError(t, err)
	}
	a := f.a.AppID.String()
	for _, app := range []string{a, f.b.AppID.String()} {
		gameplay := func(session, input, at, id string) {
			var eid, im any
			if id != "" {
				eid = id
			}
			if input != "" {
				im = input
			}
			exec(`INSERT INTO gameplay_events (event_id, app_id, build_id, player_id, session_id, event_name, input_method, "timestamp", received_at)
				VALUES (coalesce($1::uuid, gen_random_uuid()), $2, 'b1', 'p1', $3, 'E', $4, $5, now())`, eid, app, session, im, ts(at))
		}
		step := func(session, at string) {
			exec(`INSERT INTO funnel_steps (event_id, app_id, build_id, player_id, session_id, funnel_step_name, "timestamp", received_at)
				VALUES (gen_random_uuid(), $1, 'b1', 'p1', $2, 'S', $3, now())`, app, session, ts(at))
		}
		gameplay("latest", "kb", "2026-03-02T09:00:00Z", "")
		gameplay("latest", "pad", "2026-03-02T09:30:00Z", "")
		gameplay("latest", "", "2026-03-02T09:45:00Z", "") // no input method: not counted
		step("latest", "2026-03-02T10:00:00Z")
		gameplay("instant", "touch", "2026-03-02T10:00:00Z", "")
		step("instant", "2026-03-02T10:00:00Z")
		gameplay("tie", "kb", "2026-03-02T10:00:00Z", "0fffffff-ffff-4fff-bfff-ffffffffffff")
		gameplay("tie", "pad", "2026-03-02T10:00:00Z", "f0000000-0000-4000-8000-000000000000")
		step("tie", "2026-03-02T10:01:00Z")
		gameplay("old", "kb", "2026-03-01T09:59:59Z", "") // more than 24 h before
		step("old", "2026-03-02T10:00:00Z")
		gameplay("after", "kb", "2026-03-02T10:00:01Z", "")
		step("after", "2026-03-02T10:00:00Z")
	}
	inputs := func(app string) map[string]string {
		t.Helper()
		rows, err := db.Query(ctx, `SELECT session_id, coalesce(input_method, '') FROM funnel_steps WHERE app_id = $1`, app)
		require.NoError(t, err)
		out := map[string]string{}
		var s, im string
		_, err = pgx.ForEachRow(rows, []any{&s, &im}, func() error {
			out[s] = im
			return nil
		})
		require.NoError(t, err)
		return out
	}
	require.Equal(t, map[string]string{"latest": "", "instant": "", "tie": "", "old": "", "after": ""}, inputs(a), "until the job runs")
	attribute(t, db, "2026-03-10T12:00:00Z")
	want := map[string]string{"latest": "pad", "instant": "touch", "tie": "pad", "old": "", "after": ""}
	require.Equal(t, want, inputs(a))

	exec(`INSERT INTO gameplay_events (event_id, app_id, build_id, player_id, session_id, event_name, input_method, "timestamp", received_at)
		VALUES (gen_random_uuid(), $1, 'b1', 'p1', 'old', 'E', 'late', '2026-03-02T08:00:00Z', now())`, a)
	attribute(t, db, "2026-03-10T12:00:00Z")
	want["old"] = "late"
	require.Equal(t, want, inputs(a))
}
