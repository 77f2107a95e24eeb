package httpapi

import (
	"context"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/auth"
	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/testutil"
)

// countingLookup is store.KeyLookup on a pool the test can swap for one
// whose Postgres is unreachable, counting the lookups that reach it.
type countingLookup struct {
	pool  atomic.Pointer[pgxpool.Pool]
	calls atomic.Int64
	gate  chan struct{} // when set, lookups wait for it to close
}

func newCountingLookup(pool *pgxpool.Pool) *countingLookup {
	l := &countingLookup{}
	l.pool.Store(pool)
	return l
}

func (l *countingLookup) lookup(ctx context.Context, h auth.Hash) (*store.KeyInfo, error) {
	l.calls.Add(1)
	if l.gate != nil {
		<-l.gate
	}
	return store.KeyLookup(ctx, l.pool.Load(), h)
}

// unreachablePool is a pool for the database of url on a port where
// nothing listens: every query fails to connect, as when Postgres is down.
func unreachablePool(t *testing.T, dbURL string) *pgxpool.Pool {
	t.Helper()
	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	u.Host = testutil.FreeAddr(t)
	pool, err := pgxpool.New(context.Background(), u.String())
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

func TestAuthenticatorCoalescesLookups(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.NewSchema(t)
	app, err := store.AppCreate(ctx, db.Pool, "game")
	require.NoError(t, err)

	for _, tc := range []struct {
		name string
		key  string
		want *store.KeyInfo
	}{
		{"known", app.PublicToken, &store.KeyInfo{AppID: app.AppID, Kind: auth.KindPublic}},
		{"unknown", auth.NewKey(auth.KindPublic), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newCountingLookup(db.Pool)
			l.gate = make(chan struct{})
			a := newAuthenticator(l.lookup, time.Minute, 10*time.Minute, time.Now)

			const n = 50
			var (
				started, done sync.WaitGroup
				infos         [n]*store.KeyInfo
				errs          [n]error
			)
			started.Add(n)
			done.Add(n)
			for i := range n {
				go func() {
					defer done.Done()
					started.Done()
					infos[i], errs[i] = a.resolve(ctx, tc.key)
				}()
			}
			started.Wait()
			// Hold the first lookup while the others arrive. Without
			// coalescing each of them reaches the lookup, and the wait ends
			// as soon as all have; with it, they wait for the first and the
			// wait ends at its bound, which only gives them time to arrive.
			for deadline := time.Now().Add(time.Second); l.calls.Load() < n && time.Now().Before(deadline); {
				time.Sleep(5 * time.Millisecond)
			}
			close(l.gate)
			done.Wait()

			require.EqualValues(t, 1, l.calls.Load(), "one lookup for %d concurrent requests", n)
			for i := range n {
				require.NoError(t, errs[i])
				require.Equal(t, tc.want, infos[i])
			}
		})
	}
}

func TestAuthenticatorFloodKeepsKnownKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.NewSchema(t)
	app, err := store.AppCreate(ctx, db.Pool, "game")
	require.NoError(t, err)
	l := newCountingLookup(db.Pool)
	a := newAuthenticator(l.lookup, time.Hour, 10*time.Minute, time.Now)

	info, err := a.resolve(ctx, app.PublicToken)
	require.NoError(t, err)
	require.Equal(t, app.AppID, info.AppID)

	// 50,000 made-up keys, each looked up once and found missing.
	const bogus = 50_000
	keys := make(chan string)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for k := range keys {
				info, err := a.resolve(ctx, k)
				if err != nil || info != nil {
					t.Errorf("made-up key resolved to %v, %v", info, err)
				}
			}
		})
	}
	var last string
	for range bogus {
		last = auth.NewKey(auth.KindPublic)
		keys <- last
	}
	close(keys)
	wg.Wait()
	require.EqualValues(t, 1+bogus, l.calls.Load())

	// The real key is still cached, and so is the latest made-up one.
	info, err = a.resolve(ctx, app.PublicToken)
	require.NoError(t, err)
	require.Equal(t, app.AppID, info.AppID)
	info, err = a.resolve(ctx, last)
	require.NoError(t, err)
	require.Nil(t, info)
	require.EqualValues(t, 1+bogus, l.calls.Load(), "no further lookups")
	a.mu.Lock()
	defer a.mu.Unlock()
	require.Equal(t, 1, a.known.len())
	require.Equal(t, unknownKeysMax, a.unknown.len())
}

func TestAuthenticatorServesKnownKeysWhilePostgresIsDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.NewSchema(t)
	app, err := store.AppCreate(ctx, db.Pool, "game")
	require.NoError(t, err)
	other, err := store.AppCreate(ctx, db.Pool, "other")
	require.NoError(t, err)
	l := newCountingLookup(db.Pool)
	clock := testutil.NewClock(time.Now())
	const ttl, staleMax = 30 * time.Second, 10 * time.Minute
	a := newAuthenticator(l.lookup, ttl, staleMax, clock.Now)
	checked := clock.Now()

	requireApp := func(key string, want *store.AppCredentials) {
		t.Helper()
		info, err := a.resolve(ctx, key)
		require.NoError(t, err)
		require.NotNil(t, info)
		require.Equal(t, want.AppID, info.AppID)
	}
	requireApp(app.PublicToken, app)
	require.EqualValues(t, 1, l.calls.Load())

	// Postgres goes away. Past the TTL the lookup fails, and the key is
	// served from the cache.
	l.pool.Store(unreachablePool(t, db.URL))
	clock.Advance(ttl + time.Second)
	requireApp(app.PublicToken, app)
	require.EqualValues(t, 2, l.calls.Load())
	// Right after a failure the cache answers without asking again.
	requireApp(app.PublicToken, app)
	require.EqualValues(t, 2, l.calls.Load())
	// Later it asks again, and still serves the key.
	clock.Advance(keyRetryAfterFailure)
	requireApp(app.PublicToken, app)
	require.EqualValues(t, 3, l.calls.Load())

	// A key never seen cannot be checked: an error (503), not "invalid".
	info, err := a.resolve(ctx, other.PublicToken)
	require.Error(t, err)
	require.Nil(t, info)

	// Staleness is bounded: staleMax after the last successful lookup the
	// key is no longer accepted on the cache's word.
	clock.Set(checked.Add(staleMax))
	_, err = a.resolve(ctx, app.PublicToken)
	require.Error(t, err)

	// Postgres is back: lookups answer again.
	l.pool.Store(db.Pool)
	requireApp(app.PublicToken, app)
	requireApp(other.PublicToken, other)

	// A key Postgres says is gone is refused at once, cached or not.
	_, err = store.AppRotateKeys(ctx, db.Pool, app.AppID, 0)
	require.NoError(t, err)
	clock.Advance(ttl + time.Second)
	info, err = a.resolve(ctx, app.PublicToken)
	require.NoError(t, err)
	require.Nil(t, info)
	// And not served stale when Postgres goes away again.
	l.pool.Store(unreachablePool(t, db.URL))
	info, err = a.resolve(ctx, app.PublicToken)
	require.NoError(t, err)
	require.Nil(t, info, "still inside the negative TTL")
	clock.Advance(ttl)
	_, err = a.resolve(ctx, app.PublicToken)
	require.Error(t, err)
}

func TestLRU(t *testing.T) {
	t.Parallel()
	c := newLRU[string, int](2)
	c.put("a", 1)
	c.put("b", 2)
	v, ok := c.get("a") // a is now the most recently used
	require.True(t, ok)
	require.Equal(t, 1, v)
	c.put("c", 3) // evicts b
	_, ok = c.get("b")
	require.False(t, ok)
	v, _ = c.get("a")
	require.Equal(t, 1, v)
	c.put("a", 4)
	v, _ = c.get("a")
	require.Equal(t, 4, v)
	c.remove("a")
	_, ok = c.get("a")
	require.False(t, ok)
	require.Equal(t, 1, c.len())
}
