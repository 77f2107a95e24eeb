package ratelimit

import (
	"cmp"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"net/netip"
	"time"
)

// Config configures a [Limiter]. The zero value is valid: every zero field
// takes its default.
type Config struct {
	// Rate is the sustained number of requests per second allowed per key.
	// It must be positive and finite. Defaults to 10.
	Rate float64

	// Burst is how many requests a key may make at once, i.e. the bucket size;
	// a key seen for the first time (or evicted and seen again) starts with a
	// full bucket. Defaults to ceil(Rate), which is 10 with the default Rate.
	Burst int

	// MaxKeys caps the number of keys tracked at once, which bounds memory
	// (under 100 bytes per key: about 9 MiB at the default). Each shard holds at most MaxKeys/Shards keys,
	// so the total never exceeds MaxKeys. Must be at least Shards. Defaults to
	// 100_000.
	MaxKeys int

	// Shards is the number of independently locked partitions of the key
	// table; more shards mean less lock contention. Defaults to 64, or to
	// MaxKeys when MaxKeys is set below 64.
	Shards int
}

// Default values of [Config] fields.
const (
	DefaultRate    = 10.0
	DefaultMaxKeys = 100_000
	DefaultShards  = 64
)

// withDefaults returns a copy of c with every zero field set to its default.
func (c Config) withDefaults() Config {
	c.Rate = cmp.Or(c.Rate, DefaultRate)
	if c.Burst == 0 && c.Rate > 0 && c.Rate < math.MaxInt32 {
		c.Burst = int(math.Ceil(c.Rate))
	}
	c.MaxKeys = cmp.Or(c.MaxKeys, DefaultMaxKeys)
	c.Shards = cmp.Or(c.Shards, max(1, min(DefaultShards, c.MaxKeys)))
	return c
}

// Validate reports whether c, once defaults are applied, is acceptable to
// [New]. Configuration code can call it to reject bad settings with an error
// at startup; New panics on the same conditions.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case !(c.Rate > 0) || math.IsInf(c.Rate, 0):
		return fmt.Errorf("ratelimit: Rate must be positive and finite, got %v", c.Rate)
	case c.Burst < 1:
		return fmt.Errorf("ratelimit: Burst must be at least 1, got %d", c.Burst)
	case c.MaxKeys < 1:
		return fmt.Errorf("ratelimit: MaxKeys must be at least 1, got %d", c.MaxKeys)
	case c.Shards < 1:
		return fmt.Errorf("ratelimit: Shards must be at least 1, got %d", c.Shards)
	case c.MaxKeys < c.Shards:
		return fmt.Errorf("ratelimit: MaxKeys (%d) must be at least Shards (%d)", c.MaxKeys, c.Shards)
	case c.MaxKeys/c.Shards > math.MaxInt32:
		return errors.New("ratelimit: MaxKeys/Shards must fit in 32 bits")
	}
	interval := emissionInterval(c.Rate)
	if int64(c.Burst) > math.MaxInt64/4/int64(interval) {
		return fmt.Errorf("ratelimit: Burst/Rate (%d/%v) spans too long a time", c.Burst, c.Rate)
	}
	return nil
}

// emissionInterval is the time one token takes to refill, at least 1ns.
func emissionInterval(rate float64) time.Duration {
	return max(1, time.Duration(math.Round(float64(time.Second)/rate)))
}

// Limiter is a per-key token-bucket rate limiter with bounded memory. It is
// safe for concurrent use. Create one with [New].
//
// Buckets are kept in the GCRA form (generic cell rate algorithm): one
// "theoretical arrival time" per key, in integer nanoseconds. It is exactly a
// token bucket of size Burst refilled at Rate tokens per second, but needs no
// floating point, so the results for an injected clock are exact.
type Limiter struct {
	interval int64 // nanoseconds per token
	window   int64 // Burst * interval: how far ahead of now a key's TAT may run
	seed     maphash.Seed
	shards   []shard
}

// New returns a Limiter for cfg, after applying defaults. It panics if cfg
// is invalid (see [Config.Validate]): a bad limiter configuration is a
// programming or deployment error that must stop startup.
func New(cfg Config) *Limiter {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	cfg = cfg.withDefaults()
	interval := int64(emissionInterval(cfg.Rate))
	l := &Limiter{
		interval: interval,
		window:   int64(cfg.Burst) * interval,
		seed:     maphash.MakeSeed(),
		shards:   make([]shard, cfg.Shards),
	}
	perShard := int32(cfg.MaxKeys / cfg.Shards)
	for i := range l.shards {
		l.shards[i].init(perShard)
	}
	return l
}

// Allow takes one token from the bucket of the key for addr at time now, and
// reports whether the request may proceed. When it may not, retryAfter is how
// long until one token is available (always positive); denied requests take
// no token. Use [RetryAfterSeconds] for a Retry-After header.
//
// The key is addr's full address for IPv4 (an IPv4-mapped IPv6 address counts
// as its IPv4 address) and addr's /64 prefix for IPv6; zones are ignored. All
// invalid addresses (the zero netip.Addr) share one key.
//
// now is normally time.Now(); tests pass a simulated clock. A now earlier
// than a key's previous call never grants extra tokens.
func (l *Limiter) Allow(addr netip.Addr, now time.Time) (ok bool, retryAfter time.Duration) {
	k := keyOf(addr)
	t := now.UnixNano()
	s := l.shardFor(k)

	s.mu.Lock()
	defer s.mu.Unlock()

	e := s.get(k, t, l.window)
	// GCRA: each request pushes the key's theoretical arrival time (TAT)
	// one interval into the future; a full bucket has TAT <= now. The request
	// fits if the new TAT is at most Burst intervals ahead of now.
	newTAT := max(e.tat, t) + l.interval
	if over := newTAT - t - l.window; over > 0 {
		return false, time.Duration(over)
	}
	e.tat = newTAT
	return true, 0
}

// Len returns the number of keys currently tracked. It is at most
// Config.MaxKeys.
func (l *Limiter) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.index)
		s.mu.Unlock()
	}
	return n
}

// Sweep drops every key whose bucket is full at now. Such a key carries no
// state (a fresh bucket is identical), so dropping it changes no decision; it
// only frees room. Calling Sweep is optional, as a full table evicts on
// insert; a periodic Sweep keeps evictions from touching active keys. It
// returns the number of keys dropped, and locks one shard at a time.
func (l *Limiter) Sweep(now time.Time) int {
	t := now.UnixNano()
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += s.sweep(t)
		s.mu.Unlock()
	}
	return n
}

// shardFor returns the shard of key k. The hash is seeded per Limiter so a
// client cannot choose addresses that all land in one shard.
func (l *Limiter) shardFor(k key) *shard {
	h := maphash.Comparable(l.seed, k)
	return &l.shards[h%uint64(len(l.shards))]
}

// RetryAfterSeconds rounds d up to whole seconds for a Retry-After header,
// with a minimum of 1: a client told "0" would retry at once.
func RetryAfterSeconds(d time.Duration) int {
	if d <= time.Second {
		return 1
	}
	secs := d / time.Second
	if d%time.Second != 0 {
		secs++
	}
	return int(secs)
}
