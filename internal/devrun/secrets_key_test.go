package devrun

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEnsureSecretsKey(t *testing.T) {
	t.Parallel()

	t.Run("CreatedOnceAndKept", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "data")
		path, err := EnsureSecretsKey(dir)
		require.NoError(t, err)
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
		require.NoError(t, err)
		require.Len(t, key, 32)
		info, err := os.Stat(path)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), info.Mode().Perm())

		again, err := EnsureSecretsKey(dir)
		require.NoError(t, err)
		require.Equal(t, path, again)
		raw2, err := os.ReadFile(again)
		require.NoError(t, err)
		require.Equal(t, raw, raw2, "the key survives restarts, or sealed keys would be lost")
	})

	t.Run("ConfiguredKeyWins", func(t *testing.T) {
		t.Parallel()
		require.False(t, secretsKeyConfigured([]string{"DATA_DIR=x", "GAMEPIPE_SECRETS_KEY="}))
		require.True(t, secretsKeyConfigured([]string{"GAMEPIPE_SECRETS_KEY=abc"}))
		require.True(t, secretsKeyConfigured([]string{"GAMEPIPE_SECRETS_KEY_FILE=/k"}))
	})
}
