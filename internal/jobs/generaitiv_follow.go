package jobs

import (
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
}

// Timeout lets the job run as long as the generation may: Work bounds
// itself by the generation's deadline.
func (w *GeneraitivFollowWorker) Timeout(*river.Job[GeneraitivFollowArgs]) time.Duration { return -1 }

// errStopFollowing ends following a generation that no longer waits.
var errStopFollowing = errors.New("generation no longer waits for its completion")

// Work follows the workload's websocket until COMPLETED or ERROR,
// reconnecting when the socket drops (the upstream resumes from the
// current step). Each new percentage is written to the row (submitted
// becomes running) and announced on the progress subject. The completion
// is applied under the row lock together with the generaitiv_finalize job,
// exactly as a webhook would. A row that stops waiting (cancelled, timed
// out) ends the job; a rerun after a crash reconnects and carries on.
func (w *GeneraitivFollowWorker) Work(ctx context.Context, job *river.Job[GeneraitivFollowArgs]) error {
	id := job.Args.GenerationID
	g, err := store.GenerationGet(ctx, w.deps.Pool, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return river.JobCancel(fmt.Errorf("generation %s does not exist", id))
	case err != nil:
		return err
	case g.Status != store.GenerationSubmitted && g.Status != store.GenerationRunning:
		return nil
	case g.WorkloadID == "" || g.WSJWT == "":
		return river.JobCancel(fmt.Errorf("generation %s has no workload to follow", id))
	}
	client, err := w.deps.generaitivClient(ctx, w.deps.Pool, g.AppID)
	if err != nil {
		return err
	}
	fctx, cancel := context.WithDeadline(ctx, g.DeadlineAt.Add(followGrace))
	defer cancel()
	res, err := client.Follow(fctx, g.WorkloadID, g.WSJWT, func(ctx context.Context, ev *generaitiv.Event) error {
		return w.progress(ctx, id, ev)
	})
	switch {
	case errors.Is(err, errStopFollowing):
		return nil
	case err != nil && ctx.Err() == nil && fctx.Err() != nil:
		// Past the deadline: generaitiv_deadline marks it timed out.
		return nil
	case err != nil:
		return fmt.Errorf("error following generation %s: %w", id, err)
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
		case pct <= g.Progress && g.Status == store.GenerationRunning:
			return store.ErrUnchanged
		}
		if g.Status != store.GenerationRunning {
			g.Status, started = store.GenerationRunning, true
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
	}
	return nil
}
