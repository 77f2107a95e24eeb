package e2e

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/eventstream"
)

// TestStreamFullIsBackPressure is docs/reliability.md #19: a full
// TELEMETRY stream (DiscardNew) makes the API answer 503, never a 200 it
// cannot keep; once the sink runs, every event that got a 200 is in Postgres.
func TestStreamFullIsBackPressure(t *testing.T) {
	t.Parallel()

	s := newStack(t, &stackOpts{stream: &eventstream.StreamConfig{MaxBytes: 64 << 10}, noSink: true})
	app := s.app.AppID.String()

	accepted, refused := 0, 0
	for i := 0; i < 2000 && refused == 0; i++ {
		status, body := s.post(t, pack(t, gameplay(app, i)))
		switch status {
		case 200:
			accepted++
		case 503:
			refused++
			require.Equal(t, "unavailable", body["error"])
		default:
			t.Fatalf("unexpected status %d: %v", status, body)
		}
	}
	require.Positive(t, refused, "a full stream must refuse")
	require.Positive(t, accepted)

	s.startSink(t)
	s.eventuallyCount(t, accepted, "SELECT count(*) FROM gameplay_events")

	// The companion assertion: DiscardOld would drop acknowledged but
	// unconsumed events, so it is refused for TELEMETRY.
	require.ErrorIs(t, (&eventstream.StreamConfig{Discard: "old"}).Validate(), eventstream.ErrDiscardOld)
}
