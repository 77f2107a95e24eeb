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

func TestHasSubject(t *testing.T) {
	t.Parallel()
	ev := &Event{AppID: "72ab8f81-ef36-4712-a046-399a62b9afaa", Kind: KindGameplay}
	require.True(t, ev.HasSubject(ev.Subject()))
	for _, other := range []string{"", "telemetry.", "telemetry." + ev.AppID, "telemetry." + ev.AppID + ".",
		"telemetry." + ev.AppID + ".player", "telemetry." + ev.AppID + ".gameplayx", "telemetry." + ev.AppID + "x.gameplay",
		"telemetryx" + ev.AppID + ".gameplay", "x.telemetry." + ev.AppID + ".gameplay"} {
		require.False(t, ev.HasSubject(other), other)
	}
}
