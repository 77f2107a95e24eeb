package devrun

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// SecretsKeyFile is the development secrets key devrun keeps in DATA_DIR
// when the environment names none.
const SecretsKeyFile = "secrets.key"

// EnsureSecretsKey returns the path of DATA_DIR/secrets.key, creating it
// (32 random bytes in base64, mode 0600) on the first start. It seals the
// apps' upstream keys of a local run only: a deployment sets its own
// GAMEPIPE_SECRETS_KEY or GAMEPIPE_SECRETS_KEY_FILE (README.md). Unless the
// environment names a secrets key, devrun gives every child this file, before
// it runs `gamepipe migrate`.
func EnsureSecretsKey(dataDir string) (string, error) {
	path := filepath.Join(dataDir, SecretsKeyFile)
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return "", fmt.Errorf("error creating %s: %w", dataDir, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return path, nil
	}
	if err != nil {
		return "", fmt.Errorf("error creating the development secrets key: %w", err)
	}
	var key [32]byte
	_, _ = rand.Read(key[:]) // crypto/rand.Read never fails on supported platforms
	_, werr := f.WriteString(base64.StdEncoding.EncodeToString(key[:]) + "\n")
	if err := errors.Join(werr, f.Close()); err != nil {
		_ = os.Remove(path)
		return "", fmt.Errorf("error writing the development secrets key: %w", err)
	}
	return path, nil
}

// secretsKeyConfigured reports whether env already names a secrets key.
func secretsKeyConfigured(env []string) bool {
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if (k == "GAMEPIPE_SECRETS_KEY" || k == "GAMEPIPE_SECRETS_KEY_FILE") && strings.TrimSpace(v) != "" {
			return true
		}
	}
	return false
}
