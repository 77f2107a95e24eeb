package infra

import (
	"fmt"

	"github.com/gamepipe/gamepipe/internal/auth"
)

// SecretBox is the box that seals the apps' upstream keys, built from the
// configured secrets key (config.Common.SecretsKey); nil when none is
// configured, so that storing an upstream key is refused and keys already
// sealed cannot be read (README.md, "Upstream keys at rest").
func SecretBox(key []byte) (*auth.SecretBox, error) {
	if len(key) == 0 {
		return nil, nil
	}
	box, err := auth.NewSecretBox(key)
	if err != nil {
		return nil, fmt.Errorf("error loading the secrets key: %w", err)
	}
	return box, nil
}
