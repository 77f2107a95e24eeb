package store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// UpstreamRateConfig configures an UpstreamRateLimiter.
type UpstreamRateConfig struct {
	// Service names the upstream ("generaitiv"); keys of different
	// services never share a row.
	Service string
	// Rate is the most calls per second with one key, across every
	// process. Required.
	Rate float64
	// Burst is how many calls may go at once after a quiet spell.
	// Defaults to 1.
	Burst int
	// TenantShare is the fraction (0 to 1] of Rate and Burst one tenant
	// (an app) may use of a key it shares with others, across every
	// process. Defaults to 1: tenants are not bounded apart from the key.
	TenantShare float64
	// MaxWait is the longest wait Reserve takes a slot for; a later slot
	// is not taken, and the caller is told to come back (a job snoozes,
	// holding no worker). Defaults to 2s.
	MaxWait time.Duration
}

// UpstreamRateLimiter spaces the calls made with one upstream API key
// across every process that shares the database: a generic cell rate
// algorithm whose state, the key's next allowed time, is a row of
// upstream_rate_limits taken under its row lock. Times come from the
// database's clock, so the processes' clocks need not agree.
type UpstreamRateLimiter struct {
	pool *pgxpool.Pool
	cfg  UpstreamRateConfig
	// key is the schedule of a key's calls; tenant that of one tenant's
	// calls with the key (TenantShare of key), nil when tenants are not
	// bounded.
	key, tenant *cellRate
}

// cellRate is the shape of one schedule: calls an interval apart, up to
// tolerance early after a quiet spell (a burst).
type cellRate struct {
	interval, tolerance time.Duration
}

func newCellRate(rate float64, burst int) *cellRate {
	interval := time.Duration(float64(time.Second) / rate)
	return &cellRate{interval: interval, tolerance: time.Duration(burst-1) * interval}
}

// earliest is the first virtual slot the schedule offers at now, given
// its row's next_at.
func (c *cellRate) earliest(next, now time.Time) time.Time {
	return laterOf(next, now.Add(-c.tolerance))
}

// take is the row's next_at after a call sent at send.
func (c *cellRate) take(next, send time.Time) time.Time {
	return c.earliest(next, send).Add(c.interval)
}

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// NewUpstreamRateLimiter validates cfg and builds a limiter on pool.
func NewUpstreamRateLimiter(pool *pgxpool.Pool, cfg *UpstreamRateConfig) (*UpstreamRateLimiter, error) {
	c := *cfg
	if c.Rate <= 0 {
		return nil, fmt.Errorf("upstream rate limit: rate must be positive, got %v", c.Rate)
	}
	c.Burst = cmp.Or(c.Burst, 1)
	c.MaxWait = cmp.Or(c.MaxWait, 2*time.Second)
	c.TenantShare = cmp.Or(c.TenantShare, 1)
	if c.Burst < 1 || c.MaxWait < 0 {
		return nil, errors.New("upstream rate limit: burst and max wait must be positive")
	}
	if c.TenantShare < 0 || c.TenantShare > 1 {
		return nil, fmt.Errorf("upstream rate limit: tenant share must be in (0, 1], got %v", c.TenantShare)
	}
	l := &UpstreamRateLimiter{pool: pool, cfg: c, key: newCellRate(c.Rate, c.Burst)}
	if c.TenantShare < 1 {
		l.tenant = newCellRate(c.Rate*c.TenantShare, max(1, int(float64(c.Burst)*c.TenantShare)))
	}
	return l, nil
}

// Reserve takes the next call slot for key, on behalf of tenant (empty:
// none), and returns how long to wait before sending it (0: now). When the
// slot is further off than MaxWait, nothing is taken: ok is false and wait
// is how long until the next slot, for the caller to come back then.
//
// A slot is never earlier than (Burst-1) intervals before now, so over any
// window W the key sends at most Burst + W×Rate calls, however many
// processes ask. With a TenantShare, a tenant's calls are bounded by its
// share of both in the same way. A tenant over its share takes no slot of
// the key while it waits (Reserve waits for the tenant's slot, within
// MaxWait, and then takes the key's next): a tenant's flood never holds
// the key's future slots, which stay for the other tenants.
func (l *UpstreamRateLimiter) Reserve(ctx context.Context, key, tenant string) (wait time.Duration, ok bool, err error) {
	keyHash := sha256.Sum256([]byte(l.cfg.Service + "\x00" + key))
	rows := []rateRow{{hash: keyHash[:], rate: l.key}}
	if tenant != "" && l.tenant != nil {
		h := sha256.Sum256([]byte(l.cfg.Service + "\x00" + key + "\x00" + tenant))
		// The tenant's row first, in every transaction: one lock order.
		rows = []rateRow{{hash: h[:], rate: l.tenant}, rows[0]}
	}
	deadline := time.Now().Add(l.cfg.MaxWait)
	for {
		var tenantWait time.Duration
		wait, ok, tenantWait, err = l.reserve(ctx, rows)
		if err != nil {
			return 0, false, fmt.Errorf("error taking an upstream rate slot: %w", err)
		}
		if ok || tenantWait == 0 {
			return wait, ok, nil
		}
		if time.Until(deadline) < tenantWait {
			return tenantWait, false, nil
		}
		t := time.NewTimer(tenantWait)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, false, fmt.Errorf("error taking an upstream rate slot: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// reserve is one try of Reserve, in one transaction: it takes the slot at
// once, or takes nothing and says why (tenantWait > 0: the tenant is over
// its share for that long; else the key's slot is past MaxWait).
func (l *UpstreamRateLimiter) reserve(ctx context.Context, rows []rateRow) (wait time.Duration, ok bool, tenantWait time.Duration, err error) {
	err = pgx.BeginFunc(ctx, l.pool, func(tx pgx.Tx) error {
		var now time.Time
		for i := range rows {
			if err := rows[i].lock(ctx, tx, &now); err != nil {
				return err
			}
		}
		key := rows[len(rows)-1]
		send := laterOf(now, key.rate.earliest(key.next, now))
		if len(rows) > 1 {
			if t := rows[0].rate.earliest(rows[0].next, now); t.After(send) {
				tenantWait = t.Sub(now)
				return nil
			}
		}
		wait = send.Sub(now)
		if wait > l.cfg.MaxWait {
			return nil
		}
		ok = true
		for _, r := range rows {
			if _, err := tx.Exec(ctx, `UPDATE upstream_rate_limits SET next_at = $2 WHERE key_hash = $1`,
				r.hash, r.rate.take(r.next, send)); err != nil {
				return err
			}
		}
		return nil
	})
	return wait, ok, tenantWait, err
}

// rateRow is one schedule's row in upstream_rate_limits.
type rateRow struct {
	hash []byte
	rate *cellRate
	next time.Time
}

// lock reads the row under its lock, creating it first, and sets now to
// the database's clock once the lock is held.
func (r *rateRow) lock(ctx context.Context, tx pgx.Tx, now *time.Time) error {
	if _, err := tx.Exec(ctx, `INSERT INTO upstream_rate_limits (key_hash, next_at)
		VALUES ($1, 'epoch') ON CONFLICT (key_hash) DO NOTHING`, r.hash); err != nil {
		return err
	}
	// clock_timestamp, not now(): now() is when the transaction began,
	// which may be long before this row's lock was granted.
	return tx.QueryRow(ctx, `SELECT next_at, clock_timestamp()
		FROM upstream_rate_limits WHERE key_hash = $1 FOR UPDATE`, r.hash).Scan(&r.next, now)
}
