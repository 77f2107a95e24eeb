package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

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
