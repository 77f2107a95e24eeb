package loadgen

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gamepipe/gamepipe/internal/telemetry"
)

// Result is what a run measured, after its warmup: the requests answered
// or failed, the events accepted, and the latency of accepted requests.
type Result struct {
	// Elapsed is the measured time: from the end of the warmup to the
	// last counted response (or the end of Duration).
	Elapsed time.Duration
	// Requests counts requests that got an answer or failed.
	Requests int64
	// Accepted counts 200 answers: every event of the request is stored in
	// JetStream.
	Accepted int64
	// Events counts the events of accepted requests.
	Events int64
	// Statuses counts answers by HTTP status code.
	Statuses map[int]int64
	// Errors counts requests that got no answer, by cause ("timeout",
	// "connection refused", ...).
	Errors map[string]int64
	// FirstError is the first transport error's message, for diagnosis.
	FirstError string
	// Latency holds the time from sending each accepted request to reading
	// its whole answer.
	Latency Histogram
	// Kinds counts the events sent, warmup included, by kind. Only the final
	// result has it.
	Kinds map[telemetry.Kind]int64
	// Warmup is true in a snapshot taken during the warmup.
	Warmup bool
}

// RequestsPerSec is requests answered or failed per second.
func (r *Result) RequestsPerSec() float64 { return perSec(r.Requests, r.Elapsed) }

// AcceptedPerSec is accepted requests per second.
func (r *Result) AcceptedPerSec() float64 { return perSec(r.Accepted, r.Elapsed) }

// EventsPerSec is accepted events per second.
func (r *Result) EventsPerSec() float64 { return perSec(r.Events, r.Elapsed) }

func perSec(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// Failed counts requests that were not accepted: other statuses and
// transport errors.
func (r *Result) Failed() int64 { return r.Requests - r.Accepted }

// WriteSummary writes the result as a few aligned lines.
func (r *Result) WriteSummary(w io.Writer) {
	fmt.Fprintf(w, "elapsed     %s (after warmup)\n", r.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "requests    %s (%s/s), accepted %s (%s/s)\n",
		count(r.Requests), count(int64(r.RequestsPerSec())), count(r.Accepted), count(int64(r.AcceptedPerSec())))
	fmt.Fprintf(w, "events      %s accepted (%s/s)\n", count(r.Events), count(int64(r.EventsPerSec())))
	if r.Latency.Count() > 0 {
		fmt.Fprintf(w, "latency     p50 %s  p90 %s  p99 %s  max %s  (accepted requests)\n",
			ms(r.Latency.Quantile(0.50)), ms(r.Latency.Quantile(0.90)), ms(r.Latency.Quantile(0.99)), ms(r.Latency.Max()))
	}
	fmt.Fprintf(w, "status      %s\n", r.statusLine())
	if len(r.Kinds) > 0 {
		var parts []string
		for _, k := range telemetry.Kinds {
			if n := r.Kinds[k]; n > 0 {
				parts = append(parts, fmt.Sprintf("%s %s", k, count(n)))
			}
		}
		fmt.Fprintf(w, "sent        %s (warmup included)\n", strings.Join(parts, ", "))
	}
	if r.FirstError != "" {
		fmt.Fprintf(w, "first error %s\n", r.FirstError)
	}
}

// statusLine is "200 1234, 429 5, timeout 1": status codes in order, then
// transport errors.
func (r *Result) statusLine() string {
	var parts []string
	for _, code := range slices.Sorted(maps.Keys(r.Statuses)) {
		parts = append(parts, fmt.Sprintf("%d %s", code, count(r.Statuses[code])))
	}
	for _, e := range slices.Sorted(maps.Keys(r.Errors)) {
		parts = append(parts, fmt.Sprintf("%s %s", e, count(r.Errors[e])))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// count formats n with thousands separators.
func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// ms formats d in milliseconds with a precision that suits its size.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v < 10:
		return strconv.FormatFloat(v, 'f', 2, 64) + "ms"
	case v < 100:
		return strconv.FormatFloat(v, 'f', 1, 64) + "ms"
	}
	return strconv.FormatFloat(v, 'f', 0, 64) + "ms"
}
