package workercmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/natstest"
	"github.com/gamepipe/gamepipe/internal/natstest/roletest"
	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/telemetry"
	"github.com/gamepipe/gamepipe/internal/testutil"
)

func TestRun(t *testing.T) {
	t.Parallel()

	t.Run("ServesHealthAndStopsCleanly", func(t *testing.T) {
		t.Parallel()
		db := dbtest.NewSchema(t)
		// A closed NATS where TELEMETRY does not exist yet: the worker, as
		// its role's user, creates it, its consumer and GAMEPIPE_EVENTS,
		// then sinks what the api's user publishes and notifies.
		ns := roletest.Run(t)
		creds := roletest.Credentials(eventstream.RoleWorker)
		addr := testutil.FreeAddr(t)
		dir := t.TempDir()
		passwordFile := filepath.Join(dir, "nats.password")
		require.NoError(t, os.WriteFile(passwordFile, []byte(creds.Password+"\n"), 0o600))
		env := map[string]string{
			"DATABASE_URL": db.URL, "NATS_URL": ns.ClientURL(), "DATA_DIR": dir,
			"WORKER_HTTP_ADDR": addr, "LOG_FORMAT": "json", "SINK_CONCURRENCY": "2",
			"NATS_USER": creds.User, "NATS_PASSWORD_FILE": passwordFile,
		}
		logs := &testutil.SyncBuffer{}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- Run(ctx, func(k string) string { return env[k] }, logs) }()

		ready := testutil.WaitReady(t, addr)
		require.JSONEq(t, `{"status":"ok","checks":{"postgres":"ok","nats":"ok","sink":"ok"}}`, ready)
		sinksWhatTheAPIPublishes(t, ns, db)
		require.NotContains(t, logs.String(), "NATS refused", "the worker's user may do all the worker did")
		require.NotContains(t, logs.String(), creds.Password)

		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Fatal("worker did not stop")
		}
	})

	t.Run("RefusesASmallPool", func(t *testing.T) {
		t.Parallel()
		db := dbtest.NewSchema(t)
		ns := natstest.Run(t)
		env := map[string]string{
			"DATABASE_URL": db.URL + "&pool_max_conns=4", "NATS_URL": ns.ClientURL(), "DATA_DIR": t.TempDir(),
			"WORKER_HTTP_ADDR": testutil.FreeAddr(t),
		}
		err := Run(context.Background(), func(k string) string { return env[k] }, io.Discard)
		require.ErrorContains(t, err, "pool_max_conns=4 is too small")
	})

	t.Run("BadConfigIsOneLine", func(t *testing.T) {
		t.Parallel()
		err := Run(context.Background(), func(k string) string {
			return map[string]string{"SINK_ACK_WAIT": "forever"}[k]
		}, io.Discard)
		require.ErrorContains(t, err, "SINK_ACK_WAIT")
		require.NotContains(t, fmt.Sprint(err), "\n")
	})
}

// sinksWhatTheAPIPublishes publishes one event as the api's user and waits
// for the worker's sink to write it; then the worker's notifier, on a
// connection as the worker's user, announces a change that the api's user
// hears on its subscription.
func sinksWhatTheAPIPublishes(t *testing.T, ns *natstest.Server, db *dbtest.Schema) {
	t.Helper()
	ctx := context.Background()
	app, err := store.AppCreate(ctx, db.Pool, "game")
	require.NoError(t, err)
	api := roletest.ConnectAs(t, ns, eventstream.RoleAPI)
	js, err := jetstream.New(api)
	require.NoError(t, err)
	ev := testutil.Event(telemetry.KindGameplay, app.AppID.String(), time.Now())
	data, err := telemetry.MarshalStored(&ev)
	require.NoError(t, err)
	_, err = js.Publish(ctx, ev.Subject(), data, jetstream.WithMsgID(ev.ID))
	require.NoError(t, err)
	testutil.WaitFor(t, 30*time.Second, func() error {
		var n int
		if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM gameplay_events WHERE event_id = $1`, ev.ID).Scan(&n); err != nil || n != 1 {
			return fmt.Errorf("%d rows (%v)", n, err)
		}
		return nil
	})

	heard, err := api.SubscribeSync(eventstream.NotifySubjects)
	require.NoError(t, err)
	require.NoError(t, api.Flush())
	worker := roletest.ConnectAs(t, ns, eventstream.RoleWorker)
	wjs, err := jetstream.New(worker)
	require.NoError(t, err)
	note := &eventstream.Notification{Kind: "emote", ID: "e1", AppID: app.AppID.String(), Status: "queued", At: time.Now()}
	require.NoError(t, eventstream.NewNotifier(wjs).Notify(ctx, note, ""))
	msg, err := heard.NextMsg(30 * time.Second)
	require.NoError(t, err)
	require.Equal(t, eventstream.NotifySubject(app.AppID.String(), "emote", "queued"), msg.Subject)
}
