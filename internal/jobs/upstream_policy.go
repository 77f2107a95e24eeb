package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"

	"github.com/gamepipe/gamepipe/internal/upstream"
)

// upstreamPolicy is the one policy every job kind follows when a call to an
// upstream (Kinetix, Generaitiv) fails. It picks one of River's three
// outcomes:
//
//   - snooze (river.JobSnooze) on a 429, for the upstream's Retry-After, or
//     rateLimitSnooze when it named none. A snooze uses no attempt.
//   - retry (the error returned) on a transient failure (5xx, 408, 425, a
//     network failure or timeout), and on any failure while the run is
//     stopping (a soft stop does not count the attempt). River retries with
//     its backoff.
//   - give up (the kind's GiveUp, which records the failure on the job's row
//     and returns river.JobCancel) on a permanent refusal (any other 4xx), or
//     on a transient failure in the job's last attempt.
//
// A job with a deadline never snoozes past it: it runs again at the
// deadline at the latest, where its own deadline check decides.
type upstreamPolicy struct {
	logger zerolog.Logger
	now    func() time.Time
	// rateLimitSnooze is the snooze after a 429 that named no Retry-After.
	rateLimitSnooze time.Duration
}

// upstreamFailure is a failed upstream call of a job run.
type upstreamFailure struct {
	// Doing names what the run was doing, such as "polling the process";
	// when set, the error says so.
	Doing string
	// Err is the call's error.
	Err error
	// Deadline, when not zero, is when the job's work is due.
	Deadline time.Time
	// BeforeSnooze, when set, runs before a snooze: the step gives back
	// what it claimed for the call.
	BeforeSnooze func() error
	// GiveUp records the failure on the job's row and returns
	// river.JobCancel.
	GiveUp func(cause error) error
}

// outcome is the job's result after the failure f.
func (p *upstreamPolicy) outcome(ctx context.Context, job *rivertype.JobRow, f *upstreamFailure) error {
	err := f.Err
	if f.Doing != "" {
		err = fmt.Errorf("error %s: %w", f.Doing, err)
	}
	var ue *upstream.Error
	switch {
	case ctx.Err() != nil:
		return err
	case errors.As(err, &ue) && ue.RateLimited():
		if f.BeforeSnooze != nil {
			if err := f.BeforeSnooze(); err != nil {
				return err
			}
		}
		d := ue.RetryAfter
		if d <= 0 {
			d = p.rateLimitSnooze
		}
		p.logger.Info().Int64("job_id", job.ID).Str("kind", job.Kind).Str("op", ue.Op).Dur("retry_after", d).
			Msg("jobs: Rate limited upstream; snoozing")
		return p.snooze(d, f.Deadline)
	case !upstream.IsRetryable(err), job.Attempt >= job.MaxAttempts:
		return f.GiveUp(err)
	}
	return err
}

// snooze snoozes the job for d, or until deadline when that comes first (a
// deadline already past snoozes for no time: the job runs again at once).
func (p *upstreamPolicy) snooze(d time.Duration, deadline time.Time) error {
	if !deadline.IsZero() {
		d = max(min(d, deadline.Sub(p.now())), 0)
	}
	return river.JobSnooze(d)
}
