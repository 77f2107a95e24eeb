package loadgen

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// pacer hands out numbered request slots, at most one every interval, and
// at most limit of them (0: no limit). The timing is a token bucket of
// depth one (golang.org/x/time/rate), so a late caller never catches up
// with a burst: any two slots n apart are at least n×interval apart. The
// runner sends slot k from source address k mod N, which is how each
// address stays under its own rate.
type pacer struct {
	mu     sync.Mutex
	bucket *rate.Limiter // nil: no pacing
	limit  int64         // 0: unlimited
	issued int64
}

func newPacer(interval time.Duration, limit int64) *pacer {
	p := &pacer{limit: limit}
	if interval > 0 {
		p.bucket = rate.NewLimiter(rate.Every(interval), 1)
	}
	return p
}

// reserve returns the next slot's number and when it may be sent, or ok
// false once limit slots have been handed out.
func (p *pacer) reserve(now time.Time) (slot int64, at time.Time, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.limit > 0 && p.issued >= p.limit {
		return 0, time.Time{}, false
	}
	slot = p.issued
	p.issued++
	if p.bucket == nil {
		return slot, now, true
	}
	return slot, now.Add(p.bucket.ReserveN(now, 1).DelayFrom(now)), true
}
