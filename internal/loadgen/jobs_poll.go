package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// statusSucceeded is the status a job of either kind ends in when it
// worked (docs/jobs.md).
const statusSucceeded = "succeeded"

// finalStatus reports whether status ends a job (for the load generator:
// awaiting_validation waits for the game, so it ends the run's interest).
func finalStatus(status string) bool {
	switch status {
	case statusSucceeded, "failed", "canceled", "timed_out", "awaiting_validation", "awaiting_video":
		return true
	}
	return false
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
		if status == statusSucceeded {
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
