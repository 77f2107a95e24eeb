package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/gamepipe/gamepipe/internal/store"
)

// GeneraitivDeadlineArgs times out a generation that has not completed by
// its deadline. The api inserts it with the generation, scheduled at the
// deadline.
type GeneraitivDeadlineArgs struct {
	GenerationID uuid.UUID `json:"generation_id"`
}

// Kind implements river.JobArgs.
func (GeneraitivDeadlineArgs) Kind() string { return "generaitiv_deadline" }

// InsertOpts makes the job unique per generation.
func (GeneraitivDeadlineArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueGeneraitiv, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// GeneraitivDeadlineWorker runs GeneraitivDeadlineArgs.
type GeneraitivDeadlineWorker struct {
	river.WorkerDefaults[GeneraitivDeadlineArgs]
	deps *Deps
}

// Work marks the generation timed_out if it still waits for its completion
// at its deadline; one that completed (finalizing or later) or ended
// otherwise is left alone. A run before the deadline (clock skew) snoozes
// until it. A completion that arrives afterwards is recorded as late and
// changes nothing else.
func (w *GeneraitivDeadlineWorker) Work(ctx context.Context, job *river.Job[GeneraitivDeadlineArgs]) error {
	id := job.Args.GenerationID
	now := w.deps.Now()
	var early bool
	g, err := store.GenerationUpdate(ctx, w.deps.Pool, id, func(_ pgx.Tx, g *store.Generation) error {
		switch {
		case !store.GenerationAwaitingCompletion(g.Status):
			return store.ErrUnchanged
		case now.Before(g.DeadlineAt):
			early = true
			return store.ErrUnchanged
		}
		g.Status, g.FinishedAt = store.JobTimedOut, &now
		g.ErrorCode = "timed_out"
		g.ErrorMessage = fmt.Sprintf("Generaitiv did not complete the generation by its deadline (%s)", g.DeadlineAt.UTC().Format("2006-01-02T15:04:05Z"))
		return nil
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return err
	case early:
		return river.JobSnooze(g.DeadlineAt.Sub(now))
	case g.Status != store.JobTimedOut:
		return nil
	}
	return w.deps.announceGeneration(ctx, g)
}
