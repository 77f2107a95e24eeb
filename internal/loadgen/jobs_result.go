package loadgen

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// JobResult is what a job run measured.
type JobResult struct {
	Mode string
	// Elapsed is the create phase after the warmup.
	Elapsed time.Duration
	// Requests counts create requests answered or failed; Accepted the 202s.
	Requests, Accepted int64
	// Statuses and Errors count create answers by status, and failures.
	Statuses   map[int]int64
	Errors     map[string]int64
	FirstError string
	// Latency is the create requests' (202) latency.
	Latency Histogram
	// Final counts the tracked jobs by the status they were last seen in
	// ("succeeded", "failed", "timed_out", ... or a non-final one when
	// Drain ran out).
	Final map[string]int64
	// Completed counts tracked jobs that reached success (succeeded, for
	// either kind).
	Completed int64
	// ToCompletion is created_at → finished_at of the completed jobs, as
	// the API reports them (server clock, so not bounded by PollEvery).
	ToCompletion Histogram
	// CompletionSpan is from the first accepted create to the last
	// finished_at of a completed job.
	CompletionSpan time.Duration
	// Polls counts status requests.
	Polls int64
	// Warmup is true in a snapshot taken during the warmup.
	Warmup bool
}

// AcceptedPerSec is accepted creates per second.
func (r *JobResult) AcceptedPerSec() float64 { return perSec(r.Accepted, r.Elapsed) }

// CompletedPerSec is completed jobs per second of CompletionSpan.
func (r *JobResult) CompletedPerSec() float64 { return perSec(r.Completed, r.CompletionSpan) }

// snapshot copies the results; the final one also sets CompletionSpan.
func (r *jobRun) snapshot(progress bool) *JobResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.res
	out.Statuses, out.Errors, out.Final = cloneMap(r.res.Statuses), cloneMap(r.res.Errors), cloneMap(r.res.Final)
	out.Latency, out.ToCompletion = Histogram{}, Histogram{}
	out.Latency.Merge(&r.res.Latency)
	out.ToCompletion.Merge(&r.res.ToCompletion)
	now := time.Now()
	if progress {
		out.Warmup = now.Before(r.measureFrom)
		out.Elapsed = max(now.Sub(r.measureFrom), 0)
	}
	if !r.firstAccepted.IsZero() && r.lastFinished.After(r.firstAccepted) {
		out.CompletionSpan = r.lastFinished.Sub(r.firstAccepted)
	}
	return &out
}

func cloneMap[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m))
	maps.Copy(out, m)
	return out
}

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K { return slices.Sorted(maps.Keys(m)) }

func (r *jobRun) reportProgress() (stop func()) {
	if r.cfg.Progress == nil {
		return func() {}
	}
	return every(r.cfg.ProgressEvery, func() { r.cfg.Progress(r.snapshot(true)) })
}

// WriteSummary prints the job run's figures.
func (r *JobResult) WriteSummary(w io.Writer) {
	fmt.Fprintf(w, "%s: %s creates in %.1fs: %.1f accepted/s, latency p50 %s p99 %s max %s\n", r.Mode,
		count(r.Requests), r.Elapsed.Seconds(), r.AcceptedPerSec(), ms(r.Latency.Quantile(0.5)),
		ms(r.Latency.Quantile(0.99)), ms(r.Latency.Max()))
	fmt.Fprintf(w, "answers: %s\n", statusCounts(r.Statuses, r.Errors))
	if len(r.Final) == 0 && r.Completed == 0 {
		return
	}
	fmt.Fprintf(w, "completed: %s in %.1fs from the first accepted create: %.1f completed/s; to completion p50 %s p99 %s max %s\n",
		count(r.Completed), r.CompletionSpan.Seconds(), r.CompletedPerSec(), ms(r.ToCompletion.Quantile(0.5)),
		ms(r.ToCompletion.Quantile(0.99)), ms(r.ToCompletion.Max()))
	var parts []string
	for _, k := range sortedKeys(r.Final) {
		parts = append(parts, fmt.Sprintf("%s %s", count(r.Final[k]), k))
	}
	fmt.Fprintf(w, "final statuses: %s (%s status polls)\n", strings.Join(parts, ", "), count(r.Polls))
}

func statusCounts(statuses map[int]int64, errs map[string]int64) string {
	var parts []string
	for _, code := range sortedKeys(statuses) {
		parts = append(parts, fmt.Sprintf("%s×%d", count(statuses[code]), code))
	}
	for _, e := range sortedKeys(errs) {
		parts = append(parts, fmt.Sprintf("%s×%s", count(errs[e]), e))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// Line is the snapshot as one progress line.
func (r *JobResult) Line() string {
	if r.Warmup {
		return "warming up..."
	}
	return fmt.Sprintf("%6.1fs  %s creates (%.1f accepted/s)  %s completed  [%s]", r.Elapsed.Seconds(), count(r.Requests),
		r.AcceptedPerSec(), count(r.Completed), statusCounts(r.Statuses, r.Errors))
}

// JobSummary is a JobResult in a form fit for JSON.
type JobSummary struct {
	Mode            string             `json:"mode"`
	ElapsedSeconds  float64            `json:"elapsed_seconds"`
	Requests        int64              `json:"requests"`
	Accepted        int64              `json:"accepted"`
	AcceptedPerSec  float64            `json:"accepted_per_sec"`
	LatencyMS       map[string]float64 `json:"latency_ms"`
	Statuses        map[string]int64   `json:"statuses"`
	Errors          map[string]int64   `json:"errors,omitempty"`
	Completed       int64              `json:"completed"`
	CompletedPerSec float64            `json:"completed_per_sec"`
	ToCompletionMS  map[string]float64 `json:"to_completion_ms"`
	Final           map[string]int64   `json:"final_statuses"`
}

// Summary returns the headline figures.
func (r *JobResult) Summary() *JobSummary {
	s := &JobSummary{Mode: r.Mode, ElapsedSeconds: r.Elapsed.Seconds(), Requests: r.Requests, Accepted: r.Accepted,
		AcceptedPerSec: r.AcceptedPerSec(), LatencyMS: map[string]float64{}, Statuses: map[string]int64{}, Errors: r.Errors,
		Completed: r.Completed, CompletedPerSec: r.CompletedPerSec(), ToCompletionMS: map[string]float64{}, Final: r.Final}
	for name, q := range map[string]float64{"p50": 0.5, "p90": 0.9, "p99": 0.99} {
		s.LatencyMS[name] = float64(r.Latency.Quantile(q)) / 1e6
		s.ToCompletionMS[name] = float64(r.ToCompletion.Quantile(q)) / 1e6
	}
	s.LatencyMS["max"] = float64(r.Latency.Max()) / 1e6
	s.ToCompletionMS["max"] = float64(r.ToCompletion.Max()) / 1e6
	for code, n := range r.Statuses {
		s.Statuses[strconv.Itoa(code)] = n
	}
	return s
}

// UpdateJobs prints one job-run snapshot; use it as JobConfig.Progress.
func (p *Progress) UpdateJobs(r *JobResult) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.terminal {
		fmt.Fprintf(p.w, "\r\x1b[K%s", r.Line())
	} else {
		fmt.Fprintln(p.w, r.Line())
	}
	p.wrote = true
}
