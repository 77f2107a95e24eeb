package natsd

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/eventstream"
)

// TestDeployConfigs reads docker-compose.yml's nats-server configurations
// (deploy/) as nats-server does: both admit only the role users, with the
// passwords from the environment and exactly eventstream's permissions;
// a server started from one refuses a client without credentials.
func TestDeployConfigs(t *testing.T) {
	passwords := map[eventstream.Role]string{
		eventstream.RoleAPI: "api-pw", eventstream.RoleWorker: "worker-pw", eventstream.RoleExporter: "exporter-pw",
	}
	t.Setenv("NATS_API_PASSWORD", passwords[eventstream.RoleAPI])
	t.Setenv("NATS_WORKER_PASSWORD", passwords[eventstream.RoleWorker])
	t.Setenv("NATS_EXPORTER_PASSWORD", passwords[eventstream.RoleExporter])

	for _, name := range []string{"nats-server.conf", "nats-cluster.conf"} {
		opts, err := server.ProcessConfigFile(filepath.Join("..", "..", "..", "deploy", name))
		require.NoError(t, err, name)
		require.True(t, opts.JetStream, name)
		require.True(t, opts.SyncAlways, "%s: an fsync before every PubAck", name)
		require.Len(t, opts.Users, len(eventstream.Roles), name)
		for _, u := range opts.Users {
			r := eventstream.Role(u.Username)
			perms, err := r.Permissions()
			require.NoError(t, err, name)
			require.Equal(t, passwords[r], u.Password, "%s: %s's password from the environment", name, r)
			require.Equal(t, perms.Publish, u.Permissions.Publish.Allow, "%s: %s may publish", name, r)
			require.Equal(t, perms.Subscribe, u.Permissions.Subscribe.Allow, "%s: %s may subscribe", name, r)
			require.Equal(t, perms.AllowResponses, u.Permissions.Response != nil, "%s: %s answers requests", name, r)
		}
		if name == "nats-cluster.conf" {
			require.Equal(t, "gamepipe", opts.Cluster.Name)
			require.Len(t, opts.Routes, 3)
			continue
		}

		opts.Port, opts.HTTPPort, opts.StoreDir, opts.NoLog, opts.NoSigs = -1, 0, t.TempDir(), true, true
		s, err := server.NewServer(opts)
		require.NoError(t, err)
		go s.Start()
		require.True(t, s.ReadyForConnections(10*time.Second))
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		_, err = nats.Connect(s.ClientURL(), nats.MaxReconnects(0))
		require.ErrorIs(t, err, nats.ErrAuthorization, "a client without credentials is refused")
		nc, err := nats.Connect(s.ClientURL(), nats.UserInfo("exporter", "exporter-pw"))
		require.NoError(t, err)
		nc.Close()
	}
}
