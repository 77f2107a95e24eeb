package httpapi

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/gamepipe/gamepipe/internal/store"
)

const (
	// rejectionKeysMax bounds the counts kept between flushes (app, day,
	// reason); past it a new key's events go uncounted, and the next flush
	// logs how many.
	rejectionKeysMax = 20_000
	// rejectionFlushTimeout bounds one flush.
	rejectionFlushTimeout = 10 * time.Second
)

type rejectionKey struct {
	app    uuid.UUID
	day    int64 // the UTC day's start, in Unix seconds
	reason string
}

// Rejections counts the telemetry events the api refuses once it knows the
// request's app, per app, UTC day and reason, and adds the counts to
// ingest_rejections every interval (docs/dashboard.md, "Rejected events").
// Counting takes a mutex and a map update and never waits for Postgres; a
// flush that fails keeps its counts for the next one. What a crash loses
// is at most one interval's counts.
type Rejections struct {
	db       store.DBTX
	interval time.Duration
	logger   zerolog.Logger

	mu      sync.Mutex
	counts  map[rejectionKey]int64
	dropped int64 // events not counted for want of room since the last flush
}

// NewRejections builds a counter that flushes to db every interval once
// Run is called.
func NewRejections(db store.DBTX, interval time.Duration, logger zerolog.Logger) (*Rejections, error) {
	if db == nil || interval <= 0 {
		return nil, fmt.Errorf("httpapi: rejections need a database and a positive flush interval, got %v", interval)
	}
	return &Rejections{db: db, interval: interval, logger: logger, counts: map[rejectionKey]int64{}}, nil
}

// add counts n events of app refused at t for reason.
func (c *Rejections) add(app uuid.UUID, t time.Time, reason string, n int) {
	k := rejectionKey{app: app, day: t.UTC().Truncate(24 * time.Hour).Unix(), reason: reason}
	c.mu.Lock()
	c.addLocked(k, int64(n))
	c.mu.Unlock()
}

func (c *Rejections) addLocked(k rejectionKey, n int64) {
	if _, ok := c.counts[k]; !ok && len(c.counts) >= rejectionKeysMax {
		c.dropped += n
		return
	}
	c.counts[k] += n
}

// Run flushes every interval until ctx ends. The caller flushes once more
// after the server has stopped taking requests (Flush).
func (c *Rejections) Run(ctx context.Context) {
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fctx, cancel := context.WithTimeout(ctx, rejectionFlushTimeout)
			if err := c.Flush(fctx); err != nil && ctx.Err() == nil {
				c.logger.Warn().Err(err).Msg("httpapi: error flushing rejected events; keeping them for the next flush")
			}
			cancel()
		}
	}
}

// Flush adds the counts so far to ingest_rejections. On an error the
// counts are kept, added to those counted meanwhile, for the next flush.
func (c *Rejections) Flush(ctx context.Context) error {
	c.mu.Lock()
	counts, dropped := c.counts, c.dropped
	if len(counts) > 0 {
		c.counts = make(map[rejectionKey]int64, len(counts))
	}
	c.dropped = 0
	c.mu.Unlock()
	if dropped > 0 {
		c.logger.Warn().Int64("events", dropped).Int("max_keys", rejectionKeysMax).
			Msg("httpapi: rejected events not counted: too many apps, days and reasons between flushes")
	}
	if len(counts) == 0 {
		return nil
	}
	rows := make([]store.Rejection, 0, len(counts))
	for k, n := range counts {
		rows = append(rows, store.Rejection{AppID: k.app, Day: time.Unix(k.day, 0).UTC(), Reason: k.reason, Events: n})
	}
	err := store.RejectionsAdd(ctx, c.db, rows)
	if err == nil {
		return nil
	}
	c.mu.Lock()
	for k, n := range counts {
		c.addLocked(k, n)
	}
	c.mu.Unlock()
	return err
}
