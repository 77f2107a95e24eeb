package generaitivsim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type testBundle struct {
	sim      *Server
	server   *httptest.Server
	receiver *httptest.Server
	mu       *sync.Mutex
	hooks    *[]string
}

func setup(t *testing.T, cfg *Config) *testBundle {
	t.Helper()
	if cfg == nil {
		cfg = &Config{GenerationTime: 50 * time.Millisecond}
	}
	sim := New(cfg)
	srv := httptest.NewServer(sim)
	var mu sync.Mutex
	hooks := []string{}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		hooks = append(hooks, string(body))
		mu.Unlock()
	}))
	t.Cleanup(func() { srv.Close(); sim.Close(); recv.Close() })
	return &testBundle{sim: sim, server: srv, receiver: recv, mu: &mu, hooks: &hooks}
}

func (b *testBundle) call(t *testing.T, method, path string, body any) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, b.server.URL+path, rd)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer sim-test")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, raw
}

func (b *testBundle) waitHooks(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b.mu.Lock()
		got := append([]string{}, *b.hooks...)
		b.mu.Unlock()
		if len(got) >= n {
			return got
		}
		require.True(t, time.Now().Before(deadline), "got %d webhooks, want %d", len(got), n)
		time.Sleep(10 * time.Millisecond)
	}
}

func TestServer(t *testing.T) {
	t.Parallel()
	gen := func(b *testBundle, webhook bool) map[string]any {
		req := map[string]any{"model": "m", "input": map[string]any{"prompt": "p", "width": 64, "height": 64}}
		if webhook {
			req["webhook"] = b.receiver.URL + "/cb"
		}
		return req
	}

	t.Run("CallbackBeforeResponse", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, nil)
		bundle.sim.SetFaults(Faults{CallbackBeforeResponse: true})
		status, _, _ := bundle.call(t, "POST", "/v1/consumer/gen", gen(bundle, true))
		require.Equal(t, http.StatusOK, status)
		bundle.mu.Lock()
		require.Len(t, *bundle.hooks, 1, "delivered before the answer")
		bundle.mu.Unlock()
	})

	t.Run("DocumentShapes", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, nil)
		status, _, raw := bundle.call(t, "GET", "/v1/q/latest-tokens/?page=0&page_size=2", nil)
		require.Equal(t, http.StatusOK, status)
		var tokens struct{ Result []map[string]any }
		require.NoError(t, json.Unmarshal(raw, &tokens))
		require.Len(t, tokens.Result, 2)
		for _, k := range []string{"collection", "tokenId", "creator", "status", "virtual_address", "slug", "metadata", "created_at"} {
			require.Contains(t, tokens.Result[0], k)
		}
		status, _, raw = bundle.call(t, "GET", "/v1/tokens/collection/red-every-day/?cursor=28", nil)
		require.Equal(t, http.StatusOK, status)
		var page struct {
			PageSize int `json:"pageSize"`
			Result   []map[string]any
		}
		require.NoError(t, json.Unmarshal(raw, &page))
		require.Equal(t, 14, page.PageSize)
		require.Len(t, page.Result, 2)
		require.Equal(t, "TOKEN", page.Result[0]["entity"])
		status, _, _ = bundle.call(t, "GET", "/v1/q/latest-tokens/?page_size=1000", nil)
		require.Equal(t, http.StatusBadRequest, status)
		req, _ := http.NewRequest("GET", bundle.server.URL+"/v1/consumer/user-info/", nil)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	})

	t.Run("PaymentAndRateLimit", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, &Config{GenRate: 1, GenBurst: 1})
		status, _, _ := bundle.call(t, "POST", "/v1/consumer/gen", gen(bundle, false))
		require.Equal(t, http.StatusOK, status)
		status, hdr, raw := bundle.call(t, "POST", "/v1/consumer/gen", gen(bundle, false))
		require.Equal(t, http.StatusTooManyRequests, status)
		require.Equal(t, "1", hdr.Get("Retry-After"))
		require.Contains(t, string(raw), "rate_limited")
		bundle.sim.SetFaults(Faults{PaymentRequired: true})
		status, _, raw = bundle.call(t, "POST", "/v1/consumer/gen", gen(bundle, false))
		require.Equal(t, http.StatusPaymentRequired, status)
		require.Contains(t, string(raw), "payment_required")
		st := bundle.sim.Stats()
		require.Equal(t, 1, st.Gen429)
		require.Equal(t, 1, st.Gen402)
	})

	t.Run("WebhookFaults", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, nil)
		bundle.sim.SetFaults(Faults{WebhookDuplicates: 1, WebhookLateReplay: 50 * time.Millisecond})
		status, _, raw := bundle.call(t, "POST", "/v1/consumer/gen", gen(bundle, true))
		require.Equal(t, http.StatusOK, status)
		var resp map[string]string
		require.NoError(t, json.Unmarshal(raw, &resp))
		require.NotEmpty(t, resp["id"])
		require.Empty(t, resp["jwt"], "no websocket token with a webhook")
		hooks := bundle.waitHooks(t, 3)
		for _, h := range hooks {
			require.Contains(t, h, `"status":"COMPLETED"`)
			require.Equal(t, hooks[0], h)
		}

		lost := setup(t, nil)
		lost.sim.SetFaults(Faults{WebhookLost: true, FailAll: true})
		status, _, _ = lost.call(t, "POST", "/v1/consumer/gen", gen(lost, true))
		require.Equal(t, http.StatusOK, status)
		lost.sim.Close() // waits for the (skipped) delivery
		require.Empty(t, *lost.hooks)
	})
}

func TestFromEnv(t *testing.T) {
	t.Parallel()
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	addr, h, err := FromEnv(env(map[string]string{"GENERAITIV_SIM_WS_ADDR": "127.0.0.1:0"}))
	require.NoError(t, err)
	require.Equal(t, DefaultAddr, addr)
	require.NotNil(t, h)
	addr, _, err = FromEnv(env(map[string]string{"GENERAITIV_SIM_ADDR": "127.0.0.1:0", "GENERAITIV_SIM_SECONDS": "0.5",
		"GENERAITIV_SIM_KEYS": "a, b", "GENERAITIV_SIM_PAYMENT_REQUIRED": "1", "GENERAITIV_SIM_WS_ADDR": "127.0.0.1:0"}))
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:0", addr)
	for k, v := range map[string]string{"GENERAITIV_SIM_SECONDS": "-1", "GENERAITIV_SIM_RATE": "x", "GENERAITIV_SIM_PAYMENT_REQUIRED": "maybe"} {
		_, _, err := FromEnv(env(map[string]string{k: v}))
		require.Error(t, err, k)
	}
}

// BenchmarkRenderPNG measures the simulator's image rendering, which is part
// of every download the end-to-end benchmark makes.
func BenchmarkRenderPNG(b *testing.B) {
	for b.Loop() {
		_ = renderPNG(1024, 1024, "seed")
	}
}
