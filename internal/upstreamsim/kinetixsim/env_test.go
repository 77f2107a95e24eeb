package kinetixsim_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/upstreamsim/kinetixsim"
)

func TestFromEnv(t *testing.T) {
	t.Parallel()

	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()
		addr, h, err := kinetixsim.FromEnv(env(nil))
		require.NoError(t, err)
		require.Equal(t, "127.0.0.1:4101", addr)
		require.NotNil(t, h)
	})

	t.Run("ReadsEveryVariable", func(t *testing.T) {
		t.Parallel()
		addr, h, err := kinetixsim.FromEnv(env(map[string]string{
			"KINETIX_SIM_ADDR":            "127.0.0.1:0",
			"KINETIX_SIM_PROCESS_SECONDS": "0.5",
			"KINETIX_SIM_KEYS":            "a, b",
			"KINETIX_SIM_VALIDATION_KEYS": "*",
			"KINETIX_SIM_TOKEN_TTL":       "2m",
			"KINETIX_SIM_LATENCY":         "1ms",
			"KINETIX_SIM_FAULTS":          "POST /v1/plans=503*1",
		}))
		require.NoError(t, err)
		require.Equal(t, "127.0.0.1:0", addr)
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)

		post := func(key string) int {
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/v1/plans", nil)
			require.NoError(t, err)
			req.Header.Set("X-Api-Key", key)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			return resp.StatusCode
		}
		require.Equal(t, http.StatusServiceUnavailable, post("a"))
		require.Equal(t, http.StatusOK, post("b"))
		require.Equal(t, http.StatusUnauthorized, post("c"))
	})

	t.Run("RejectsBadValues", func(t *testing.T) {
		t.Parallel()
		for name, kv := range map[string]map[string]string{
			"ProcessSeconds": {"KINETIX_SIM_PROCESS_SECONDS": "-1"},
			"TokenTTL":       {"KINETIX_SIM_TOKEN_TTL": "five"},
			"Latency":        {"KINETIX_SIM_LATENCY": "-1s"},
			"Faults":         {"KINETIX_SIM_FAULTS": "POST /v1/process=teapot"},
		} {
			_, _, err := kinetixsim.FromEnv(env(kv))
			require.Error(t, err, name)
		}
	})
}

func TestParseFaults(t *testing.T) {
	t.Parallel()

	faults, err := kinetixsim.ParseFaults("POST /v1/process=429*10@2s; GET /v1/process/{uuid}=502*3 ;*=latency@50ms;POST /v1/process=fail*1;x=timeout@3s;;y=stuck")
	require.NoError(t, err)
	require.Equal(t, []kinetixsim.Fault{
		{Route: "POST /v1/process", Kind: kinetixsim.FaultRateLimit, Count: 10, RetryAfter: 2 * time.Second},
		{Route: "GET /v1/process/{uuid}", Kind: kinetixsim.FaultServerError, Count: 3, Status: 502},
		{Route: "*", Kind: kinetixsim.FaultLatency, Delay: 50 * time.Millisecond},
		{Route: "POST /v1/process", Kind: kinetixsim.FaultFailProcess, Count: 1},
		{Route: "x", Kind: kinetixsim.FaultTimeout, Delay: 3 * time.Second},
		{Route: "y", Kind: kinetixsim.FaultStuckProcess},
	}, faults)

	for _, bad := range []string{"no-equals", "x=429*0", "x=499", "x=latency@soon", "x=429*many"} {
		_, err := kinetixsim.ParseFaults(bad)
		require.Error(t, err, bad)
	}
}
