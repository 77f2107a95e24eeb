package store_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/telemetry"
)

// A day partition filled since it was analyzed is analyzed once, and then
// not again until it changes by more than autovacuum's threshold; days
// without rows and days outside the range are left alone.
func TestAnalyzeStaleDays(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := dbtest.NewSchema(t).Pool
	app := uuid.NewString()
	day := time.Date(2026, 2, 12, 0, 0, 0, 0, time.UTC)
	require.NoError(t, store.EnsurePartitions(ctx, pool, day.AddDate(0, 0, -1), day.AddDate(0, 0, 2)))
	var events []telemetry.Event
	for i := range 200 {
		events = append(events, newEvent(telemetry.KindGameplay, app, day.Add(time.Duration(i)*time.Minute)))
	}
	insert(t, pool, events)
	insert(t, pool, []telemetry.Event{newEvent(telemetry.KindGameplay, app, day.AddDate(0, 0, 2))}) // outside
	analyzed := func(table string) bool {
		t.Helper()
		var at *time.Time
		require.NoError(t, pool.QueryRow(ctx, `SELECT coalesce(last_analyze, last_autoanalyze) FROM pg_stat_user_tables
			WHERE schemaname = current_schema() AND relname = $1`, table).Scan(&at))
		return at != nil
	}

	// The inserts' counts reach the statistics within a second or so.
	var n int
	require.Eventually(t, func() bool {
		var err error
		n, err = store.AnalyzeStaleDays(ctx, pool, day.AddDate(0, 0, -1), day.AddDate(0, 0, 1))
		require.NoError(t, err)
		return n > 0
	}, 30*time.Second, 100*time.Millisecond)
	require.Equal(t, 1, n, "the one day partition with rows")
	require.True(t, analyzed(store.PartitionName("gameplay_events", day)))
	require.False(t, analyzed(store.PartitionName("gameplay_events", day.AddDate(0, 0, 2))), "outside the range")
	require.False(t, analyzed(store.PartitionName("trajectories", day)), "no rows")

	n, err := store.AnalyzeStaleDays(ctx, pool, day.AddDate(0, 0, -1), day.AddDate(0, 0, 1))
	require.NoError(t, err)
	require.Zero(t, n, "fresh statistics")

	events = events[:0]
	for i := range 100 { // past 50 + a tenth of 200
		events = append(events, newEvent(telemetry.KindGameplay, app, day.Add(time.Duration(i)*time.Minute+time.Second)))
	}
	insert(t, pool, events)
	require.Eventually(t, func() bool {
		n, err = store.AnalyzeStaleDays(ctx, pool, day.AddDate(0, 0, -1), day.AddDate(0, 0, 1))
		require.NoError(t, err)
		return n == 1
	}, 30*time.Second, 100*time.Millisecond, "changed by more than the threshold")
}
