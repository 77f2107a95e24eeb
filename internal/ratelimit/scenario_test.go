package ratelimit

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestScenario12 follows scenario 12 of docs/reliability.md ("Per-IP rate limit +
// XFF spoofing") through a minimal handler built the way the ingestion API
// uses this package; the API's own test repeats it against the real routes.
func TestScenario12(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		now  time.Time // simulated clock, advanced by the test
		rng  *rand.Rand
		hand http.Handler
		lim  *Limiter
	}

	setup := func(t *testing.T, cfg Config, trustedProxies string) *testBundle {
		t.Helper()

		trusted, err := prefixes(trustedProxies)
		require.NoError(t, err)
		b := &testBundle{now: t0, rng: rand.New(rand.NewPCG(12, 12)), lim: New(cfg)}
		clientIP := &ClientIP{TrustedProxies: trusted}
		b.hand = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if ok, retry := b.lim.Allow(clientIP.FromRequest(r), b.now); !ok {
				w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds(retry)))
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusTooManyRequests)
				_ = json.NewEncoder(w).Encode(map[string]string{"error": "rate_limited", "message": "too many requests"})
				return
			}
			w.WriteHeader(http.StatusOK)
		})
		return b
	}

	randomIP := func(rng *rand.Rand) string {
		if rng.IntN(2) == 0 {
			return addrN(rng.Uint32()).String()
		}
		var b [16]byte
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return netip.AddrFrom16(b).String()
	}

	do := func(t *testing.T, b *testBundle, remoteAddr string, xff ...string) *httptest.ResponseRecorder {
		t.Helper()
		r := httptest.NewRequest("POST", "/v1/events", nil)
		r.RemoteAddr = remoteAddr
		for _, v := range xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		w := httptest.NewRecorder()
		b.hand.ServeHTTP(w, r)
		return w
	}

	t.Run("FromTrustedProxyRightmostUntrustedIsKey", func(t *testing.T) {
		t.Parallel()

		b := setup(t, Config{}, "10.0.0.0/8")
		// Client 203.0.113.5 behind two proxy hops, prefixing random claims.
		for range 10 {
			w := do(t, b, "10.0.0.1:443", randomIP(b.rng)+", 203.0.113.5", "10.0.0.7")
			require.Equal(t, http.StatusOK, w.Code)
		}
		w := do(t, b, "10.0.0.2:443", "203.0.113.5")
		require.Equal(t, http.StatusTooManyRequests, w.Code, "same client through another proxy")
		w = do(t, b, "10.0.0.1:443", "203.0.113.6")
		require.Equal(t, http.StatusOK, w.Code, "another client through the same proxy")
	})

	t.Run("ManySpoofedKeysStayUnderCap", func(t *testing.T) {
		t.Parallel()

		b := setup(t, Config{MaxKeys: 1000}, "10.0.0.0/8")
		for i := range 100_000 {
			b.now = t0.Add(time.Duration(i) * time.Microsecond)
			do(t, b, "10.0.0.1:443", randomIP(b.rng))
		}
		require.LessOrEqual(t, b.lim.Len(), 1000)
	})

	t.Run("SequentialFromPeerAWithSpoofedXFF", func(t *testing.T) {
		t.Parallel()

		const burst, rate = 10, 10.0
		b := setup(t, Config{Rate: rate, Burst: burst}, "10.0.0.0/8")
		var ok200 int
		for i := range 30 {
			b.now = t0.Add(time.Duration(i) * time.Second / 30)
			w := do(t, b, "198.51.100.10:40000", randomIP(b.rng))
			switch w.Code {
			case http.StatusOK:
				ok200++
			case http.StatusTooManyRequests:
				require.Equal(t, "application/json", w.Header().Get("Content-Type"))
				var body struct{ Error, Message string }
				require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
				require.Equal(t, "rate_limited", body.Error)
				secs, err := strconv.Atoi(w.Header().Get("Retry-After"))
				require.NoError(t, err)
				require.GreaterOrEqual(t, secs, 1)
			default:
				t.Fatalf("unexpected status %d", w.Code)
			}
		}
		elapsed := b.now.Sub(t0).Seconds()
		require.LessOrEqual(t, float64(ok200), burst+rate*elapsed, "spoofed XFF did not reset the limit")
		require.Less(t, ok200, 30)
		require.Equal(t, 1, b.lim.Len(), "the spoofed addresses created no keys")

		w := do(t, b, "198.51.100.11:40000")
		require.Equal(t, http.StatusOK, w.Code, "peer B is unaffected")
	})
}
