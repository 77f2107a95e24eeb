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
	// POST /api/export's answer time, with MinInterval. Defaults to 1s.
	Wait time.Duration
	// JoinWindow: a call made within this long after the current request
	// was sent shares it instead of asking for another. Exporters wait
	// their CoalesceWindow (100ms by default) after receiving a request
	// before flushing, so with JoinWindow no longer than that, a joining
	// caller's events are still flushed. Defaults to 100ms.
	JoinWindow time.Duration
	// MinInterval is the least time between two requests: a call too
	// late to join the last one shares the next, sent MinInterval after
	// the last, so however many calls arrive, the exporters get at most one
	// request per MinInterval from this trigger, and every call is still
	// followed by a flush. Defaults to 5s.
	MinInterval time.Duration
}

// FlushTrigger is what the API holds for POST /api/export: it sends flush
// requests, at most one per MinInterval, each shared by every call that
// arrives while it is pending.
type FlushTrigger struct {
	nc  *nats.Conn
	cfg FlushTriggerConfig

	mu sync.Mutex
	// cur is the latest request: sent, or waiting for its time.
	cur *flushRound
}

// flushRound is one request shared by the calls that joined it.
type flushRound struct {
	// at is when it is (or was) sent.
	at   time.Time
	done chan struct{}
	sum  *FlushSummary
	err  error
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
	c.MinInterval = cmp.Or(c.MinInterval, 5*time.Second)
	return &FlushTrigger{nc: nc, cfg: c}
}

// Trigger asks every exporter to flush and returns the replies' summary.
// It joins the pending request when there is one (sent less than
// JoinWindow ago, or not sent yet); otherwise it makes a new one, sent now
// or MinInterval after the last, whichever is later. Every caller of one
// request gets an equal summary. The request itself is not bound to ctx:
// a caller that gives up does not cut it short for the others.
func (t *FlushTrigger) Trigger(ctx context.Context) (*FlushSummary, error) {
	t.mu.Lock()
	now := time.Now()
	r := t.cur
	if r == nil || now.Sub(r.at) > t.cfg.JoinWindow {
		at := now
		if r != nil {
			at = later(now, r.at.Add(t.cfg.MinInterval))
		}
		r = &flushRound{at: at, done: make(chan struct{})}
		t.cur = r
		go func() {
			defer close(r.done)
			if d := time.Until(r.at); d > 0 {
				timer := time.NewTimer(d)
				<-timer.C
			}
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

// Exporters is Trigger for the API: it returns only how many exporters
// answered, which is all a public answer may tell.
func (t *FlushTrigger) Exporters(ctx context.Context) (int, error) {
	sum, err := t.Trigger(ctx)
	if err != nil {
		return 0, err
	}
	return sum.Exporters, nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
