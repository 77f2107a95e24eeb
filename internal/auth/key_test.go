package auth

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestKeys(t *testing.T) {
	t.Parallel()

	pub, sec := NewKey(KindPublic), NewKey(KindSecret)
	require.True(t, strings.HasPrefix(pub, PublicPrefix))
	require.True(t, strings.HasPrefix(sec, SecretPrefix))
	require.NotEqual(t, NewKey(KindPublic), pub)
	require.True(t, Plausible(pub))
	require.True(t, Plausible(sec))
	require.False(t, Plausible("hello"))
	require.False(t, Plausible(PublicPrefix+strings.Repeat("a", 200)))

	h := HashKey(pub)
	require.True(t, h.Equal(h[:]))
	other := HashKey(sec)
	require.False(t, h.Equal(other[:]))
	require.False(t, h.Equal(h[:5]))

	require.Equal(t, pub[:len(PublicPrefix)+4], DisplayPrefix(pub))
	require.Equal(t, sec[:len(SecretPrefix)+4], DisplayPrefix(sec))
}
