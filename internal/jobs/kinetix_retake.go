package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/gamepipe/gamepipe/internal/kinetix"
	"github.com/gamepipe/gamepipe/internal/store"
)

// KinetixRetakeArgs tells the upstream the player rejects the emote and
// wants another try.
type KinetixRetakeArgs struct {
	EmoteID uuid.UUID `json:"emote_id"`
}

// Kind implements river.JobArgs.
func (KinetixRetakeArgs) Kind() string { return "kinetix_retake" }

// InsertOpts puts the job on the kinetix queue.
func (KinetixRetakeArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueKinetix}
}

// KinetixRetakeWorker runs KinetixRetakeArgs: a retaking emote's process is
// rejected upstream, which answers a new token. The token is recorded and
// the emote goes back to queued with a new kinetix_emote job (in the same
// transaction) when its new video is already there, or waits in
// awaiting_video for it.
type KinetixRetakeWorker struct {
	river.WorkerDefaults[KinetixRetakeArgs]
	k *kinetixRunner
}

// Work retakes the emote's process.
func (w *KinetixRetakeWorker) Work(ctx context.Context, job *river.Job[KinetixRetakeArgs]) error {
	e, err := w.k.load(ctx, job.Args.EmoteID)
	if err != nil || e.Status != store.EmoteRetaking {
		return err
	}
	client, err := w.k.clientFor(ctx, e.AppID)
	if err != nil {
		return err
	}
	tok, err := client.Retake(ctx, e.ProcessUUID.String())
	if errors.Is(err, kinetix.ErrInvalidState) {
		// An earlier run's retake went through and its token is spent or
		// gone: carry on without one (the create step gets a fresh token).
		if got, gerr := client.Process(ctx, e.ProcessUUID.String()); gerr == nil && got.Status == kinetix.StatusRejected {
			tok, err = &kinetix.Token{}, nil
		}
	}
	if err != nil {
		return w.k.outcome(ctx, job.JobRow, "retaking the process", err, func(cause error) error {
			return w.k.revert(ctx, e.ID, store.EmoteRetaking, "retake_failed", cause)
		})
	}

	row, err := store.EmoteUpdate(ctx, w.k.deps.Pool, e.ID, func(tx pgx.Tx, row *store.Emote) error {
		if row.Status != store.EmoteRetaking {
			return nil
		}
		row.PreviousProcessUUIDs = append(row.PreviousProcessUUIDs, row.ProcessUUID)
		row.ProcessUUID, row.Result, row.UpstreamStatus = uuid.Nil, nil, ""
		row.ProcessingStartedAt, row.ValidationFlow = time.Time{}, false
		row.ErrorCode, row.ErrorMessage = "", ""
		row.Token, row.TokenStatus = tok.Token, store.TokenIssued
		row.TokenCreatedAt = w.k.deps.Now()
		if tok.Token == "" {
			row.TokenStatus = ""
		}
		if row.VideoPending {
			row.Status = store.EmoteAwaitingVideo
			return nil
		}
		res, err := river.ClientFromContext[pgx.Tx](ctx).InsertTx(ctx, tx, KinetixEmoteArgs{EmoteID: row.ID}, nil)
		if err != nil {
			return fmt.Errorf("error inserting the next kinetix_emote job: %w", err)
		}
		row.Status, row.JobID = store.JobQueued, res.Job.ID
		return nil
	})
	if err != nil {
		return fmt.Errorf("error recording the retake of emote %s: %w", e.ID, err)
	}
	return w.k.announce(ctx, row)
}
