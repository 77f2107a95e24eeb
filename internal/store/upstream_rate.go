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
	pool     *pgxpool.Pool
	cfg      UpstreamRateConfig
	interval time.Duration
}

// NewUpstreamRateLimiter validates cfg and builds a limiter on pool.
func NewUpstreamRateLimiter(pool *pgxpool.Pool, cfg *UpstreamRateConfig) (*UpstreamRateLimiter, error) {
	c := *cfg
	if c.Rate <= 0 {
		return nil, fmt.Errorf("upstream rate limit: rate must be positive, got %v", c.Rate)
	}
	c.Burst = cmp.Or(c.Burst, 1)
	c.MaxWait = cmp.Or(c.MaxWait, 2*time.Second)
	if c.Burst < 1 || c.MaxWait < 0 {
		return nil, errors.New("upstream rate limit: burst and max wait must be positive")
	}
	return &UpstreamRateLimiter{pool: pool, cfg: c, interval: time.Duration(float64(time.Second) / c.Rate)}, nil
}

// Reserve takes the next call slot for key and returns how long to wait
// before sending it (0: now). When the slot is further off than MaxWait,
// nothing is taken: ok is false and wait is how long until the key's next
// slot, for the caller to come back then.
//
// A slot is never earlier than (Burst-1) intervals before now, so over any
// window W the key sends at most Burst + W×Rate calls, however many
// processes ask.
func (l *UpstreamRateLimiter) Reserve(ctx context.Context, key string) (wait time.Duration, ok bool, err error) {
	h := sha256.Sum256([]byte(l.cfg.Service + "\x00" + key))
	tolerance := time.Duration(l.cfg.Burst-1) * l.interval
	err = pgx.BeginFunc(ctx, l.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO upstream_rate_limits (key_hash, next_at)
			VALUES ($1, 'epoch') ON CONFLICT (key_hash) DO NOTHING`, h[:]); err != nil {
			return err
		}
		// clock_timestamp, not now(): now() is when the transaction began,
		// which may be long before this row's lock was granted.
		var next, now time.Time
		if err := tx.QueryRow(ctx, `SELECT next_at, clock_timestamp()
			FROM upstream_rate_limits WHERE key_hash = $1 FOR UPDATE`, h[:]).Scan(&next, &now); err != nil {
			return err
		}
		slot := now.Add(-tolerance)
		if next.After(slot) {
			slot = next
		}
		wait = max(slot.Sub(now), 0)
		if wait > l.cfg.MaxWait {
			return nil
		}
		ok = true
		_, err := tx.Exec(ctx, `UPDATE upstream_rate_limits SET next_at = $2 WHERE key_hash = $1`, h[:], slot.Add(l.interval))
		return err
	})
	if err != nil {
		return 0, false, fmt.Errorf("error taking an upstream rate slot: %w", err)
	}
	return wait, ok, nil
}
