package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// A registry serves the Go and process collectors and whatever a service
// registered on it.
func TestRegistry(t *testing.T) {
	t.Parallel()
	reg := NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "gamepipe_test_total", Help: "A test counter."})
	require.NoError(t, reg.Register(c))
	c.Inc()

	srv := httptest.NewServer(Handler(reg))
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "gamepipe_test_total 1"} {
		require.Contains(t, string(raw), name)
	}
}
