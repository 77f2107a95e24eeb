package loadgen

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/telemetry"
)

func TestProgress(t *testing.T) {
	t.Parallel()

	snap := func(requests int64) *Result {
		r := &Result{Elapsed: time.Duration(requests) * time.Second, Requests: requests, Accepted: requests, Events: 100 * requests,
			Statuses: map[int]int64{http.StatusOK: requests}}
		r.Latency.Record(3 * time.Millisecond)
		return r
	}

	t.Run("Lines", func(t *testing.T) {
		t.Parallel()

		var out bytes.Buffer
		p := NewProgress(&out, false)
		p.Update(&Result{Warmup: true})
		p.Update(&Result{}) // the warmup just ended: nothing yet
		p.Update(snap(1))
		p.Update(snap(2))
		p.Done()
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		require.Len(t, lines, 3)
		require.Equal(t, "warming up...", lines[0])
		require.Contains(t, lines[2], "total 2 req 200 events")
		require.Contains(t, lines[2], "[200 2]")
		require.NotContains(t, out.String(), "\r")
	})

	t.Run("Terminal", func(t *testing.T) {
		t.Parallel()

		var out bytes.Buffer
		p := NewProgress(&out, true)
		p.Update(snap(1))
		p.Update(snap(2))
		p.Done()
		require.Equal(t, 2, strings.Count(out.String(), "\r\x1b[K"))
		require.True(t, strings.HasSuffix(out.String(), "\n"))
		require.False(t, IsTerminal(&out))
	})
}

func TestResultSummary(t *testing.T) {
	t.Parallel()

	r := &Result{Elapsed: 2 * time.Second, Requests: 4000, Accepted: 3990, Events: 399000,
		Statuses: map[int]int64{200: 3990, 429: 5}, Errors: map[string]int64{"timeout": 5}, FirstError: "i/o timeout",
		Kinds: map[telemetry.Kind]int64{telemetry.KindGameplay: 300000, telemetry.KindRealtime: 99000}}
	for range 99 {
		r.Latency.Record(time.Millisecond)
	}
	r.Latency.Record(50 * time.Millisecond)
	var out bytes.Buffer
	r.WriteSummary(&out)
	for _, want := range []string{
		"requests    4,000 (2,000/s), accepted 3,990 (1,995/s)",
		"events      399,000 accepted (199,500/s)",
		"p50 1.00ms", "max 50.2ms", // the highest value of its 1% bucket, never optimistic
		"status      200 3,990, 429 5, timeout 5",
		"sent        gameplay 300,000, realtime 99,000",
		"first error i/o timeout",
	} {
		require.Contains(t, out.String(), want)
	}
	require.EqualValues(t, 10, r.Failed())
	s := r.Summary()
	require.InDelta(t, 199500, s.EventsPerSec, 1e-6)
	require.Equal(t, map[string]int64{"200": 3990, "429": 5}, s.Statuses)
	require.InDelta(t, 50, s.LatencyMS["max"], 0.5)
	require.Equal(t, "-1,234", count(-1234))
}
