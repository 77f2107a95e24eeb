package jobs

import (
	"context"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/store"
)

const webhookHelperDBEnv = "GAMEPIPE_WEBHOOK_HELPER_DB"

// webhookHelperTimeout is the helper's try timeout; the job's own timeout
// is 5 s past it.
const webhookHelperTimeout = time.Second

// TestWebhookHelperProcess is the worker subprocess of
// TestWebhookWorkerKilled: it sends a delivery and SIGKILLs itself once
// the endpoint has answered, before the try is recorded.
func TestWebhookHelperProcess(t *testing.T) {
	ctx, logger, pool := helperProcess(t, webhookHelperDBEnv)
	workers := river.NewWorkers()
	require.NoError(t, Register(workers, &Deps{Logger: logger, Pool: pool, Secrets: testSecrets, Webhooks: &WebhookDeps{
		AllowPrivate: true, Timeout: webhookHelperTimeout,
		Fault: func(point FaultPoint, _ uuid.UUID) error {
			killSelf(logger, point)
			return nil
		},
	}}))
	workUntilKilled(ctx, t, pool, workers, QueueWebhooks)
}

// TestWebhookWorkerKilled SIGKILLs a worker after the endpoint received a
// delivery and before the worker recorded it: River rescues the job, a new
// worker sends the delivery again with the same webhook-id (at least once),
// and records it.
func TestWebhookWorkerKilled(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("chaos: kills a worker subprocess")
	}
	ctx := context.Background()
	db := dbtest.NewSchema(shortNamed{TB: t, name: "jobs_whk"})
	app, err := store.AppCreate(ctx, db.Pool, "app")
	require.NoError(t, err)
	recv := newHookReceiver(t, 0, http.StatusOK)
	e := &store.WebhookEndpoint{AppID: app.AppID, URL: recv.srv.URL, EventTypes: []string{"*"}, Enabled: true}
	require.NoError(t, store.WebhookEndpointInsert(ctx, db.Pool, testSecrets, e))
	env := &webhookEnv{pool: db.Pool, appID: app.AppID}
	env.generation(t)
	var jobID int64
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT id FROM river_job WHERE kind = 'webhook_deliver'`).Scan(&jobID))

	runUntilKilled(t, "TestWebhookHelperProcess", webhookHelperDBEnv+"="+db.URL)
	require.Len(t, recv.requests(), 1, "the endpoint got the delivery")
	list := env.deliveries(t, e.ID)
	require.Len(t, list, 1)
	require.Equal(t, store.DeliveryPending, list[0].Status, "the dead worker never recorded it")
	require.Empty(t, list[0].Log)

	awaitRescuable(t, db.Pool, jobID, webhookHelperTimeout+5*time.Second)
	workers := river.NewWorkers()
	require.NoError(t, Register(workers, &Deps{Pool: db.Pool, Secrets: testSecrets, Webhooks: &WebhookDeps{AllowPrivate: true}}))
	client, err := river.NewClient(riverpgxv5.New(db.Pool), &river.Config{
		Logger:  slog.New(slog.DiscardHandler),
		Queues:  map[string]river.QueueConfig{QueueWebhooks: {MaxWorkers: 2}},
		Workers: workers, FetchCooldown: 20 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond, TestOnly: true,
		JobTimeout: chaosRescueAfter, RescueStuckJobsAfter: chaosRescueAfter,
	})
	require.NoError(t, err)
	start(t, client)

	require.Eventually(t, func() bool {
		list := env.deliveries(t, e.ID)
		return list[0].Status == store.DeliverySucceeded
	}, rescueWait, 50*time.Millisecond)
	got := recv.requests()
	require.Len(t, got, 2, "sent again after the kill")
	require.Equal(t, got[0].id, got[1].id, "with the same webhook-id")
	require.True(t, verifyStandardWebhook(e.Secret, got[1]))
	require.Len(t, env.deliveries(t, e.ID)[0].Log, 1, "the recorded try")
}
