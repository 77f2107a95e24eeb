package jobs

import (
	"context"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/store"
)

func TestMaintenanceTelemetryRetentionWorker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.NewSchema(t)
	today := time.Now().UTC().Truncate(24 * time.Hour)
	require.NoError(t, store.EnsurePartitions(ctx, db.Pool, today.AddDate(0, 0, -40), today))

	deps := &Deps{Pool: db.Pool, Now: time.Now, Logger: zerolog.Nop(), TelemetryRetention: 30 * 24 * time.Hour}
	workers := river.NewWorkers()
	require.NoError(t, Register(workers, deps))
	w := rivertest.NewWorker(t, riverpgxv5.New(db.Pool), &river.Config{}, &MaintenanceTelemetryRetentionWorker{deps: deps})
	for range 2 { // the second run finds nothing more to do
		tx, err := db.Pool.Begin(ctx)
		require.NoError(t, err)
		res, err := w.Work(ctx, t, tx, MaintenanceTelemetryRetentionArgs{}, nil)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobCompleted, res.EventKind)
		require.NoError(t, tx.Commit(ctx))

		for day, want := range map[int]bool{-40: false, -31: false, -30: true, 0: true} {
			name := store.PartitionName("gameplay_events", today.AddDate(0, 0, day))
			var exists bool
			require.NoError(t, db.Pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&exists))
			require.Equal(t, want, exists, name)
		}
	}
}
