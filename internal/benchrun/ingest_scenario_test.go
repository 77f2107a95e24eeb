package benchrun

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/loadgen"
)

func TestCapped(t *testing.T) {
	t.Parallel()

	b := &Bench{cfg: &Config{RateLimit: 10}} // 9 requests/s per source
	sent := func(n int64) *loadgen.Result { return &loadgen.Result{Requests: n, Elapsed: 2 * time.Second} }

	require.True(t, b.capped(sent(2*900), 100), "100 sources sent their 900 requests/s")
	require.True(t, b.capped(sent(2*630), 100), "70% of what they may send")
	require.False(t, b.capped(sent(2*600), 100), "the server, not the sources, set the pace")
	require.Empty(t, b.cappedNote(sent(2*600), 100))
	require.Contains(t, b.cappedNote(sent(2*900), 100), "may be a floor")
}
