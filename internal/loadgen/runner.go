package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gamepipe/gamepipe/internal/telemetry"
)

// Run sends telemetry to the API as cfg describes and returns what
// happened once the run is over: cfg.Duration has passed (after
// cfg.Warmup), cfg.Requests were sent, or ctx was cancelled (then with the
// results so far and no error). It returns an error only for a
// configuration it cannot run.
func Run(ctx context.Context, cfg *Config) (*Result, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	gen, err := NewGenerator(&c.Generator)
	if err != nil {
		return nil, err
	}
	r := &run{cfg: c, gen: gen}
	if err := r.makePosters(); err != nil {
		return nil, err
	}
	defer r.closePosters()
	return r.run(ctx), nil
}

// run is one Run's state.
type run struct {
	cfg     Config
	gen     *Generator
	posters []poster
	workers []*worker

	start, measureFrom, deadline time.Time
	lastDone                     atomic.Int64 // Unix nanoseconds of the last counted response
}

// makePosters makes one poster per source address (one in all without
// sources).
func (r *run) makePosters() error {
	c := &r.cfg
	u, err := url.Parse(strings.TrimSuffix(c.URL, "/") + c.Path)
	if err != nil {
		return fmt.Errorf("loadgen: %w", err)
	}
	if c.Sources == 0 {
		r.posters = []poster{newPoster(u, c.Token, netip.Addr{}, c.Concurrency, c.Timeout)}
		return nil
	}
	addrs, err := SourceAddrs(c.SourceNet, c.Sources)
	if err != nil {
		return err
	}
	idle := c.Concurrency/c.Sources + 1
	for _, a := range addrs {
		r.posters = append(r.posters, newPoster(u, c.Token, a, idle, c.Timeout))
	}
	return nil
}

func (r *run) closePosters() {
	for _, p := range r.posters {
		p.close()
	}
}

func (r *run) run(ctx context.Context) *Result {
	c := &r.cfg
	var interval time.Duration
	if rate := c.rate(); rate > 0 {
		interval = time.Duration(float64(time.Second) / rate)
	}
	p := newPacer(interval, c.Requests)
	r.start = time.Now()
	r.measureFrom = r.start.Add(c.Warmup)
	if c.Duration > 0 {
		r.deadline = r.measureFrom.Add(c.Duration)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// A cancelled run closes its connections, which ends the requests in
	// flight at once.
	stopClosing := context.AfterFunc(ctx, r.closePosters)
	defer stopClosing()

	var wg sync.WaitGroup
	for i := range c.Concurrency {
		w := &worker{run: r, stream: r.gen.NewStream(uint64(i)*0x9e3779b97f4a7c15 + uint64(r.start.UnixNano()))}
		r.workers = append(r.workers, w)
		wg.Go(func() { w.loop(ctx, p) })
	}
	stopProgress := r.reportProgress()
	wg.Wait()
	stopProgress()
	return r.result(false)
}

// reportProgress calls cfg.Progress every ProgressEvery until the returned
// function is called.
func (r *run) reportProgress() (stop func()) {
	if r.cfg.Progress == nil {
		return func() {}
	}
	return every(r.cfg.ProgressEvery, func() { r.cfg.Progress(r.result(true)) })
}

// every calls fn every d until the returned function is called; stop waits
// for a call in progress and may be called more than once.
func every(d time.Duration, fn func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fn()
			}
		}
	})
	var once sync.Once
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}

// result gathers the workers' counts. A snapshot is taken while the run
// goes on; the final result after every worker has stopped.
func (r *run) result(snapshot bool) *Result {
	res := &Result{Statuses: map[int]int64{}, Errors: map[string]int64{}, Kinds: map[telemetry.Kind]int64{}}
	now := time.Now()
	end := now
	if !snapshot {
		if last := r.lastDone.Load(); last != 0 {
			end = time.Unix(0, last)
		}
		if !r.deadline.IsZero() && end.Before(r.deadline) && now.After(r.deadline) {
			end = r.deadline
		}
	}
	res.Elapsed = max(end.Sub(r.measureFrom), 0)
	res.Warmup = now.Before(r.measureFrom)
	for _, w := range r.workers {
		w.mu.Lock()
		res.Requests += w.requests
		res.Accepted += w.accepted
		res.Events += w.events
		for code, n := range w.statuses {
			res.Statuses[code] += n
		}
		for e, n := range w.errors {
			res.Errors[e] += n
		}
		if res.FirstError == "" {
			res.FirstError = w.firstError
		}
		res.Latency.Merge(&w.latency)
		w.mu.Unlock()
		if !snapshot {
			for kind, n := range w.stream.Kinds {
				res.Kinds[kind] += n
			}
		}
	}
	return res
}

// worker sends one request at a time.
type worker struct {
	run    *run
	stream *Stream
	body   []byte

	mu         sync.Mutex
	requests   int64
	accepted   int64
	events     int64
	statuses   map[int]int64
	errors     map[string]int64
	firstError string
	latency    Histogram
}

func (w *worker) loop(ctx context.Context, p *pacer) {
	r := w.run
	for ctx.Err() == nil {
		slot, at, ok := p.reserve(time.Now())
		if !ok || (!r.deadline.IsZero() && !at.Before(r.deadline)) {
			return
		}
		if sleepCtx(ctx, time.Until(at)) != nil {
			return
		}
		w.send(ctx, r.posters[int(slot%int64(len(r.posters)))])
	}
}

// send posts one body and records the outcome, unless it was sent during
// the warmup or the run was cancelled meanwhile.
func (w *worker) send(ctx context.Context, p poster) {
	r := w.run
	w.body = w.stream.AppendBody(w.body[:0], r.cfg.BatchSize, true)
	start := time.Now()
	status, err := p.post(ctx, w.body)
	done := time.Now()
	if start.Before(r.measureFrom) || ctx.Err() != nil {
		return
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	w.requests++
	if err != nil {
		if w.errors == nil {
			w.errors = map[string]int64{}
		}
		w.errors[classify(err)]++
		if w.firstError == "" {
			w.firstError = err.Error()
		}
	} else {
		if w.statuses == nil {
			w.statuses = map[int]int64{}
		}
		w.statuses[status]++
		if status == http.StatusOK {
			w.accepted++
			w.events += int64(r.cfg.BatchSize)
			w.latency.Record(done.Sub(start))
		}
	}
	for {
		last := r.lastDone.Load()
		if done.UnixNano() <= last || r.lastDone.CompareAndSwap(last, done.UnixNano()) {
			break
		}
	}
}

// classify names a transport error in a few words, for the error counts.
func classify(err error) string {
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset"
	case errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, syscall.EADDRINUSE):
		return "source address unusable"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	}
	return "other"
}
