package store_test

import (
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/telemetry"
)

func TestEnsurePartitions(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		pool  *pgxpool.Pool
		appID string
		day   time.Time
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		return &testBundle{
			pool:  dbtest.NewSchema(t).Pool,
			appID: uuid.NewString(),
			day:   time.Date(2026, 2, 12, 0, 0, 0, 0, time.UTC),
		}
	}
	// partitions lists the day partitions of table.
	partitions := func(t *testing.T, pool *pgxpool.Pool, table string) []string {
		t.Helper()
		rows, err := pool.Query(t.Context(), `
			SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
			WHERE i.inhparent = to_regclass($1) AND c.relname <> $1 || '_default'
			ORDER BY c.relname`, table)
		require.NoError(t, err)
		var names []string
		for rows.Next() {
			var n string
			require.NoError(t, rows.Scan(&n))
			names = append(names, n)
		}
		require.NoError(t, rows.Err())
		return names
	}
	// partitionOf names the partition that holds event id in table.
	partitionOf := func(t *testing.T, pool *pgxpool.Pool, table, id string) string {
		t.Helper()
		var name string
		require.NoError(t, pool.QueryRow(t.Context(), "SELECT tableoid::regclass::text FROM "+table+" WHERE event_id = $1", id).Scan(&name))
		return name
	}

	t.Run("ConcurrentCallsAgree", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Go(func() {
				errs <- store.EnsurePartitions(t.Context(), bundle.pool, bundle.day, bundle.day.AddDate(0, 0, 2))
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		for _, table := range store.PartitionedTables {
			require.Len(t, partitions(t, bundle.pool, table.Name), 3, table.Name)
		}
	})

	t.Run("CreatesDayPartitions", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		// Any time of the day covers the whole day, in UTC.
		from := time.Date(2026, 2, 12, 23, 30, 0, 0, time.FixedZone("UTC+2", 2*3600)) // 21:30 UTC
		require.NoError(t, store.EnsurePartitions(t.Context(), bundle.pool, from, from.Add(24*time.Hour)))
		require.NoError(t, store.EnsurePartitions(t.Context(), bundle.pool, from, from), "idempotent")
		for _, table := range store.PartitionedTables {
			require.Equal(t, []string{table.Name + "_p20260212", table.Name + "_p20260213"}, partitions(t, bundle.pool, table.Name))
		}
		require.Equal(t, "gameplay_events_p20260212", store.PartitionName("gameplay_events", from))

		// Midnight belongs to the day it starts.
		ev := newEvent(telemetry.KindGameplay, bundle.appID, time.Date(2026, 2, 13, 0, 0, 0, 0, time.UTC))
		insert(t, bundle.pool, []telemetry.Event{ev})
		require.Equal(t, "gameplay_events_p20260213", partitionOf(t, bundle.pool, "gameplay_events", ev.ID))
	})

	t.Run("FarPastEventLandsInDefault", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		require.NoError(t, store.EnsurePartitions(t.Context(), bundle.pool, bundle.day, bundle.day))
		old := newEvent(telemetry.KindRealtime, bundle.appID, time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC))
		today := newEvent(telemetry.KindRealtime, bundle.appID, bundle.day.Add(time.Hour))
		insert(t, bundle.pool, []telemetry.Event{old, today})

		require.Equal(t, "trajectories_default", partitionOf(t, bundle.pool, "trajectories", old.ID))
		require.Equal(t, "trajectories_p20260212", partitionOf(t, bundle.pool, "trajectories", today.ID))
		n, err := store.DefaultPartitionRows(t.Context(), bundle.pool, "trajectories")
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		_, err = store.DefaultPartitionRows(t.Context(), bundle.pool, "players")
		require.ErrorIs(t, err, store.ErrNotPartitioned)
	})

	t.Run("MovesDefaultRowsIntoNewPartition", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		var events []telemetry.Event
		for _, kind := range telemetry.Kinds {
			for h := range 3 {
				events = append(events, newEvent(kind, bundle.appID, bundle.day.Add(time.Duration(h*8)*time.Hour)))
			}
			// The next day stays in DEFAULT.
			events = append(events, newEvent(kind, bundle.appID, bundle.day.Add(24*time.Hour)))
		}
		insert(t, bundle.pool, events)

		// Two processes race to create the day, both over DEFAULT's rows.
		var wg sync.WaitGroup
		errs := make(chan error, 2)
		for range 2 {
			wg.Go(func() { errs <- store.EnsurePartitions(t.Context(), bundle.pool, bundle.day, bundle.day) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}

		for _, table := range store.PartitionedTables {
			require.Equal(t, 4, count(t, bundle.pool, "SELECT count(*) FROM "+table.Name), table.Name)
			require.Equal(t, 3, count(t, bundle.pool, "SELECT count(*) FROM "+table.Name+"_p20260212"), table.Name)
			n, err := store.DefaultPartitionRows(t.Context(), bundle.pool, table.Name)
			require.NoError(t, err)
			require.EqualValues(t, 1, n, table.Name)
		}
		// The moved rows keep their key: a redelivered event still makes no
		// second row, and new rows of the day go to the new partition.
		res := insert(t, bundle.pool, append(events[:1], newEvent(telemetry.KindPlayer, bundle.appID, bundle.day)))
		require.Equal(t, 1, res.Skipped)
		require.Equal(t, 1, res.Inserted[telemetry.KindPlayer])
		require.Equal(t, 4, count(t, bundle.pool, "SELECT count(*) FROM player_events_p20260212"))
	})

	t.Run("RejectsBadRanges", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		require.ErrorContains(t, store.EnsurePartitions(t.Context(), bundle.pool, bundle.day, bundle.day.AddDate(0, 0, -1)), "is after")
		require.ErrorContains(t, store.EnsurePartitions(t.Context(), bundle.pool, bundle.day, bundle.day.AddDate(2, 0, 0)), "more than")
	})
}
