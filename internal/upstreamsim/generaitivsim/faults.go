package generaitivsim

import (
	"math"
	"time"
)

// Faults are failures a test switches on at run time with SetFaults.
type Faults struct {
	// RateLimitNext makes the next N calls to /consumer/gen answer 429.
	RateLimitNext int
	// RetryAfter is the Retry-After sent with those 429s. Defaults to 1s.
	RetryAfter time.Duration
	// PaymentRequired answers every generation with 402.
	PaymentRequired bool
	// GenDelay holds each /consumer/gen call this long before it answers
	// (a slow upstream; also makes concurrent calls overlap measurably).
	GenDelay time.Duration
	// CallbackBeforeResponse completes a webhook generation at once and
	// delivers its callback before /consumer/gen answers, as a fast
	// upstream racing its own response would.
	CallbackBeforeResponse bool
	// WebhookDelay delays every callback by this much past completion
	// (a slow webhook).
	WebhookDelay time.Duration
	// WebhookLost drops callbacks: none is sent.
	WebhookLost bool
	// WebhookDuplicates sends that many extra copies of each callback
	// right after the first.
	WebhookDuplicates int
	// WebhookLateReplay sends one more copy of each callback this long
	// after the first (a late callback).
	WebhookLateReplay time.Duration
	// WSDropAfter makes the first websocket connection of each workload
	// close abruptly, without a close frame, after that many messages.
	WSDropAfter int
	// FailAll makes every new generation fail.
	FailAll bool
}

// SetFaults replaces the active faults.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// currentFaults returns a copy of the active faults.
func (s *Server) currentFaults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// takeRateLimited consumes one injected 429, if any is left.
func (s *Server) takeRateLimited() (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.RateLimitNext <= 0 {
		return 0, false
	}
	s.faults.RateLimitNext--
	if s.faults.RetryAfter <= 0 {
		return time.Second, true
	}
	return s.faults.RetryAfter, true
}

// bucket is a token bucket for one key's generations.
type bucket struct {
	tokens float64
	last   time.Time
}

// allowGen takes a token from key's bucket or says how long to wait.
func (s *Server) allowGen(key string, now time.Time) (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[key]
	if !ok {
		b = &bucket{tokens: float64(s.cfg.GenBurst), last: now}
		s.buckets[key] = b
	}
	b.tokens = math.Min(float64(s.cfg.GenBurst), b.tokens+now.Sub(b.last).Seconds()*s.cfg.GenRate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	return time.Duration((1 - b.tokens) / s.cfg.GenRate * float64(time.Second)), false
}
