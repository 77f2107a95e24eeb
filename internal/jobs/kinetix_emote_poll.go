package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/gamepipe/gamepipe/internal/kinetix"
	"github.com/gamepipe/gamepipe/internal/store"
)

// errDeadline is the cause of an emote failed for taking too long.
type errDeadline struct{ d time.Duration }

func (e errDeadline) Error() string {
	return fmt.Sprintf("the kinetix process did not finish within %s", e.d)
}

// poll asks the upstream for the process and either snoozes (still
// working), or persists its end state: the result and succeeded, the result
// and awaiting_validation (validation flow), or the upstream's error and
// failed. Past the deadline the emote is timed_out and the job is cancelled
// (docs/reliability.md #26); a snooze never runs past the deadline, so a process
// that never finishes costs at most Deadline/PollMin + 1 snoozes.
func (w *KinetixEmoteWorker) poll(ctx context.Context, job *river.Job[KinetixEmoteArgs], e *store.Emote) error {
	remaining := e.ProcessingStartedAt.Add(w.k.cfg.Deadline).Sub(w.k.deps.Now())
	if remaining <= 0 {
		return w.k.end(ctx, e.ID, store.JobTimedOut, "timed_out", errDeadline{w.k.cfg.Deadline})
	}
	client, err := w.k.clientFor(ctx, e.AppID)
	if err != nil {
		return err
	}
	if err := w.k.cfg.Fault.at(FaultBeforePoll, e.ID); err != nil {
		return err
	}
	p, err := client.Process(ctx, e.ProcessUUID.String())
	if err != nil {
		return w.k.policy().outcome(ctx, job.JobRow, &upstreamFailure{
			Doing: "polling the process", Err: err, Deadline: w.deadline(e),
			GiveUp: func(cause error) error { return w.k.fail(ctx, e.ID, "kinetix_error", cause) },
		})
	}

	if p.Status.Working() {
		if string(p.Status) != e.UpstreamStatus {
			if _, err := store.EmoteUpdate(ctx, w.k.deps.Pool, e.ID, func(_ pgx.Tx, row *store.Emote) error {
				if row.Status == store.JobProcessing && row.ProcessUUID == e.ProcessUUID {
					row.UpstreamStatus = string(p.Status)
				}
				return nil
			}); err != nil {
				return fmt.Errorf("error recording the upstream status of emote %s: %w", e.ID, err)
			}
		}
		return w.pollSnooze(ctx, job, e)
	}

	row, err := store.EmoteUpdate(ctx, w.k.deps.Pool, e.ID, func(_ pgx.Tx, row *store.Emote) error {
		if row.Status != store.JobProcessing || row.ProcessUUID != e.ProcessUUID {
			return nil
		}
		row.UpstreamStatus = string(p.Status)
		row.ValidationFlow = p.ValidationFlow
		if p.Emote != nil {
			row.Result = p.Emote.Raw
		}
		switch p.Status {
		case kinetix.StatusAwaitingValidation:
			row.Status = store.EmoteAwaitingValidation
		case kinetix.StatusDone:
			row.Status, row.FinishedAt = store.JobSucceeded, w.k.deps.Now()
		case kinetix.StatusFailed:
			row.Status, row.FinishedAt = store.JobFailed, w.k.deps.Now()
			row.ErrorCode, row.ErrorMessage = "kinetix_process_failed", "the kinetix process failed"
			if p.Error != nil {
				row.ErrorCode, row.ErrorMessage = "kinetix_"+p.Error.Code, p.Error.Message
			}
		default: // rejected outside gamepipe, or a status this client does not know
			row.Status, row.FinishedAt = store.JobFailed, w.k.deps.Now()
			row.ErrorCode = "kinetix_unexpected_status"
			row.ErrorMessage = fmt.Sprintf("the kinetix process ended in status %q", p.Status)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("error recording the end of process %s of emote %s: %w", e.ProcessUUID, e.ID, err)
	}
	w.k.deps.Logger.Info().Str("emote_id", e.ID.String()).Str("status", string(row.Status)).
		Str("upstream_status", string(p.Status)).Msg("jobs.kinetix_emote: Process ended")
	return w.k.announce(ctx, row)
}

// metaPolls is the job metadata key under which kinetix_emote counts the
// waits for a poll of its process: the snooze after the create, and one per
// poll that found the process still working. River's own snooze count is
// not used: it also counts snoozes for other reasons (the app gate, a 429, a
// disabled app), which must not lengthen the time between polls.
const metaPolls = "kinetix_polls"

// pollSnooze snoozes the job until its next poll of e's process, after
// backoff, and counts the wait in the job's metadata (River merges it when
// the run ends).
func (w *KinetixEmoteWorker) pollSnooze(ctx context.Context, job *river.Job[KinetixEmoteArgs], e *store.Emote) error {
	polls := pollsOf(job.JobRow)
	if err := river.MetadataSet(ctx, metaPolls, polls+1); err != nil {
		return fmt.Errorf("error counting the polls of emote %s: %w", e.ID, err)
	}
	return w.k.policy().snooze(w.backoff(polls), w.deadline(e))
}

// pollsOf is the number of poll waits the job has had (metaPolls).
func pollsOf(job *rivertype.JobRow) int {
	var meta map[string]json.RawMessage
	var polls int
	if json.Unmarshal(job.Metadata, &meta) == nil {
		_ = json.Unmarshal(meta[metaPolls], &polls)
	}
	return polls
}

// backoff is the wait before the next poll after the given number of
// earlier waits: PollMin doubled for each, capped at PollMax.
func (w *KinetixEmoteWorker) backoff(polls int) time.Duration {
	d := w.k.cfg.PollMin
	for i := 0; i < polls && d < w.k.cfg.PollMax; i++ {
		d *= 2
	}
	return min(d, w.k.cfg.PollMax)
}

// deadline is when e's process must have ended.
func (w *KinetixEmoteWorker) deadline(e *store.Emote) time.Time {
	return e.ProcessingStartedAt.Add(w.k.cfg.Deadline)
}

// formatClock writes milliseconds as "HH:MM:SS.mmm".
func formatClock(ms int64) string {
	return fmt.Sprintf("%02d:%02d:%02d.%03d", ms/3_600_000, ms/60_000%60, ms/1000%60, ms%1000)
}
