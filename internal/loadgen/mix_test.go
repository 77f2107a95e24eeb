package loadgen

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/telemetry"
)

func TestParseMix(t *testing.T) {
	t.Parallel()

	t.Run("Default", func(t *testing.T) {
		t.Parallel()

		m, err := ParseMix(DefaultMix.String())
		require.NoError(t, err)
		require.Equal(t, DefaultMix, m)
	})

	t.Run("Valid", func(t *testing.T) {
		t.Parallel()

		m, err := ParseMix(" Gameplay=3, realtime=1 ,")
		require.NoError(t, err)
		require.Equal(t, Mix{telemetry.KindGameplay: 3, telemetry.KindRealtime: 1}, m)
		kinds, cum := m.cumulative()
		require.Equal(t, []telemetry.Kind{telemetry.KindGameplay, telemetry.KindRealtime}, kinds)
		require.Equal(t, []float64{0.75, 1}, cum)
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()

		for _, s := range []string{"", "gameplay", "bogus=1", "gameplay=-1", "gameplay=x", "gameplay=0", "gameplay=1,gameplay=2", "gameplay=NaN"} {
			_, err := ParseMix(s)
			require.Error(t, err, "%q", s)
		}
	})
}
