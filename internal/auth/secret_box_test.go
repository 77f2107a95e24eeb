package auth_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/auth"
)

func TestSecretBox(t *testing.T) {
	t.Parallel()

	newBox := func(t *testing.T, fill byte) *auth.SecretBox {
		t.Helper()
		b, err := auth.NewSecretBox(bytes.Repeat([]byte{fill}, auth.SecretsKeySize))
		require.NoError(t, err)
		return b
	}

	t.Run("KeySizeChecked", func(t *testing.T) {
		t.Parallel()
		_, err := auth.NewSecretBox(make([]byte, 16))
		require.Error(t, err)
	})

	t.Run("OpenRefusesAnotherKeyOrPlace", func(t *testing.T) {
		t.Parallel()
		b := newBox(t, 1)
		sealed := b.Seal("upstream-secret", "app-1/kinetix")
		_, err := newBox(t, 2).Open(sealed, "app-1/kinetix")
		require.ErrorIs(t, err, auth.ErrSealed)
		_, err = b.Open(sealed, "app-2/kinetix")
		require.ErrorIs(t, err, auth.ErrSealed)
		var none *auth.SecretBox
		_, err = none.Open(sealed, "app-1/kinetix")
		require.ErrorIs(t, err, auth.ErrSealed)
		_, err = b.Open(sealed[:len(sealed)-2]+"AA", "app-1/kinetix")
		require.ErrorIs(t, err, auth.ErrSealed)
		_, err = b.Open("upstream-secret", "app-1/kinetix")
		require.ErrorIs(t, err, auth.ErrSealed)
		require.NotContains(t, err.Error(), "upstream-secret")
	})

	t.Run("SealsWithRandomNonce", func(t *testing.T) {
		t.Parallel()
		b := newBox(t, 1)
		one, two := b.Seal("upstream-secret", "ad"), b.Seal("upstream-secret", "ad")
		require.NotEqual(t, one, two)
		for _, s := range []string{one, two} {
			require.True(t, auth.IsSealed(s))
			require.True(t, strings.HasPrefix(s, "gpenc1:"+b.KeyID()+":"))
			require.NotContains(t, s, "upstream-secret")
			plain, err := b.Open(s, "ad")
			require.NoError(t, err)
			require.Equal(t, "upstream-secret", plain)
		}
		require.False(t, auth.IsSealed("upstream-secret"))
		require.NotEqual(t, b.KeyID(), newBox(t, 2).KeyID())
	})
}
