package loadgen

import (
	"sync"
	"time"
)

// pacer hands out numbered request slots, at most one every interval, and
// at most limit of them (0: no limit). It never lets a late caller catch
// up with a burst: a slot is never scheduled earlier than the moment it is
// asked for, so any two slots n apart are at least n×interval apart. The
// runner sends slot k from source address k mod N, which is how each
// address stays under its own rate.
type pacer struct {
	mu       sync.Mutex
	interval time.Duration // 0: no pacing
	limit    int64         // 0: unlimited
	next     time.Time
	issued   int64
}

func newPacer(interval time.Duration, limit int64) *pacer {
	return &pacer{interval: interval, limit: limit}
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
	if p.interval <= 0 {
		return slot, now, true
	}
	if p.next.Before(now) {
		p.next = now
	}
	at = p.next
	p.next = p.next.Add(p.interval)
	return slot, at, true
}
