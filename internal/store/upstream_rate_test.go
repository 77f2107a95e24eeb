package store_test

import (
	"context"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/generaitiv"
	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/upstream"
	"github.com/gamepipe/gamepipe/internal/upstreamsim/generaitivsim"
)

// processPool is a second pool on the test's schema: another process.
func processPool(t *testing.T, db *dbtest.Schema) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), db.URL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

func TestUpstreamRateLimiter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("LongWaitTakesNothing", func(t *testing.T) {
		t.Parallel()
		db := dbtest.NewSchema(t)
		l, err := store.NewUpstreamRateLimiter(db.Pool, &store.UpstreamRateConfig{Service: "generaitiv", Rate: 0.1, MaxWait: time.Second})
		require.NoError(t, err)
		wait, ok, err := l.Reserve(ctx, "k", "")
		require.NoError(t, err)
		require.True(t, ok)
		require.Zero(t, wait, "a key's first call goes at once")
		for range 3 {
			wait, ok, err = l.Reserve(ctx, "k", "")
			require.NoError(t, err)
			require.False(t, ok, "the next slot is 10s off, past MaxWait")
			require.Greater(t, wait, 5*time.Second)
			require.LessOrEqual(t, wait, 10*time.Second, "a refused call took no slot")
		}
		// Another key is not held back.
		_, ok, err = l.Reserve(ctx, "other", "")
		require.NoError(t, err)
		require.True(t, ok)
		var n int
		require.NoError(t, db.Pool.QueryRow(ctx, "SELECT count(*) FROM upstream_rate_limits").Scan(&n))
		require.Equal(t, 2, n)
	})

	t.Run("BadConfig", func(t *testing.T) {
		t.Parallel()
		_, err := store.NewUpstreamRateLimiter(nil, &store.UpstreamRateConfig{})
		require.ErrorContains(t, err, "rate must be positive")
	})
}

// TestSharedKeyRateAcrossProcesses: two Generaitiv clients, as in two
// worker processes each with its own pool, send with one key as fast as
// they can; the simulator sees them spaced as one client at the key's
// rate, never the sum of two.
func TestSharedKeyRateAcrossProcesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.NewSchema(t)

	sim := generaitivsim.New(&generaitivsim.Config{})
	var mu sync.Mutex
	var arrivals []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		mu.Unlock()
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { srv.Close(); sim.Close() })

	const (
		rate  = 20.0
		burst = 2
		calls = 40 // per process
	)
	newClient := func(pool *pgxpool.Pool) *generaitiv.Client {
		l, err := store.NewUpstreamRateLimiter(pool, &store.UpstreamRateConfig{Service: "generaitiv", Rate: rate, Burst: burst, MaxWait: time.Minute})
		require.NoError(t, err)
		c, err := generaitiv.New(&generaitiv.Config{
			BaseURL: srv.URL + "/v1/", APIKey: "test-key", RateLimit: rate, RateBurst: burst, KeyLimiter: l,
		})
		require.NoError(t, err)
		return c
	}
	clients := []*generaitiv.Client{newClient(db.Pool), newClient(processPool(t, db))}

	start := time.Now()
	var wg sync.WaitGroup
	var failed atomic.Int64
	for _, c := range clients {
		for range 2 { // two jobs per process
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range calls / 2 {
					if _, err := c.UserInfo(ctx); err != nil {
						failed.Add(1)
						t.Log(err)
					}
				}
			}()
		}
	}
	wg.Wait()
	require.Zero(t, failed.Load())
	require.Len(t, arrivals, 2*calls)
	// Slots are one interval apart and the first is at most burst-1
	// intervals before start, so the last call cannot arrive before this,
	// however the machine schedules; two independent buckets of the same
	// rate would be done in about half of it.
	last := arrivals[len(arrivals)-1]
	least := time.Duration(float64(2*calls-burst) / rate * float64(time.Second))
	require.GreaterOrEqual(t, last.Sub(start), least, "the key's rate held across both processes")
}

// TestSharedKeyLongWaitIs429: a call whose slot is further off than the
// limiter waits for is not sent: a 429 of our own with Retry-After, which
// a job turns into a snooze.
func TestSharedKeyLongWaitIs429(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.NewSchema(t)
	sim := generaitivsim.New(&generaitivsim.Config{})
	var sent atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent.Add(1)
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { srv.Close(); sim.Close() })
	l, err := store.NewUpstreamRateLimiter(db.Pool, &store.UpstreamRateConfig{Service: "generaitiv", Rate: 0.1, MaxWait: time.Second})
	require.NoError(t, err)
	c, err := generaitiv.New(&generaitiv.Config{BaseURL: srv.URL + "/v1/", APIKey: "test-key", KeyLimiter: l})
	require.NoError(t, err)
	_, err = c.UserInfo(ctx)
	require.NoError(t, err)
	_, err = c.UserInfo(ctx)
	var ue *upstream.Error
	require.ErrorAs(t, err, &ue)
	require.True(t, ue.RateLimited())
	require.Equal(t, generaitiv.ClientRateLimited, ue.Code)
	require.Greater(t, ue.RetryAfter, 5*time.Second)
	require.Equal(t, int64(1), sent.Load(), "the refused call was not sent")
}

// TestTenantShareAcrossProcesses: an app's share of a shared key holds
// across processes, and its flood leaves the key's next slots to the
// other apps.
func TestTenantShareAcrossProcesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("ShareHoldsAndTheKeyStaysFree", func(t *testing.T) {
		t.Parallel()
		db := dbtest.NewSchema(t)
		// The key: 10 calls/s, bursts of 2; a tenant: half of that, 5/s,
		// no burst.
		cfg := &store.UpstreamRateConfig{Service: "generaitiv", Rate: 10, Burst: 2, TenantShare: 0.5, MaxWait: time.Minute}
		var procs []*store.UpstreamRateLimiter
		for _, pool := range []*pgxpool.Pool{db.Pool, processPool(t, db)} {
			l, err := store.NewUpstreamRateLimiter(pool, cfg)
			require.NoError(t, err)
			procs = append(procs, l)
		}
		const calls = 6
		var sends []time.Time
		for i := range calls {
			wait, ok, err := procs[i%2].Reserve(ctx, "k", "app-a")
			require.NoError(t, err)
			require.True(t, ok)
			sends = append(sends, time.Now().Add(wait))
		}
		// App A's calls are 200ms apart, whichever process sends them;
		// two processes each with a bucket of their own would be twice as
		// fast. Lateness only adds to the span.
		span := sends[calls-1].Sub(sends[0])
		require.GreaterOrEqual(t, span, (calls-1)*200*time.Millisecond-20*time.Millisecond, "app A kept to its share across both processes")

		// A's calls took the key's slots only as they were sent: the key's
		// next slot is at most one key interval off.
		var ahead time.Duration
		keyHash := sha256.Sum256([]byte("generaitiv\x00k"))
		require.NoError(t, db.Pool.QueryRow(ctx, `SELECT next_at - clock_timestamp() FROM upstream_rate_limits
			WHERE key_hash = $1`, keyHash[:]).Scan(&ahead))
		require.LessOrEqual(t, ahead, 100*time.Millisecond)
		wait, ok, err := procs[1].Reserve(ctx, "k", "app-b")
		require.NoError(t, err)
		require.True(t, ok)
		require.LessOrEqual(t, wait, 100*time.Millisecond, "app B is not queued behind app A")
	})

	t.Run("OverTheShareFarOffTakesNothing", func(t *testing.T) {
		t.Parallel()
		db := dbtest.NewSchema(t)
		l, err := store.NewUpstreamRateLimiter(db.Pool, &store.UpstreamRateConfig{
			Service: "generaitiv", Rate: 0.2, Burst: 2, TenantShare: 0.5, MaxWait: 100 * time.Millisecond})
		require.NoError(t, err)
		_, ok, err := l.Reserve(ctx, "k", "app-a")
		require.NoError(t, err)
		require.True(t, ok)
		wait, ok, err := l.Reserve(ctx, "k", "app-a")
		require.NoError(t, err)
		require.False(t, ok, "app A's next slot is 10s off")
		require.Greater(t, wait, 5*time.Second)
		_, ok, err = l.Reserve(ctx, "k", "app-b")
		require.NoError(t, err)
		require.True(t, ok, "the key's burst is left to app B")
		_, ok, err = l.Reserve(ctx, "k", "")
		require.NoError(t, err)
		require.False(t, ok, "and then the key is used up")
	})

	t.Run("BadShare", func(t *testing.T) {
		t.Parallel()
		_, err := store.NewUpstreamRateLimiter(nil, &store.UpstreamRateConfig{Rate: 1, TenantShare: 1.5})
		require.ErrorContains(t, err, "tenant share")
	})
}
