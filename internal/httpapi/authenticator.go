package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/singleflight"

	"github.com/gamepipe/gamepipe/internal/auth"
	"github.com/gamepipe/gamepipe/internal/store"
)

// KeyLookup finds what a key hash authenticates; store.ErrNotFound for
// unknown or expired keys.
type KeyLookup func(ctx context.Context, h auth.Hash) (*store.KeyInfo, error)

// Bounds of the key caches: every entry of the known cache is a key that
// exists, so it holds every key in use; made-up keys only ever reach the
// unknown cache and evict each other.
const (
	knownKeysMax   = 50_000
	unknownKeysMax = 10_000
	// keyLookupTimeout bounds one lookup, whoever waits for it.
	keyLookupTimeout = 5 * time.Second
	// keyRetryAfterFailure is how long a known key is served from the
	// cache, without asking again, after a lookup for it failed.
	keyRetryAfterFailure = time.Second
)

// authenticator resolves presented keys, caching results so the ingestion
// hot path does not query Postgres per request (README.md, "Configuration":
// AUTH_STALE_MAX; docs/telemetry.md, "Authentication").
//
//   - Keys that exist live in an LRU cache (knownKeysMax) and are looked up
//     again once older than ttl: a rotated-out key keeps working for at most
//     ttl past its expiry.
//   - When that lookup fails for any reason but "not found" (Postgres down),
//     the cached answer is served until staleMax after the last successful
//     lookup, so ingestion outlives a Postgres outage.
//   - Keys that do not exist live in a separate, smaller LRU cache for
//     negTTL, so a flood of made-up keys cannot evict the real ones.
//   - Concurrent lookups of one key share a single query.
type authenticator struct {
	lookup   KeyLookup
	ttl      time.Duration
	negTTL   time.Duration
	staleMax time.Duration
	now      func() time.Time
	flight   singleflight.Group

	mu      sync.Mutex
	known   *lru[auth.Hash, knownKey]
	unknown *lru[auth.Hash, time.Time] // when "not found" expires
}

// knownKey is a key that exists, as last seen.
type knownKey struct {
	info    *store.KeyInfo
	checked time.Time // the last successful lookup
	failed  time.Time // the last failed lookup since then; zero if none
}

func newAuthenticator(lookup KeyLookup, ttl, staleMax time.Duration, now func() time.Time) *authenticator {
	return &authenticator{
		lookup: lookup, ttl: ttl, negTTL: ttl / 6, staleMax: staleMax, now: now,
		known:   newLRU[auth.Hash, knownKey](knownKeysMax),
		unknown: newLRU[auth.Hash, time.Time](unknownKeysMax),
	}
}

// resolve returns the key's info, or nil when the key is not valid. An
// error means the key could not be checked.
func (a *authenticator) resolve(ctx context.Context, key string) (*store.KeyInfo, error) {
	if !auth.Plausible(key) {
		return nil, nil
	}
	h := auth.HashKey(key)
	now := a.now()
	var (
		notFoundUntil time.Time
		isUnknown     bool
	)
	a.mu.Lock()
	k, isKnown := a.known.get(h)
	if !isKnown {
		notFoundUntil, isUnknown = a.unknown.get(h)
	}
	a.mu.Unlock()
	switch {
	case isKnown && now.Sub(k.checked) < a.ttl:
		return k.info, nil
	case isKnown && a.servesStale(k, now) && now.Sub(k.failed) < keyRetryAfterFailure:
		return k.info, nil // Postgres failed a moment ago: do not queue behind it again
	case isUnknown && now.Before(notFoundUntil):
		return nil, nil
	}

	ch := a.flight.DoChan(string(h[:]), func() (any, error) { return a.refresh(ctx, h) })
	var err error
	select {
	case res := <-ch:
		if res.Err == nil {
			return res.Val.(*store.KeyInfo), nil
		}
		err = res.Err
	case <-ctx.Done():
		err = ctx.Err()
	}
	if isKnown && a.servesStale(k, a.now()) {
		zerolog.Ctx(ctx).Warn().Err(err).Time("checked", k.checked).
			Msg("httpapi: error looking up key; serving the cached answer")
		return k.info, nil
	}
	return nil, err
}

// servesStale reports whether k may still be served when it cannot be
// checked.
func (a *authenticator) servesStale(k knownKey, now time.Time) bool {
	return now.Sub(k.checked) < a.staleMax
}

// refresh looks h up and caches the answer; it runs once per key at a
// time, on behalf of every request waiting for that key, so it does not
// end with the request that started it.
func (a *authenticator) refresh(ctx context.Context, h auth.Hash) (*store.KeyInfo, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), keyLookupTimeout)
	defer cancel()
	info, err := a.lookup(ctx, h)
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case errors.Is(err, store.ErrNotFound):
		a.known.remove(h)
		a.unknown.put(h, now.Add(a.negTTL))
		return nil, nil
	case err != nil:
		if k, ok := a.known.get(h); ok {
			k.failed = now
			a.known.put(h, k)
		}
		return nil, err
	}
	a.unknown.remove(h)
	a.known.put(h, knownKey{info: info, checked: now})
	return info, nil
}

// publicApp authenticates a game client: x-public-token, or the legacy
// x-api-key carrying the public token. A secret key is not a public token.
func (a *authenticator) publicApp(r *http.Request) (*store.KeyInfo, error) {
	return a.require(r.Context(), publicKey(r), auth.KindPublic)
}

// cachedPublicApp is publicApp from the cache alone, for a request refused
// before its key is checked: the app of a public token looked up less than
// the cache's TTL ago, else nil. It never asks Postgres.
func (a *authenticator) cachedPublicApp(r *http.Request) *store.KeyInfo {
	key := publicKey(r)
	if !auth.Plausible(key) {
		return nil
	}
	h := auth.HashKey(key)
	a.mu.Lock()
	k, ok := a.known.get(h)
	a.mu.Unlock()
	if !ok || k.info.Kind != auth.KindPublic || a.now().Sub(k.checked) >= a.ttl {
		return nil
	}
	return k.info
}

// publicKey is the public token a game client sent: x-public-token, or the
// legacy x-api-key.
func publicKey(r *http.Request) string {
	if key := r.Header.Get("X-Public-Token"); key != "" {
		return key
	}
	return r.Header.Get("X-Api-Key")
}

// secretApp authenticates a server: x-api-key or Authorization: Bearer.
func (a *authenticator) secretApp(r *http.Request) (*store.KeyInfo, error) {
	key := r.Header.Get("X-Api-Key")
	if key == "" {
		if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			key = strings.TrimSpace(h[7:])
		}
	}
	return a.require(r.Context(), key, auth.KindSecret)
}

func (a *authenticator) require(ctx context.Context, key string, kind auth.KeyKind) (*store.KeyInfo, error) {
	if key == "" {
		return nil, errUnauthorized
	}
	info, err := a.resolve(ctx, key)
	if err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("httpapi: error looking up key")
		return nil, &APIError{Status: http.StatusServiceUnavailable, Code: "unavailable",
			Message: "cannot check credentials right now; retry later", RetryAfter: 2}
	}
	switch {
	case info == nil:
		return nil, errUnauthorized
	case info.Kind == auth.KindPublic && kind == auth.KindSecret:
		return nil, newError(http.StatusForbidden, "forbidden", "a public token cannot be used here; send the secret key")
	case info.Kind != kind:
		// A secret key is not a public token: refuse it as invalid rather
		// than confirm it is a working secret.
		return nil, errUnauthorized
	}
	return info, nil
}
