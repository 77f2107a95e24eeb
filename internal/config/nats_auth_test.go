package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNATSAuth(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "nats.password")
	require.NoError(t, os.WriteFile(pwFile, []byte("hunter2\n"), 0o600))
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	seed := filepath.Join(dir, "worker.nk")
	require.NoError(t, os.WriteFile(seed, []byte("SU…"), 0o600))

	t.Run("Accepted", func(t *testing.T) {
		t.Parallel()
		for name, tt := range map[string]struct {
			env  map[string]string
			want NATSAuth
		}{
			"None":         {nil, NATSAuth{}},
			"Password":     {map[string]string{"NATS_USER": "api", "NATS_PASSWORD": "hunter2"}, NATSAuth{User: "api", Password: "hunter2"}},
			"PasswordFile": {map[string]string{"NATS_USER": "api", "NATS_PASSWORD_FILE": pwFile}, NATSAuth{User: "api", Password: "hunter2"}},
			"NKey":         {map[string]string{"NATS_NKEY_SEED_FILE": seed}, NATSAuth{NKeySeedFile: seed}},
			"InTheURL":     {map[string]string{"NATS_URL": "nats://api:hunter2@127.0.0.1:4222"}, NATSAuth{}},
		} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				c, err := WorkerFromEnv(env(tt.env))
				require.NoError(t, err)
				require.Equal(t, tt.want, c.NATSAuth)
			})
		}
	})

	t.Run("Refused", func(t *testing.T) {
		t.Parallel()
		for name, tt := range map[string]struct {
			env     map[string]string
			wantErr string
		}{
			"UserWithoutPassword":   {map[string]string{"NATS_USER": "api"}, "NATS_USER: needs NATS_PASSWORD or NATS_PASSWORD_FILE"},
			"PasswordWithoutUser":   {map[string]string{"NATS_PASSWORD": "hunter2"}, "NATS_PASSWORD: needs NATS_USER"},
			"PasswordTwice":         {map[string]string{"NATS_USER": "api", "NATS_PASSWORD": "hunter2", "NATS_PASSWORD_FILE": pwFile}, "set only one"},
			"MissingPasswordFile":   {map[string]string{"NATS_USER": "api", "NATS_PASSWORD_FILE": filepath.Join(dir, "missing")}, "NATS_PASSWORD_FILE"},
			"EmptyPasswordFile":     {map[string]string{"NATS_USER": "api", "NATS_PASSWORD_FILE": empty}, "is empty"},
			"NKeyAndPassword":       {map[string]string{"NATS_NKEY_SEED_FILE": seed, "NATS_USER": "api", "NATS_PASSWORD": "hunter2"}, "set only one way"},
			"MissingSeedFile":       {map[string]string{"NATS_NKEY_SEED_FILE": filepath.Join(dir, "missing.nk")}, "NATS_NKEY_SEED_FILE"},
			"URLAndUser":            {map[string]string{"NATS_URL": "nats://a:hunter2@h:4222", "NATS_USER": "api", "NATS_PASSWORD": "x"}, "NATS_URL carries credentials"},
			"URLInAListAndSeedFile": {map[string]string{"NATS_URL": "nats://h:4222,nats://a:hunter2@g:4222", "NATS_NKEY_SEED_FILE": seed}, "NATS_URL carries credentials"},
		} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				for _, read := range []func(Getenv) error{
					func(g Getenv) error { _, err := APIFromEnv(g); return err },
					func(g Getenv) error { _, err := WorkerFromEnv(g); return err },
					func(g Getenv) error { _, err := ExporterFromEnv(g); return err },
				} {
					err := read(env(tt.env))
					require.ErrorContains(t, err, tt.wantErr)
					require.NotContains(t, err.Error(), "hunter2", "a password is never printed")
				}
			})
		}
	})
}
