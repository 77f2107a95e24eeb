package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/gamepipe/gamepipe/internal/auth"
	"github.com/gamepipe/gamepipe/internal/store"
)

// KeyLookup finds what a key hash authenticates; store.ErrNotFound for
// unknown or expired keys.
type KeyLookup func(ctx context.Context, h auth.Hash) (*store.KeyInfo, error)

// authenticator resolves presented keys, caching results briefly so the
// ingestion hot path does not query Postgres per request. A rotated-out key
// keeps working for at most the cache TTL past its expiry.
type authenticator struct {
	lookup   KeyLookup
	ttl      time.Duration
	negTTL   time.Duration
	maxItems int

	mu    sync.Mutex
	cache map[auth.Hash]cachedKey
}

type cachedKey struct {
	info    *store.KeyInfo // nil: known not to exist
	expires time.Time
}

func newAuthenticator(lookup KeyLookup, ttl time.Duration) *authenticator {
	return &authenticator{lookup: lookup, ttl: ttl, negTTL: ttl / 6, maxItems: 50_000, cache: make(map[auth.Hash]cachedKey)}
}

// resolve returns the key's info, or nil when the key is not valid.
func (a *authenticator) resolve(ctx context.Context, key string) (*store.KeyInfo, error) {
	if !auth.Plausible(key) {
		return nil, nil
	}
	h := auth.HashKey(key)
	now := time.Now()
	a.mu.Lock()
	c, ok := a.cache[h]
	a.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.info, nil
	}

	info, err := a.lookup(ctx, h)
	ttl := a.ttl
	switch {
	case errors.Is(err, store.ErrNotFound):
		info, ttl = nil, a.negTTL
	case err != nil:
		return nil, err
	}
	a.mu.Lock()
	if len(a.cache) >= a.maxItems {
		clear(a.cache) // bounded memory; a refill costs one query per key
	}
	a.cache[h] = cachedKey{info: info, expires: now.Add(ttl)}
	a.mu.Unlock()
	return info, nil
}

// publicApp authenticates a game client: x-public-token, or the legacy
// x-api-key carrying the public token. A secret key is not a public token.
func (a *authenticator) publicApp(r *http.Request) (*store.KeyInfo, error) {
	key := r.Header.Get("X-Public-Token")
	if key == "" {
		key = r.Header.Get("X-Api-Key")
	}
	return a.require(r.Context(), key, auth.KindPublic)
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
