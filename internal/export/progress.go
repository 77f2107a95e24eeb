package export

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/gamepipe/gamepipe/internal/telemetry"
)

// progress reports a backfill's advance: a bar redrawn in place on a
// terminal, plain lines (one per hour written) anywhere else.
type progress struct {
	w     io.Writer
	bar   bool
	total int
	done  int
	lines int64
	// skipped counts hours an earlier run had done, not yet reported.
	skipped  int
	start    time.Time
	lastDraw time.Time
}

// newProgress reports on w (nothing when w is nil) for total hours.
func newProgress(w io.Writer, total int) *progress {
	return &progress{w: w, bar: isTerminal(w), total: total, start: time.Now()}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// skip counts an hour an earlier run finished.
func (p *progress) skip() {
	p.done++
	p.skipped++
}

// hourDone counts an hour written now.
func (p *progress) hourDone(kind telemetry.Kind, hour time.Time, lines int64) {
	p.done++
	p.lines += lines
	if p.w == nil {
		return
	}
	if p.bar {
		if now := time.Now(); now.Sub(p.lastDraw) >= 100*time.Millisecond || p.done == p.total {
			p.lastDraw = now
			p.draw(now)
		}
		return
	}
	p.reportSkipped()
	fmt.Fprintf(p.w, "backfill: %s %s: %d lines (%d/%d hours)\n", kind, hour.Format("2006-01-02T15Z"), lines, p.done, p.total)
}

// reportSkipped prints, once, the hours a previous run had done.
func (p *progress) reportSkipped() {
	if p.skipped > 0 {
		fmt.Fprintf(p.w, "backfill: resuming: %d hours already done\n", p.skipped)
		p.skipped = 0
	}
}

// draw redraws the bar.
func (p *progress) draw(now time.Time) {
	const width = 30
	frac := 1.0
	if p.total > 0 {
		frac = float64(p.done) / float64(p.total)
	}
	filled := int(frac * width)
	eta := "--"
	if elapsed := now.Sub(p.start); p.done > 0 && frac < 1 {
		eta = (time.Duration(float64(elapsed) / frac * (1 - frac))).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "\r[%s%s] %3.0f%%  %d/%d hours  %d lines  eta %s  ",
		strings.Repeat("#", filled), strings.Repeat("-", width-filled), frac*100, p.done, p.total, p.lines, eta)
}

// stop ends the report of an interrupted run.
func (p *progress) stop() {
	if p.w == nil {
		return
	}
	if p.bar {
		p.draw(time.Now())
		fmt.Fprintln(p.w)
	}
	fmt.Fprintf(p.w, "backfill: interrupted after %d/%d hours; run again to resume\n", p.done, p.total)
}

// finish ends the report of a complete run.
func (p *progress) finish() {
	if p.w == nil {
		return
	}
	if p.bar {
		p.draw(time.Now())
		fmt.Fprintln(p.w)
	} else {
		p.reportSkipped()
	}
	fmt.Fprintf(p.w, "backfill: done: %d hours, %d lines in %s\n", p.total, p.lines, time.Since(p.start).Round(time.Millisecond))
}
