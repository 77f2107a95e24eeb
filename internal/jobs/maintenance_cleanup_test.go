package jobs

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/store"
)

func TestMaintenanceCleanupWorker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.NewSchema(t)
	app, err := store.AppCreate(ctx, db.Pool, "a")
	require.NoError(t, err)
	for i, age := range []time.Duration{time.Minute, 25 * time.Hour, 48 * time.Hour} {
		_, err := db.Pool.Exec(ctx, `INSERT INTO idempotency_keys (app_id, route, key, request_hash, status, body, created_at)
			VALUES ($1, 'POST /v1/x', $2, '\x01', 202, '{}', now() - $3::interval)`, app.AppID, string(rune('a'+i)), age.String())
		require.NoError(t, err)
	}

	deps := &Deps{Pool: db.Pool, Now: time.Now}
	w := rivertest.NewWorker(t, riverpgxv5.New(db.Pool), &river.Config{}, &MaintenanceCleanupWorker{deps: deps})
	tx, err := db.Pool.Begin(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(ctx) })
	res, err := w.Work(ctx, t, tx, MaintenanceCleanupArgs{}, nil)
	require.NoError(t, err)
	require.Equal(t, river.EventKindJobCompleted, res.EventKind)
	require.NoError(t, tx.Commit(ctx))

	var keys []string
	rows, err := db.Pool.Query(ctx, "SELECT key FROM idempotency_keys")
	require.NoError(t, err)
	keys, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{"a"}, keys)
}
