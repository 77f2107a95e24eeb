package export

import (
	"cmp"
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// FlushTriggerConfig configures a FlushTrigger.
type FlushTriggerConfig struct {
	// Wait is how long each request collects exporter replies; it bounds
	// POST /api/export's answer time. Defaults to 1s.
	Wait time.Duration
	// JoinWindow: a call made within this long after the current request
	// was started shares it instead of sending another. Exporters wait
	// their CoalesceWindow (100ms by default) after receiving a request
	// before flushing, so with JoinWindow no longer than that, a joining
	// caller's events are still flushed. Defaults to 100ms.
	JoinWindow time.Duration
}

// FlushTrigger is what the API holds for POST /api/export: it sends flush
// requests, making one request out of a burst of concurrent calls.
type FlushTrigger struct {
	nc  *nats.Conn
	cfg FlushTriggerConfig

	mu  sync.Mutex
	cur *flushRound
}

// flushRound is one request shared by the calls that joined it.
type flushRound struct {
	started time.Time
	done    chan struct{}
	sum     *FlushSummary
	err     error
}

// NewFlushTrigger builds a FlushTrigger on nc; cfg may be nil for the
// defaults.
func NewFlushTrigger(nc *nats.Conn, cfg *FlushTriggerConfig) *FlushTrigger {
	var c FlushTriggerConfig
	if cfg != nil {
		c = *cfg
	}
	c.Wait = cmp.Or(c.Wait, time.Second)
	c.JoinWindow = cmp.Or(c.JoinWindow, 100*time.Millisecond)
	return &FlushTrigger{nc: nc, cfg: c}
}

// Trigger asks every exporter to flush, or joins a request started less
// than JoinWindow ago, and returns the replies' summary. Every caller of one
// request gets an equal summary. The request itself is not bound to ctx:
// a caller that gives up does not cut it short for the others.
func (t *FlushTrigger) Trigger(ctx context.Context) (*FlushSummary, error) {
	t.mu.Lock()
	r := t.cur
	if r == nil || time.Since(r.started) > t.cfg.JoinWindow {
		r = &flushRound{started: time.Now(), done: make(chan struct{})}
		t.cur = r
		go func() {
			defer close(r.done)
			r.sum, r.err = RequestFlush(context.WithoutCancel(ctx), t.nc, t.cfg.Wait)
		}()
	}
	t.mu.Unlock()

	select {
	case <-r.done:
		if r.err != nil {
			return nil, r.err
		}
		sum := *r.sum
		return &sum, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
