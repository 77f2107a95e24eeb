package config

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSecretsKey(t *testing.T) {
	t.Parallel()
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, SecretsKeySize))

	t.Run("FromEnvOrFile", func(t *testing.T) {
		t.Parallel()
		c, err := CommonFromEnv(env(nil))
		require.NoError(t, err)
		require.Empty(t, c.SecretsKey)

		c, err = CommonFromEnv(env(map[string]string{"GAMEPIPE_SECRETS_KEY": key}))
		require.NoError(t, err)
		require.Equal(t, bytes.Repeat([]byte{9}, SecretsKeySize), c.SecretsKey)

		path := filepath.Join(t.TempDir(), "secrets.key")
		require.NoError(t, os.WriteFile(path, []byte(key+"\n"), 0o600))
		c, err = CommonFromEnv(env(map[string]string{"GAMEPIPE_SECRETS_KEY_FILE": path}))
		require.NoError(t, err)
		require.Equal(t, bytes.Repeat([]byte{9}, SecretsKeySize), c.SecretsKey)
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		short := base64.StdEncoding.EncodeToString([]byte("hunter2-hunter2"))
		for _, e := range []map[string]string{
			{"GAMEPIPE_SECRETS_KEY": short},
			{"GAMEPIPE_SECRETS_KEY": "hunter2 is not base64"},
			{"GAMEPIPE_SECRETS_KEY": key, "GAMEPIPE_SECRETS_KEY_FILE": "/nonexistent"},
			{"GAMEPIPE_SECRETS_KEY_FILE": filepath.Join(t.TempDir(), "missing")},
		} {
			_, err := CommonFromEnv(env(e))
			require.ErrorContains(t, err, "GAMEPIPE_SECRETS_KEY")
			require.NotContains(t, err.Error(), "hunter2", "the key is never printed")
			require.NotContains(t, err.Error(), short)
			require.NotContains(t, err.Error(), key)
		}
	})
}
