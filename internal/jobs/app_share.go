package jobs

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/gamepipe/gamepipe/internal/store"
)

// AppShare bounds each app's share of the job queues, so that one app's
// flood of emotes or generations cannot take every worker of a queue. The
// caps count running jobs across every worker process (the slots are rows
// of app_job_slots); a job whose app is at its cap snoozes, which holds no
// worker and uses no attempt, and a later run tries again. Since every
// waiting job of a busy app is snoozed past the jobs of other apps that
// arrived meanwhile, those are fetched first: a busy app never blocks
// another (docs/app-share.md).
type AppShare struct {
	// KinetixInFlight is the most kinetix jobs (emote, validate, retake)
	// of one app running at once. Defaults to 10.
	KinetixInFlight int
	// GeneraitivInFlight is the most generaitiv jobs (generate, follow,
	// finalize) of one app running at once. Defaults to 5.
	GeneraitivInFlight int
	// Wait is the least snooze of a job whose app is at its cap; a random
	// part of up to Wait again is added, so the waiting jobs of an app do
	// not all come back at once. Defaults to 2s.
	Wait time.Duration
}

func (s *AppShare) setDefaults() {
	s.KinetixInFlight = cmp.Or(s.KinetixInFlight, 10)
	s.GeneraitivInFlight = cmp.Or(s.GeneraitivInFlight, 5)
	s.Wait = cmp.Or(s.Wait, 2*time.Second)
}

// appGate is the worker middleware that holds a job run to its app's
// share: it takes a slot before the run and gives it back after.
type appGate struct {
	river.MiddlewareDefaults
	deps *Deps
	// table is where the job's row is: "emotes" or "generations".
	table string
}

var _ rivertype.WorkerMiddleware = (*appGate)(nil)

// gateArgs are the row ids the gated job kinds carry.
type gateArgs struct {
	EmoteID      uuid.UUID `json:"emote_id"`
	GenerationID uuid.UUID `json:"generation_id"`
}

// Work runs doInner holding one of the app's slots on the job's queue, or
// snoozes when the app holds all of them. A job whose row is gone runs
// ungated: the worker ends it.
func (g *appGate) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	var args gateArgs
	if err := json.Unmarshal(job.EncodedArgs, &args); err != nil {
		return doInner(ctx) // the worker reports undecodable args
	}
	id := cmp.Or(args.EmoteID, args.GenerationID)
	appID, err := store.JobAppID(ctx, g.deps.Pool, g.table, id)
	if errors.Is(err, store.ErrNotFound) {
		return doInner(ctx)
	}
	if err != nil {
		return err
	}
	share := g.deps.AppShare
	share.setDefaults()
	limit := share.GeneraitivInFlight
	if job.Queue == QueueKinetix {
		limit = share.KinetixInFlight
	}
	taken, err := store.AppSlotTake(ctx, g.deps.Pool, &store.AppSlotParams{
		AppID: appID, Queue: job.Queue, JobID: job.ID, Attempt: job.Attempt, Cap: limit,
	})
	if err != nil {
		return err
	}
	if !taken {
		wait := share.Wait + rand.N(share.Wait+1)
		g.deps.Logger.Debug().Int64("job_id", job.ID).Str("kind", job.Kind).Str("app_id", appID.String()).
			Dur("snooze", wait).Msg("jobs.app_share: App at its cap; snoozing")
		return river.JobSnooze(wait)
	}
	defer func() {
		// The run's context may be over; the slot must still be freed
		// (else it frees itself once the job leaves running).
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := store.AppSlotRelease(rctx, g.deps.Pool, job.ID, job.Attempt); err != nil {
			g.deps.Logger.Warn().Err(err).Int64("job_id", job.ID).Msg("jobs.app_share: Error releasing a slot")
		}
	}()
	return doInner(ctx)
}

// appGate returns the gate for jobs about rows of table.
func (d *Deps) appGate(table string) []rivertype.WorkerMiddleware {
	return []rivertype.WorkerMiddleware{&appGate{deps: d, table: table}}
}

// Middleware implements river.Worker: the app's share (AppShare).
func (w *KinetixEmoteWorker) Middleware(*rivertype.JobRow) []rivertype.WorkerMiddleware {
	return w.k.deps.appGate("emotes")
}

// Middleware implements river.Worker: the app's share (AppShare).
func (w *KinetixValidateWorker) Middleware(*rivertype.JobRow) []rivertype.WorkerMiddleware {
	return w.k.deps.appGate("emotes")
}

// Middleware implements river.Worker: the app's share (AppShare).
func (w *KinetixRetakeWorker) Middleware(*rivertype.JobRow) []rivertype.WorkerMiddleware {
	return w.k.deps.appGate("emotes")
}

// Middleware implements river.Worker: the app's share (AppShare).
func (w *GeneraitivGenerateWorker) Middleware(*rivertype.JobRow) []rivertype.WorkerMiddleware {
	return w.deps.appGate("generations")
}

// Middleware implements river.Worker: the app's share (AppShare). A
// follow holds its slot while it listens, so an app's follows count
// against its cap like any other run.
func (w *GeneraitivFollowWorker) Middleware(*rivertype.JobRow) []rivertype.WorkerMiddleware {
	return w.deps.appGate("generations")
}

// Middleware implements river.Worker: the app's share (AppShare).
func (w *GeneraitivFinalizeWorker) Middleware(*rivertype.JobRow) []rivertype.WorkerMiddleware {
	return w.deps.appGate("generations")
}

// validate refuses negative values.
func (s *AppShare) validate() error {
	if s.KinetixInFlight < 0 || s.GeneraitivInFlight < 0 || s.Wait < 0 {
		return fmt.Errorf("jobs: AppShare values must not be negative: %+v", *s)
	}
	return nil
}
