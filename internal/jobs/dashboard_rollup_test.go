package jobs

import (
	"context"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/store"
)

// TestDashboardRollupWorker: the job rolls up yesterday's telemetry,
// attributes today's trajectory to its session's level, and running it
// again changes nothing.
func TestDashboardRollupWorker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.NewSchema(t)
	app, err := store.AppCreate(ctx, db.Pool, "a")
	require.NoError(t, err)
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	for i, at := range []string{"2026-03-09T10:00:00Z", "2026-03-09T11:00:00Z", "2026-03-10T01:00:00Z"} {
		_, err := db.Pool.Exec(ctx, `INSERT INTO gameplay_events (event_id, app_id, build_id, player_id, session_id, event_name, "timestamp", received_at)
			VALUES (gen_random_uuid(), $1, '1.0', $2, 's', 'Jump', $3, now())`, app.AppID, string(rune('a'+i)), at)
		require.NoError(t, err)
	}

	_, err = db.Pool.Exec(ctx, `INSERT INTO gameplay_events (event_id, app_id, build_id, player_id, session_id, level_id, event_name, "timestamp", received_at)
		VALUES (gen_random_uuid(), $1, '1.0', 'c', 's', 'L1', 'Enter', '2026-03-10T00:30:00Z', now())`, app.AppID)
	require.NoError(t, err)
	_, err = db.Pool.Exec(ctx, `INSERT INTO trajectories (event_id, app_id, build_id, player_id, session_id,
			fps_mean, fps_low_5, fps_low_1, positions, num_points, timestamp_start, timestamp_end, received_at)
		VALUES (gen_random_uuid(), $1, '1.0', 'c', 's', 60, 50, 40, '{0,0,0}', 1, '2026-03-10T02:00:00Z', '2026-03-10T02:00:10Z', now())`, app.AppID)
	require.NoError(t, err)
	level := func() (l *string) {
		require.NoError(t, db.Pool.QueryRow(ctx, `SELECT level_id FROM trajectories`).Scan(&l))
		return l
	}
	require.Nil(t, level())

	deps := &Deps{Pool: db.Pool, Now: func() time.Time { return now }}
	w := rivertest.NewWorker(t, riverpgxv5.New(db.Pool), &river.Config{}, &DashboardRollupWorker{deps: deps})
	state := func() (days []string, events int64) {
		rows, err := db.Pool.Query(ctx, `SELECT day::text || '@' || rolled_up_at::text FROM dashboard_rollup_days ORDER BY 1`)
		require.NoError(t, err)
		for rows.Next() {
			var d string
			require.NoError(t, rows.Scan(&d))
			days = append(days, d)
		}
		require.NoError(t, rows.Err())
		require.NoError(t, db.Pool.QueryRow(ctx, `SELECT coalesce(sum(events), 0)::bigint FROM dashboard_daily_counts`).Scan(&events))
		return days, events
	}
	work := func() {
		t.Helper()
		tx, err := db.Pool.Begin(ctx)
		require.NoError(t, err)
		res, err := w.Work(ctx, t, tx, DashboardRollupArgs{}, nil)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobCompleted, res.EventKind)
		require.NoError(t, tx.Commit(ctx))
	}
	work()
	days, events := state()
	require.Len(t, days, 1, "yesterday only: today is still read raw")
	require.Contains(t, days[0], "2026-03-09@")
	require.Equal(t, int64(2), events)
	require.Equal(t, "L1", *level())
	work()
	again, events := state()
	require.Equal(t, days, again, "a second run rebuilds nothing")
	require.Equal(t, int64(2), events)
}
