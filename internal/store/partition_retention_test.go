package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/store"
)

func TestDropTelemetryBefore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	today := time.Now().UTC().Truncate(24 * time.Hour)
	cutoff := today.AddDate(0, 0, -5).Add(6 * time.Hour) // days before today-5 are wholly older

	type testBundle struct{ db *dbtest.Schema }
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		db := dbtest.NewSchema(t)
		require.NoError(t, store.EnsurePartitions(ctx, db.Pool, today.AddDate(0, 0, -10), today))
		return &testBundle{db: db}
	}
	insert := func(t *testing.T, b *testBundle, at time.Time) uuid.UUID {
		t.Helper()
		id := uuid.New()
		_, err := b.db.Pool.Exec(ctx, `INSERT INTO player_events (event_id, app_id, player_id, event_name, "timestamp", received_at)
			VALUES ($1, $2, 'p', 'Create_Player', $3, now())`, id, uuid.New(), at)
		require.NoError(t, err)
		return id
	}
	has := func(t *testing.T, b *testBundle, id uuid.UUID) bool {
		t.Helper()
		var n int
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM player_events WHERE event_id = $1`, id).Scan(&n))
		return n == 1
	}
	tableExists := func(t *testing.T, b *testBundle, name string) bool {
		t.Helper()
		var ok bool
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&ok))
		return ok
	}

	t.Run("DropsOldDaysAndDefaultRows", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		oldRow := insert(t, b, today.AddDate(0, 0, -8).Add(time.Hour))
		keptRow := insert(t, b, today.AddDate(0, 0, -5).Add(time.Hour)) // its day ends after cutoff
		oldDefault := insert(t, b, today.AddDate(0, 0, -30))            // no partition: DEFAULT
		futureDefault := insert(t, b, today.AddDate(0, 0, 30))

		res, err := store.DropTelemetryBefore(ctx, b.db.Pool, cutoff)
		require.NoError(t, err)
		// Days today-10 .. today-6 of the four tables.
		require.Len(t, res.Dropped, 5*len(store.PartitionedTables))
		require.Equal(t, int64(1), res.DefaultRows)
		for _, tbl := range store.PartitionedTables {
			require.False(t, tableExists(t, b, store.PartitionName(tbl.Name, today.AddDate(0, 0, -6))))
			require.True(t, tableExists(t, b, store.PartitionName(tbl.Name, today.AddDate(0, 0, -5))))
			require.True(t, tableExists(t, b, store.PartitionName(tbl.Name, today)))
		}
		require.False(t, has(t, b, oldRow))
		require.False(t, has(t, b, oldDefault))
		require.True(t, has(t, b, keptRow))
		require.True(t, has(t, b, futureDefault))

		res, err = store.DropTelemetryBefore(ctx, b.db.Pool, cutoff)
		require.NoError(t, err)
		require.Empty(t, res.Dropped, "a second run has nothing left to do")
		require.Zero(t, res.DefaultRows)
	})

	t.Run("SeveralProcessesAtOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var wg sync.WaitGroup
		dropped := make([]int, 3)
		for i := range dropped {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := store.DropTelemetryBefore(ctx, b.db.Pool, cutoff)
				require.NoError(t, err)
				dropped[i] = len(res.Dropped)
			}()
		}
		wg.Wait()
		require.Equal(t, 5*len(store.PartitionedTables), dropped[0]+dropped[1]+dropped[2], "each partition dropped once")
		var left int
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_class
			WHERE relnamespace = current_schema()::regnamespace AND relname ~ '_p[0-9]{8}$'`).Scan(&left))
		require.Equal(t, 6*len(store.PartitionedTables), left, "today-5 .. today remain")
		res, err := store.DropTelemetryBefore(ctx, b.db.Pool, cutoff)
		require.NoError(t, err)
		require.Empty(t, res.Dropped)
	})

	t.Run("DetachedLeftoverIsDropped", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		// A run that died between detaching and dropping.
		name := store.PartitionName("funnel_steps", today.AddDate(0, 0, -9))
		_, err := b.db.Pool.Exec(ctx, `ALTER TABLE funnel_steps DETACH PARTITION `+name)
		require.NoError(t, err)
		res, err := store.DropTelemetryBefore(ctx, b.db.Pool, cutoff)
		require.NoError(t, err)
		require.Contains(t, res.Dropped, name)
		require.False(t, tableExists(t, b, name))
	})
}
