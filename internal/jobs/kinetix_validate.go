package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/gamepipe/gamepipe/internal/kinetix"
	"github.com/gamepipe/gamepipe/internal/store"
)

// KinetixValidateArgs tells the upstream the player keeps the emote.
type KinetixValidateArgs struct {
	EmoteID uuid.UUID `json:"emote_id"`
}

// Kind implements river.JobArgs.
func (KinetixValidateArgs) Kind() string { return "kinetix_validate" }

// InsertOpts puts the job on the kinetix queue.
func (KinetixValidateArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueKinetix}
}

// KinetixValidateWorker runs KinetixValidateArgs: a validating emote is
// validated upstream and becomes succeeded. A refusal puts it back in
// awaiting_validation with the reason.
type KinetixValidateWorker struct {
	river.WorkerDefaults[KinetixValidateArgs]
	k *kinetixRunner
}

// Work validates the emote's process.
func (w *KinetixValidateWorker) Work(ctx context.Context, job *river.Job[KinetixValidateArgs]) error {
	e, err := w.k.load(ctx, job.Args.EmoteID)
	if err != nil || e.Status != store.EmoteValidating {
		return err
	}
	client, err := w.k.clientFor(ctx, e.AppID)
	if err != nil {
		return err
	}
	p, err := client.Validate(ctx, e.ProcessUUID.String())
	if errors.Is(err, kinetix.ErrInvalidState) {
		// An earlier run may have validated it and lost the answer.
		if got, gerr := client.Process(ctx, e.ProcessUUID.String()); gerr == nil && got.Validated {
			p, err = got, nil
		}
	}
	if err != nil {
		return w.k.outcome(ctx, job.JobRow, "validating the process", err, func(cause error) error {
			return w.k.revert(ctx, e.ID, store.EmoteValidating, "validate_failed", cause)
		})
	}
	row, err := store.EmoteUpdate(ctx, w.k.deps.Pool, e.ID, func(_ pgx.Tx, row *store.Emote) error {
		if row.Status != store.EmoteValidating {
			return nil
		}
		row.Status, row.FinishedAt, row.UpstreamStatus = store.JobSucceeded, w.k.deps.Now(), string(p.Status)
		row.ErrorCode, row.ErrorMessage = "", ""
		if p.Emote != nil {
			row.Result = p.Emote.Raw
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("error completing validated emote %s: %w", e.ID, err)
	}
	return w.k.announce(ctx, row)
}
