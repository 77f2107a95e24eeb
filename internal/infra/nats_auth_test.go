package infra

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/natstest"
	"github.com/gamepipe/gamepipe/internal/natstest/roletest"
	"github.com/gamepipe/gamepipe/internal/testutil"
)

// TestNATSRoleUsers: on a closed NATS a process without credentials, or
// with a wrong password, cannot connect, and says so without printing a
// password; a role's user connects, and what its permissions lack is
// refused and logged with the subject.
func TestNATSRoleUsers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := roletest.Run(t)

	_, err := NATS(ctx, zerolog.Nop(), ns.ClientURL(), eventstream.RoleAPI, eventstream.Credentials{})
	require.ErrorContains(t, err, "Authorization Violation")
	require.ErrorContains(t, err, "as api (auth none)")

	wrong := strings.Replace(ns.ClientURL(), "nats://", "nats://api:hunter2@", 1)
	_, err = NATS(ctx, zerolog.Nop(), wrong, eventstream.RoleAPI, eventstream.Credentials{})
	require.ErrorContains(t, err, "Authorization Violation")
	require.ErrorContains(t, err, "(auth url)")
	require.NotContains(t, err.Error(), "hunter2")

	creds := roletest.Credentials(eventstream.RoleExporter)
	logs := &testutil.SyncBuffer{}
	nc, err := NATS(ctx, zerolog.New(logs), ns.ClientURL(), eventstream.RoleExporter, creds)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	require.Contains(t, logs.String(), `"auth":"password","nats_user":"exporter","message":"infra: NATS connected"`)

	require.NoError(t, nc.Publish("telemetry.app.gameplay", []byte("{}")))
	require.NoError(t, nc.Flush())
	testutil.WaitFor(t, 30*time.Second, func() error {
		if !strings.Contains(logs.String(), `Permissions Violation for Publish to \"telemetry.app.gameplay\"`) ||
			!strings.Contains(logs.String(), "infra: NATS refused an operation") {
			return os.ErrNotExist
		}
		return nil
	})
	require.NotContains(t, logs.String(), creds.Password)
}

// TestNATSNKey: NATS_NKEY_SEED_FILE authenticates with the nkey it holds.
func TestNATSNKey(t *testing.T) {
	t.Parallel()
	kp, err := nkeys.CreateUser()
	require.NoError(t, err)
	public, err := kp.PublicKey()
	require.NoError(t, err)
	seed, err := kp.Seed()
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "worker.nk")
	require.NoError(t, os.WriteFile(path, seed, 0o600))

	ns := natstest.RunWith(t, func(o *server.Options) { o.Nkeys = []*server.NkeyUser{{Nkey: public}} })
	logs := &testutil.SyncBuffer{}
	nc, err := NATS(context.Background(), zerolog.New(logs), ns.ClientURL(), eventstream.RoleWorker, eventstream.Credentials{NKeySeedFile: path})
	require.NoError(t, err)
	nc.Close()
	require.Contains(t, logs.String(), `"auth":"nkey"`)
	require.NotContains(t, logs.String(), string(seed))

	_, err = NATS(context.Background(), zerolog.Nop(), ns.ClientURL(), eventstream.RoleWorker,
		eventstream.Credentials{NKeySeedFile: filepath.Join(t.TempDir(), "missing.nk")})
	require.ErrorContains(t, err, "NATS_NKEY_SEED_FILE")
}
