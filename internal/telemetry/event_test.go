package telemetry

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestKindIndex(t *testing.T) {
	t.Parallel()
	require.Len(t, Kinds, NumKinds)
	for i, k := range Kinds {
		require.Equal(t, i, k.Index(), k)
	}
	require.Equal(t, -1, Kind("other").Index())
}
