package kinetixsim

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"time"
)

// FaultKind is what a Fault does.
type FaultKind string

// The fault kinds.
const (
	// FaultLatency delays matching requests by Delay, then serves them.
	FaultLatency FaultKind = "latency"
	// FaultRateLimit answers 429 with Retry-After (RetryAfter, default 1s).
	FaultRateLimit FaultKind = "429"
	// FaultServerError answers Status (default 503).
	FaultServerError FaultKind = "5xx"
	// FaultTimeout holds the request without answering until the client
	// gives up or Delay (default 1 minute) passes, then drops the
	// connection.
	FaultTimeout FaultKind = "timeout"
	// FaultFailProcess makes the next created processes end failed.
	FaultFailProcess FaultKind = "fail"
	// FaultStuckProcess makes the next created processes stay processing
	// forever.
	FaultStuckProcess FaultKind = "stuck"
)

// Fault is one injected misbehaviour.
type Fault struct {
	// Route is the pattern it applies to, such as "POST /v1/process" or
	// "GET /v1/process/{uuid}"; "" or "*" is every route. Process faults
	// (fail, stuck) always apply to process creation.
	Route string
	// Kind is what it does.
	Kind FaultKind
	// Count is how many matching requests (or created processes) it
	// applies to; 0 is every one.
	Count int
	// Delay is the latency, or how long a timeout holds the request.
	Delay time.Duration
	// RetryAfter is the 429's Retry-After. Defaults to 1s.
	RetryAfter time.Duration
	// Status is the 5xx status. Defaults to 503.
	Status int

	used int
}

// AddFault injects f from now on.
func (s *Server) AddFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

func (f *Fault) matches(route string) bool {
	return (f.Route == "" || f.Route == "*" || f.Route == route) && (f.Count == 0 || f.used < f.Count)
}

// take picks the faults for a request: the sum of matching latencies, and
// the first matching failure (429, 5xx, timeout), consumed. Called with
// s.mu held.
func (s *Server) take(route string) (latency time.Duration, failure *Fault) {
	latency = s.cfg.Latency
	for _, f := range s.faults {
		if !f.matches(route) {
			continue
		}
		switch f.Kind {
		case FaultLatency:
			f.used++
			latency += f.Delay
		case FaultRateLimit, FaultServerError, FaultTimeout:
			if failure == nil {
				f.used++
				failure = f
			}
		}
	}
	return latency, failure
}

// takeProcessFate consumes a fail or stuck fault for a new process. Called
// with s.mu held.
func (s *Server) takeProcessFate() FaultKind {
	for _, f := range s.faults {
		if (f.Kind == FaultFailProcess || f.Kind == FaultStuckProcess) && (f.Count == 0 || f.used < f.Count) {
			f.used++
			return f.Kind
		}
	}
	return ""
}

// inject applies the request's faults; false means the request was
// answered (or dropped) by a fault.
func (s *Server) inject(w http.ResponseWriter, r *http.Request, route string) bool {
	s.mu.Lock()
	latency, failure := s.take(route)
	if failure != nil {
		s.stats.Faulted++
	}
	s.mu.Unlock()

	if latency > 0 || (failure != nil && failure.Kind == FaultTimeout) {
		// Read a small body first: only then does net/http notice a client
		// that hangs up (and cancel r.Context()) while we wait.
		if r.ContentLength >= 0 && r.ContentLength <= 64<<10 {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
	}
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return false
		}
	}
	if failure == nil {
		return true
	}
	switch failure.Kind {
	case FaultRateLimit:
		ra := failure.RetryAfter
		if ra <= 0 {
			ra = time.Second
		}
		w.Header().Set("Retry-After", strconv.Itoa(int((ra+time.Second-1)/time.Second)))
		writeError(w, http.StatusTooManyRequests, "rate_limited", "too many requests; retry after the Retry-After delay")
	case FaultServerError:
		status := failure.Status
		if status < 500 || status > 599 {
			status = http.StatusServiceUnavailable
		}
		writeError(w, status, "internal_error", "simulated server error")
	case FaultTimeout:
		hold := failure.Delay
		if hold <= 0 {
			hold = time.Minute
		}
		t := time.NewTimer(hold)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
		// Drop the connection without an answer.
		panic(http.ErrAbortHandler)
	}
	return false
}
