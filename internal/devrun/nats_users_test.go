package devrun

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/gamepipe/gamepipe/internal/devrun/natsd"
	"github.com/gamepipe/gamepipe/internal/eventstream"
)

// TestEnsureNATSUsers: a password per role on the first start, kept
// private and reused; natsd's users file grants each role its permissions.
func TestEnsureNATSUsers(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	first, err := EnsureNATSUsers(dataDir)
	require.NoError(t, err)
	for _, path := range append([]string{first.file}, first.passwordFiles[eventstream.RoleAPI],
		first.passwordFiles[eventstream.RoleWorker], first.passwordFiles[eventstream.RoleExporter]) {
		st, err := os.Stat(path)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), st.Mode().Perm(), path)
	}
	st, err := os.Stat(filepath.Join(dataDir, NATSAuthDir))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), st.Mode().Perm())
	require.NotEqual(t, first.creds[eventstream.RoleAPI].Password, first.creds[eventstream.RoleWorker].Password)
	require.GreaterOrEqual(t, len(first.creds[eventstream.RoleAPI].Password), 26)

	again, err := EnsureNATSUsers(dataDir)
	require.NoError(t, err)
	require.Equal(t, first.creds, again.creds, "later starts reuse the passwords")

	users, err := natsd.ReadUsers(again.file)
	require.NoError(t, err)
	require.Len(t, users, len(eventstream.Roles))
	for _, u := range users {
		perms, err := eventstream.Role(u.Username).Permissions()
		require.NoError(t, err)
		require.NoError(t, bcrypt.CompareHashAndPassword([]byte(u.Password), []byte(again.creds[eventstream.Role(u.Username)].Password)),
			"natsd keeps the password's bcrypt hash")
		require.Equal(t, perms.Publish, u.Permissions.Publish.Allow)
		require.Equal(t, perms.Subscribe, u.Permissions.Subscribe.Allow)
		require.Equal(t, perms.AllowResponses, u.Permissions.Response != nil)
	}

	env := again.env("worker")
	require.Equal(t, "worker", env["NATS_USER"])
	require.Equal(t, again.passwordFiles[eventstream.RoleWorker], env["NATS_PASSWORD_FILE"])
	require.Empty(t, again.env("upstreamsim")["NATS_USER"], "only the roles get credentials")
	require.Contains(t, again.env("upstreamsim"), "NATS_PASSWORD", "a developer's are cleared")
}
