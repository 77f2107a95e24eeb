package loadgen

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Progress prints run snapshots as one line each: rewritten in place
// (carriage return) on a terminal, one line per snapshot otherwise, so a
// log file or CI output stays readable.
type Progress struct {
	w        io.Writer
	terminal bool

	mu    sync.Mutex
	last  *Result
	at    time.Time
	wrote bool
}

// NewProgress returns a Progress writing to w; terminal chooses in-place
// updates (see IsTerminal).
func NewProgress(w io.Writer, terminal bool) *Progress {
	return &Progress{w: w, terminal: terminal}
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Update prints one snapshot; use it as Config.Progress.
func (p *Progress) Update(r *Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !r.Warmup && r.Requests == 0 {
		return // the warmup just ended: nothing to say yet
	}
	now := time.Now()
	line := p.line(r, now)
	p.last, p.at = r, now
	if p.terminal {
		fmt.Fprintf(p.w, "\r\x1b[K%s", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
	p.wrote = true
}

// Done ends the progress output (a newline after an in-place line).
func (p *Progress) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.terminal && p.wrote {
		fmt.Fprintln(p.w)
	}
}

// line is one snapshot: the rates since the previous snapshot, the
// totals, the p99 so far and the status counts.
func (p *Progress) line(r *Result, now time.Time) string {
	if r.Warmup {
		return "warming up..."
	}
	reqRate, evRate := r.RequestsPerSec(), r.EventsPerSec()
	if p.last != nil && !p.last.Warmup {
		if dt := now.Sub(p.at).Seconds(); dt > 0 {
			reqRate = float64(r.Requests-p.last.Requests) / dt
			evRate = float64(r.Events-p.last.Events) / dt
		}
	}
	return fmt.Sprintf("%6.1fs  %s req/s  %s events/s  total %s req %s events  p99 %s  [%s]",
		r.Elapsed.Seconds(), count(int64(reqRate)), count(int64(evRate)), count(r.Requests), count(r.Events),
		ms(r.Latency.Quantile(0.99)), r.statusLine())
}
