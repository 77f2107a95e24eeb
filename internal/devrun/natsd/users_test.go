package natsd

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gamepipe/gamepipe/internal/testutil"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
)

func TestServer_UsersClosesTelemetryToOutsiders(t *testing.T) {
	t.Parallel()
	users := []*server.User{
		{Username: "api", Password: "api-pw", Permissions: &server.Permissions{
			Publish:   &server.SubjectPermission{Allow: []string{"telemetry.>", "$JS.API.>"}},
			Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
		}},
		{Username: "worker", Password: "worker-pw", Permissions: &server.Permissions{
			Publish:   &server.SubjectPermission{Allow: []string{"$JS.API.>", "$JS.ACK.>", "gamepipe.events.>"}},
			Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
		}},
	}
	raw, err := json.Marshal(users)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "users.json")
	require.NoError(t, os.WriteFile(path, raw, 0o600))
	cfg, err := ConfigFromEnv(func(k string) string {
		return map[string]string{"NATSD_USERS_FILE": path, "NATSD_PORT": "-1", "NATSD_STORE_DIR": t.TempDir()}[k]
	}, nil, os.Stderr)
	require.NoError(t, err)
	require.Len(t, cfg.Users, 2)
	s, err := New(cfg, &testutil.SyncBuffer{})
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(s.Stop)
	ctx := context.Background()

	// Without credentials: no connection, so no publish to telemetry.>.
	_, err = nats.Connect(s.ClientURL(), nats.MaxReconnects(0))
	require.ErrorIs(t, err, nats.ErrAuthorization)
	_, err = nats.Connect(s.ClientURL(), nats.UserInfo("api", "wrong"), nats.MaxReconnects(0))
	require.ErrorIs(t, err, nats.ErrAuthorization)

	// The api may publish telemetry through JetStream.
	api, err := nats.Connect(s.ClientURL(), nats.UserInfo("api", "api-pw"))
	require.NoError(t, err)
	t.Cleanup(api.Close)
	js, err := jetstream.New(api)
	require.NoError(t, err)
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"telemetry.>"}})
	require.NoError(t, err)
	_, err = js.Publish(ctx, "telemetry.app.events", []byte("{}"))
	require.NoError(t, err)

	// Another process's user may not.
	violations := make(chan error, 4)
	worker, err := nats.Connect(s.ClientURL(), nats.UserInfo("worker", "worker-pw"),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { violations <- err }))
	require.NoError(t, err)
	t.Cleanup(worker.Close)
	require.NoError(t, worker.Publish("telemetry.app.events", []byte("{}")))
	require.NoError(t, worker.Flush())
	select {
	case err := <-violations:
		require.True(t, errors.Is(err, nats.ErrPermissionViolation), "%v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("no permissions violation")
	}
	info, err := js.Stream(ctx, "T")
	require.NoError(t, err)
	state, err := info.Info(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, state.State.Msgs, "only the api's message is stored")
}

func TestReadUsersRefusesBadFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, content := range map[string]string{"empty.json": "[]", "bad.json": "{", "nopw.json": `[{"user":"api"}]`} {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
		_, err := ConfigFromEnv(func(k string) string {
			return map[string]string{"NATSD_USERS_FILE": path, "NATSD_STORE_DIR": dir}[k]
		}, nil, os.Stderr)
		require.Error(t, err, name)
	}
}
