package telemetry

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLimitsWithDefaults(t *testing.T) {
	t.Parallel()

	defaults := Limits{MaxBatch: 500, MaxDepth: 32, MaxStringLen: 256, MaxCustomDataBytes: 16 << 10, MaxPositions: 30000}
	require.Equal(t, defaults, Limits{}.WithDefaults())
	require.Equal(t, defaults, Limits{MaxBatch: -1, MaxDepth: -5}.WithDefaults())

	custom := Limits{MaxBatch: 1, MaxDepth: 2, MaxStringLen: 3, MaxCustomDataBytes: 4, MaxPositions: 5}
	require.Equal(t, custom, custom.WithDefaults())
}
