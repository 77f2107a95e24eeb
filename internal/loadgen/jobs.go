package loadgen

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"mime/multipart"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Job modes: what RunJobs creates through the API.
const (
	// ModeEmotes posts emotes (multipart, a small MP4) to /v1/emotes.
	ModeEmotes = "emotes"
	// ModeGenerations posts AI image generations to /v1/generations.
	ModeGenerations = "generations"
)

// DefaultVideo is the emote video RunJobs uploads unless told: an MP4's
// ftyp box and 4 KiB, which the API and the Kinetix simulator sniff as
// mp4.
var DefaultVideo = append([]byte("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"), bytes.Repeat([]byte{7}, 4096)...)

// JobConfig configures one run that drives the job APIs (emotes or
// generations) with an app's secret key.
type JobConfig struct {
	// Mode is ModeEmotes or ModeGenerations.
	Mode string
	// URL is the API's base URL.
	URL string
	// SecretKey is the app's secret key, sent as x-api-key.
	SecretKey string
	// Concurrency is the most create requests in flight. Defaults to 16.
	Concurrency int
	// Duration is how long creates are sent after Warmup; defaults to 10s
	// unless Requests is set.
	Duration time.Duration
	// Requests, when positive, stops after that many creates (Warmup's
	// included).
	Requests int64
	// Rate is the target creates/s; 0 is open throttle.
	Rate float64
	// Sources, SourceNet and SourceRate are as in Config: creates come from
	// Sources addresses, at most SourceRate each per second. Status polls
	// come from as many other addresses of SourceNet, at the same rate.
	Sources    int
	SourceNet  netip.Prefix
	SourceRate float64
	// Warmup is sent first; its jobs are neither counted nor tracked.
	Warmup time.Duration
	// Timeout bounds one request. Defaults to 30s (uploads included).
	Timeout time.Duration
	// Track polls every accepted job (GET /v1/<mode>/{id}) until it ends,
	// for the completion figures. Without it only the creates are measured.
	Track bool
	// PollEvery is how long a tracked job waits between two polls.
	// Defaults to 500ms.
	PollEvery time.Duration
	// Drain is how long tracking goes on after the last create. Defaults
	// to 2 minutes.
	Drain time.Duration
	// Video is the emote upload. Defaults to DefaultVideo.
	Video []byte
	// ImageSize is a generation's width and height. Defaults to 128 (the
	// smallest the API takes: cheap for the simulator to render).
	ImageSize int
	// Progress, when set, receives a snapshot every ProgressEvery (1s).
	Progress      func(*JobResult)
	ProgressEvery time.Duration
}

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
	// ("completed", "succeeded", "failed", ... or a non-final one when
	// Drain ran out).
	Final map[string]int64
	// Completed counts tracked jobs that reached success (completed for an
	// emote, succeeded for a generation).
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

// successStatus is the status a job of mode ends in when it worked.
func successStatus(mode string) string {
	if mode == ModeGenerations {
		return "succeeded"
	}
	return "completed"
}

// finalStatus reports whether status ends a job (for the load generator:
// awaiting_validation waits for the game, so it ends the run's interest).
func finalStatus(status string) bool {
	switch status {
	case "completed", "succeeded", "failed", "cancelled", "timed_out", "awaiting_validation", "awaiting_video":
		return true
	}
	return false
}

func (c *JobConfig) withDefaults() (JobConfig, error) {
	out := *c
	out.Concurrency = cmp.Or(out.Concurrency, 16)
	if out.Duration == 0 && out.Requests == 0 {
		out.Duration = 10 * time.Second
	}
	if !out.SourceNet.IsValid() {
		out.SourceNet = DefaultSourceNet
	}
	out.SourceRate = cmp.Or(out.SourceRate, DefaultSourceRate)
	out.Timeout = cmp.Or(out.Timeout, 30*time.Second)
	out.PollEvery = cmp.Or(out.PollEvery, 500*time.Millisecond)
	out.Drain = cmp.Or(out.Drain, 2*time.Minute)
	out.ImageSize = cmp.Or(out.ImageSize, 128)
	out.ProgressEvery = cmp.Or(out.ProgressEvery, time.Second)
	if out.Video == nil {
		out.Video = DefaultVideo
	}
	u, err := url.Parse(out.URL)
	switch {
	case out.Mode != ModeEmotes && out.Mode != ModeGenerations:
		return out, fmt.Errorf("loadgen: unknown job mode %q (emotes or generations)", out.Mode)
	case out.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return out, fmt.Errorf("loadgen: URL %q is not an http(s) URL", out.URL)
	case out.SecretKey == "":
		return out, errors.New("loadgen: the job modes need the app's secret key (--secret-key, or DATA_DIR/demo-app.json)")
	case out.Concurrency < 1:
		return out, errors.New("loadgen: Concurrency must be positive")
	case out.Duration < 0 || out.Requests < 0 || out.Warmup < 0 || out.Timeout < 0 || out.PollEvery < 0 || out.Drain < 0:
		return out, errors.New("loadgen: durations and Requests must not be negative")
	case out.Rate < 0 || math.IsNaN(out.Rate) || math.IsInf(out.Rate, 0):
		return out, errors.New("loadgen: Rate must be a non-negative number")
	case out.Sources < 0:
		return out, errors.New("loadgen: Sources must not be negative")
	case out.SourceRate <= 0 || math.IsInf(out.SourceRate, 0) || math.IsNaN(out.SourceRate):
		return out, errors.New("loadgen: SourceRate must be positive")
	case out.ImageSize < 128 || out.ImageSize > 2048 || out.ImageSize%8 != 0:
		return out, errors.New("loadgen: ImageSize must be a multiple of 8 from 128 to 2048")
	}
	return out, nil
}

// RunJobs creates emotes or generations through the API as cfg describes
// and, with Track, follows each until it ends. It returns once the create
// phase is over and, with Track, every tracked job has ended or Drain has
// passed (or ctx ends: then with the results so far).
func RunJobs(ctx context.Context, cfg *JobConfig) (*JobResult, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	r := &jobRun{cfg: c, base: strings.TrimSuffix(c.URL, "/")}
	r.res.Statuses, r.res.Errors, r.res.Final = map[int]int64{}, map[string]int64{}, map[string]int64{}
	r.res.Mode = c.Mode
	if c.Track {
		r.pending = make(chan *trackedJob, 1<<18)
	}
	n := max(c.Sources, 1)
	var addrs []netip.Addr
	if c.Sources > 0 {
		if addrs, err = SourceAddrs(c.SourceNet, 2*c.Sources); err != nil {
			return nil, err
		}
	}
	client := func(i int) *http.Client {
		d := &net.Dialer{Timeout: 5 * time.Second}
		if addrs != nil {
			d.LocalAddr = &net.TCPAddr{IP: net.IP(addrs[i].AsSlice())}
		}
		return newClient(d, c.Concurrency/n+2, c.Timeout)
	}
	for i := range n {
		r.creators = append(r.creators, client(i))
		if c.Track {
			r.pollers = append(r.pollers, client(n+i))
		}
	}
	defer func() {
		for _, cl := range append(r.creators, r.pollers...) {
			cl.CloseIdleConnections()
		}
	}()
	return r.run(ctx), nil
}

type trackedJob struct {
	id   string
	next time.Time
}

type jobRun struct {
	cfg      JobConfig
	base     string
	creators []*http.Client
	pollers  []*http.Client
	pending  chan *trackedJob
	open     atomic.Int64 // tracked jobs not yet ended

	measureFrom, deadline time.Time

	mu            sync.Mutex
	res           JobResult
	firstAccepted time.Time
	lastFinished  time.Time
	lastDone      time.Time
}

func (r *jobRun) run(ctx context.Context) *JobResult {
	c := &r.cfg
	var interval time.Duration
	if rate := cappedRate(c.Rate, c.Sources, c.SourceRate); rate > 0 {
		interval = time.Duration(float64(time.Second) / rate)
	}
	p := newPacer(interval, c.Requests)
	r.measureFrom = time.Now().Add(c.Warmup)
	if c.Duration > 0 {
		r.deadline = r.measureFrom.Add(c.Duration)
	}
	stopProgress := r.reportProgress()
	defer stopProgress()

	pollCtx, stopPolls := context.WithCancel(ctx)
	defer stopPolls()
	var polls sync.WaitGroup
	for _, cl := range r.pollers {
		polls.Go(func() { r.pollLoop(pollCtx, cl) })
	}

	var wg sync.WaitGroup
	for range c.Concurrency {
		wg.Go(func() {
			for ctx.Err() == nil {
				slot, at, ok := p.reserve(time.Now())
				if !ok || (!r.deadline.IsZero() && !at.Before(r.deadline)) {
					return
				}
				if sleepCtx(ctx, time.Until(at)) != nil {
					return
				}
				r.create(ctx, r.creators[int(slot%int64(len(r.creators)))], slot)
			}
		})
	}
	wg.Wait()
	r.mu.Lock()
	r.res.Elapsed = max(r.lastDone.Sub(r.measureFrom), 0)
	if !r.deadline.IsZero() && r.res.Elapsed > c.Duration {
		r.res.Elapsed = c.Duration
	}
	r.mu.Unlock()

	if c.Track {
		drainEnd := time.Now().Add(c.Drain)
		for r.open.Load() > 0 && time.Now().Before(drainEnd) && sleepCtx(ctx, 50*time.Millisecond) == nil {
		}
		stopPolls()
		polls.Wait()
		// What Drain left open is counted as unfinished.
		if left := r.open.Load(); left > 0 {
			r.mu.Lock()
			r.res.Final["unfinished"] += left
			r.mu.Unlock()
		}
	}
	return r.snapshot(false)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// create sends one create request and records it.
func (r *jobRun) create(ctx context.Context, cl *http.Client, slot int64) {
	c := &r.cfg
	req, err := r.createRequest(ctx, slot)
	if err != nil {
		r.record(time.Now(), time.Now(), 0, "", err)
		return
	}
	start := time.Now()
	resp, err := cl.Do(req)
	status, id := 0, ""
	if err == nil {
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		status, err = resp.StatusCode, rerr
		if err == nil && status == http.StatusAccepted {
			var v struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(body, &v) == nil {
				id = v.ID
			}
		}
	}
	done := time.Now()
	if start.Before(r.measureFrom) || ctx.Err() != nil {
		return
	}
	r.record(start, done, status, id, err)
	if c.Track && id != "" {
		r.open.Add(1)
		r.pending <- &trackedJob{id: id, next: done.Add(c.PollEvery)}
	}
}

func (r *jobRun) record(start, done time.Time, status int, id string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res.Requests++
	if done.After(r.lastDone) {
		r.lastDone = done
	}
	if err != nil {
		r.res.Errors[classify(err)]++
		if r.res.FirstError == "" {
			r.res.FirstError = err.Error()
		}
		return
	}
	r.res.Statuses[status]++
	if status == http.StatusAccepted && id != "" {
		r.res.Accepted++
		r.res.Latency.Record(done.Sub(start))
		if r.firstAccepted.IsZero() || start.Before(r.firstAccepted) {
			r.firstAccepted = start
		}
	}
}

// createRequest builds POST /v1/emotes (multipart) or /v1/generations.
func (r *jobRun) createRequest(ctx context.Context, slot int64) (*http.Request, error) {
	c := &r.cfg
	var body bytes.Buffer
	contentType := "application/json"
	path := "/v1/generations"
	if c.Mode == ModeEmotes {
		path = "/v1/emotes"
		mw := multipart.NewWriter(&body)
		for _, f := range [][2]string{{"user_id", "player-" + strconv.FormatInt(slot%1000, 10)}, {"name", "wave"},
			{"start", "00:00:00.000"}, {"end", "00:00:02.000"}, {"mature", "false"}} {
			if err := mw.WriteField(f[0], f[1]); err != nil {
				return nil, err
			}
		}
		fw, err := mw.CreateFormFile("video", "clip.mp4")
		if err != nil {
			return nil, err
		}
		if _, err := fw.Write(c.Video); err != nil {
			return nil, err
		}
		if err := mw.Close(); err != nil {
			return nil, err
		}
		contentType = mw.FormDataContentType()
	} else {
		fmt.Fprintf(&body, `{"model":"sdxl","input":{"prompt":"a knight in armour, %d","width":%d,"height":%d,"num_inference_steps":20}}`,
			slot, c.ImageSize, c.ImageSize)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.base+path, &body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("x-api-key", c.SecretKey)
	return req, nil
}

// pollLoop polls tracked jobs from one source address, at most SourceRate
// requests per second.
func (r *jobRun) pollLoop(ctx context.Context, cl *http.Client) {
	c := &r.cfg
	every := time.Duration(float64(time.Second) / c.SourceRate)
	path := "/v1/emotes/"
	if c.Mode == ModeGenerations {
		path = "/v1/generations/"
	}
	last := time.Time{}
	for {
		var j *trackedJob
		select {
		case <-ctx.Done():
			return
		case j = <-r.pending:
		}
		wait := time.Until(j.next)
		if gap := time.Until(last.Add(every)); gap > wait {
			wait = gap
		}
		if sleepCtx(ctx, wait) != nil {
			r.pending <- j
			return
		}
		last = time.Now()
		status, created, finished, err := r.poll(ctx, cl, path+j.id)
		r.mu.Lock()
		r.res.Polls++
		r.mu.Unlock()
		if err != nil || !finalStatus(status) {
			j.next = time.Now().Add(c.PollEvery)
			r.pending <- j
			continue
		}
		r.mu.Lock()
		r.res.Final[status]++
		if status == successStatus(c.Mode) {
			r.res.Completed++
			if !finished.IsZero() && !created.IsZero() {
				r.res.ToCompletion.Record(finished.Sub(created))
			}
			if finished.After(r.lastFinished) {
				r.lastFinished = finished
			}
		}
		r.mu.Unlock()
		r.open.Add(-1)
	}
}

func (r *jobRun) poll(ctx context.Context, cl *http.Client, path string) (status string, created, finished time.Time, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+path, nil)
	if err != nil {
		return "", created, finished, err
	}
	req.Header.Set("x-api-key", r.cfg.SecretKey)
	resp, err := cl.Do(req)
	if err != nil {
		return "", created, finished, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return "", created, finished, fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	var v struct {
		Status     string     `json:"status"`
		CreatedAt  time.Time  `json:"created_at"`
		FinishedAt *time.Time `json:"finished_at"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&v); err != nil {
		return "", created, finished, err
	}
	if v.FinishedAt != nil {
		finished = *v.FinishedAt
	}
	return v.Status, v.CreatedAt, finished, nil
}

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
