package jobs

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
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

	// Job events past JobEventTTL go; deliveries past WebhookDeliveryTTL go
	// once finished.
	endpoint := &store.WebhookEndpoint{AppID: app.AppID, URL: "https://93.184.216.34/", EventTypes: []string{"*"}, Enabled: true}
	require.NoError(t, store.WebhookEndpointInsert(ctx, db.Pool, nil, endpoint))
	for i := range 2 {
		g := &store.Generation{ID: uuid.New(), AppID: app.AppID, Model: "m", Input: []byte(`{}`), DeadlineAt: time.Now()}
		require.NoError(t, store.GenerationInsert(ctx, db.Pool, g))
		if i == 0 {
			_, err := db.Pool.Exec(ctx, `UPDATE job_events SET created_at = now() - interval '8 days' WHERE object_id = $1`, g.ID)
			require.NoError(t, err)
		}
	}
	_, err = db.Pool.Exec(ctx, `UPDATE webhook_deliveries SET status = 'succeeded', updated_at = now() - interval '31 days'
		WHERE id = (SELECT id FROM webhook_deliveries ORDER BY created_at LIMIT 1)`)
	require.NoError(t, err)
	_, err = db.Pool.Exec(ctx, `INSERT INTO webhook_deliveries (id, endpoint_id, app_id, event_id, type, body, updated_at)
		VALUES (gen_random_uuid(), $1, $2, gen_random_uuid(), 'webhook.ping', '{}', now() - interval '31 days')`, endpoint.ID, app.AppID)
	require.NoError(t, err)

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

	var events, delivered, pending, total int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM job_events), (SELECT count(*) FROM webhook_deliveries),
		(SELECT count(*) FROM webhook_deliveries WHERE status = 'pending' AND type <> 'webhook.ping'),
		(SELECT count(*) FROM webhook_deliveries WHERE status = 'pending' AND type = 'webhook.ping')`).Scan(&events, &total, &delivered, &pending))
	require.Equal(t, 2, total)
	require.Equal(t, 1, events, "the recent event is kept")
	require.Equal(t, 1, delivered, "the recent delivery is kept, the old finished one deleted")
	require.Equal(t, 1, pending, "an old delivery still pending is kept")
}
