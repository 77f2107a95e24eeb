package jobs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/gamepipe/gamepipe/internal/generaitiv"
	"github.com/gamepipe/gamepipe/internal/store"
)

// followGrace is how long past its deadline a generation is still
// followed (the deadline job decides its fate).
const followGrace = 5 * time.Second

// followSession bounds one run of generaitiv_follow. A run that has not
// seen the workload end by then snoozes, and the next run reconnects (the
// upstream resumes the stream from the current step). So a follow holds a
// worker slot for at most a session at a time, and the job has a finite
// River timeout: a run lost with its worker (SIGKILL, OOM) is rescued by
// River and resumed, rather than left running for ever.
const followSession = 2 * time.Minute

// GeneraitivFollowArgs follows a generation over the websocket (no public
// URL for webhooks).
type GeneraitivFollowArgs struct {
	GenerationID uuid.UUID `json:"generation_id"`
}

// Kind implements river.JobArgs.
func (GeneraitivFollowArgs) Kind() string { return "generaitiv_follow" }

// InsertOpts puts the job on the generaitiv queue, once per generation.
func (GeneraitivFollowArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueGeneraitiv, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// GeneraitivFollowWorker runs GeneraitivFollowArgs.
type GeneraitivFollowWorker struct {
	river.WorkerDefaults[GeneraitivFollowArgs]
	deps *Deps
	// session is the length of one run; zero means followSession.
	session time.Duration
}

// Timeout is a session and half as much again to record the completion.
// River rescues a run that has been running for longer than both this and
// RIVER_RESCUE_AFTER.
func (w *GeneraitivFollowWorker) Timeout(*river.Job[GeneraitivFollowArgs]) time.Duration {
	s := cmp.Or(w.session, followSession)
	return s + s/2
}

// errStopFollowing ends following a generation that no longer waits.
var errStopFollowing = errors.New("generation no longer waits for its completion")

// Work follows the workload's websocket until COMPLETED or ERROR,
// reconnecting when the socket drops (the upstream resumes from the
// current step). Each new percentage is written to the row (submitted
// becomes running) and announced on the progress subject. The completion
// is applied under the row lock together with the generaitiv_finalize job,
// exactly as a webhook would. A row that stops waiting (cancelled, timed
// out) ends the job. A run that reaches the end of its session, or whose
// worker stops, snoozes without using an attempt and the next run
// reconnects; so does a run rescued after its worker died.
func (w *GeneraitivFollowWorker) Work(ctx context.Context, job *river.Job[GeneraitivFollowArgs]) error {
	id := job.Args.GenerationID
	g, err := store.GenerationGet(ctx, w.deps.Pool, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return river.JobCancel(fmt.Errorf("generation %s does not exist", id))
	case err != nil:
		return err
	case g.Status != store.GenerationSubmitted && g.Status != store.JobProcessing:
		return nil
	case g.WorkloadID == "" || g.WSJWT == "":
		return river.JobCancel(fmt.Errorf("generation %s has no workload to follow", id))
	}
	client, err := w.deps.generaitivClient(ctx, w.deps.Pool, g.AppID)
	if err != nil {
		return err
	}
	until := g.DeadlineAt.Add(followGrace)
	end := w.deps.Now().Add(cmp.Or(w.session, followSession))
	if until.Before(end) {
		end = until
	}
	fctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	res, err := client.Follow(fctx, g.WorkloadID, g.WSJWT, func(ctx context.Context, ev *generaitiv.Event) error {
		return w.progress(ctx, id, ev)
	})
	switch {
	case errors.Is(err, errStopFollowing):
		return nil
	case err != nil && fctx.Err() != nil && !w.deps.Now().Before(until):
		// Past the deadline: generaitiv_deadline marks it timed out.
		return nil
	case err != nil && fctx.Err() != nil:
		// The session is over or the worker is stopping: the next run
		// carries on, queued behind the jobs already waiting.
		return river.JobSnooze(0)
	case err != nil:
		return w.deps.generaitivPolicy().outcome(ctx, job.JobRow, &upstreamFailure{
			Doing: "following generation " + id.String(), Err: err,
			GiveUp: func(cause error) error {
				return w.deps.failGeneration(ctx, id, "following", "upstream_error", "the generation could not be followed: "+cause.Error(), cause)
			},
		})
	}
	completion := store.Completion{OK: res.Completed, Link: res.Link, Message: res.Message, At: w.deps.Now()}
	_, err = store.GenerationComplete(ctx, w.deps.Pool, id, completion, func(tx pgx.Tx, done *store.Completed) error {
		if !done.Applied {
			return nil // counted as late; nothing else changes
		}
		_, err := river.ClientFromContext[pgx.Tx](ctx).InsertTx(ctx, tx, GeneraitivFinalizeArgs{GenerationID: id}, nil)
		return err
	})
	if err != nil {
		return fmt.Errorf("error recording completion of generation %s: %w", id, err)
	}
	return nil
}

// progress records a percentage, when the message has one (the document
// warns some do not) and it is higher than the one recorded.
func (w *GeneraitivFollowWorker) progress(ctx context.Context, id uuid.UUID, ev *generaitiv.Event) error {
	if ev.Message == nil {
		return nil
	}
	pct := int16(min(max(ev.Message.Percentage, 0), 99)) // 100 is for the completion
	var started, stop, changed bool
	g, err := store.GenerationUpdate(ctx, w.deps.Pool, id, func(_ pgx.Tx, g *store.Generation) error {
		switch {
		case !store.GenerationAwaitingCompletion(g.Status):
			stop = true
			return store.ErrUnchanged
		case pct <= g.Progress && g.Status == store.JobProcessing:
			return store.ErrUnchanged
		}
		if g.Status != store.JobProcessing {
			g.Status, started = store.JobProcessing, true
		}
		g.Progress, changed = max(g.Progress, pct), true
		return nil
	})
	if err != nil {
		return err
	}
	if stop {
		return errStopFollowing
	}
	if started {
		if err := w.deps.announceGeneration(ctx, g); err != nil {
			w.deps.Logger.Warn().Err(err).Str("generation_id", id.String()).Msg("jobs.generaitiv_follow: Error announcing running")
		}
	}
	if changed {
		w.deps.announceProgress(ctx, g)
		// A fault point for tests, once a percentage is recorded.
		return w.deps.Generaitiv.Fault.at(FaultFollowProgress, id)
	}
	return nil
}
