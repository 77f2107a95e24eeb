package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/gamepipe/gamepipe/internal/blob"
	"github.com/gamepipe/gamepipe/internal/generaitiv"
	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/upstream"
)

// GeneraitivFinalizeArgs finishes a generation once the upstream is done
// with it: a completion, a failure or a cancel.
type GeneraitivFinalizeArgs struct {
	GenerationID uuid.UUID `json:"generation_id"`
}

// Kind implements river.JobArgs.
func (GeneraitivFinalizeArgs) Kind() string { return "generaitiv_finalize" }

// InsertOpts puts the job on the generaitiv queue. It is not a River
// unique job, and needs not be: it is inserted only in the transaction that
// moves the generation out of the states awaiting a completion (to
// finalizing, failed or cancelled: the webhook, the websocket follower, a
// cancel), under the row lock, and nothing moves a generation back into
// them, so a generation gets exactly one. A duplicate callback finds the
// row already moved and inserts nothing. (A unique insert costs the webhook
// a SHA-256 of the args and an entry in River's unique index: finding 12 of
// bench/README.md.)
func (GeneraitivFinalizeArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueGeneraitiv}
}

// storageFullRetry is how long a finalize waits when blob storage has no
// room for the image.
const storageFullRetry = time.Minute

// GeneraitivFinalizeWorker runs GeneraitivFinalizeArgs.
type GeneraitivFinalizeWorker struct {
	river.WorkerDefaults[GeneraitivFinalizeArgs]
	deps *Deps
}

// Work brings a finalizing generation to succeeded: it downloads the image
// behind the link (through the SSRF guard, size-capped, content type
// checked) into blob storage, then, where publishing was asked, runs the
// token chain. Each step is recorded under the row lock before the next,
// so a retry resumes where the last run stopped. A generation in any other
// state is only announced (a failure recorded by the webhook, a cancel).
// A step's failure is mapped by the upstream policy (upstreamPolicy): a
// permanent one, or any on the job's last attempt, fails the generation,
// and a 429 snoozes; a full blob storage only postpones the job (snoozes do
// not use attempts).
func (w *GeneraitivFinalizeWorker) Work(ctx context.Context, job *river.Job[GeneraitivFinalizeArgs]) error {
	id := job.Args.GenerationID
	g, err := store.GenerationGet(ctx, w.deps.Pool, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return river.JobCancel(fmt.Errorf("generation %s does not exist", id))
	case err != nil:
		return err
	case g.Status != store.GenerationFinalizing:
		return w.deps.announceGeneration(ctx, g)
	}
	if err := w.deps.announceGeneration(ctx, g); err != nil {
		return err
	}
	done, err := w.finalize(ctx, g)
	var fe *finalizeError
	switch {
	case errors.Is(err, blob.ErrInsufficientStorage):
		// Not the generation's fault, and no reason to spend its attempts:
		// the image is downloaded again once there is room.
		w.deps.Logger.Error().Err(err).Str("generation_id", id.String()).Msg("jobs.generaitiv_finalize: Blob storage is full; retrying later")
		return river.JobSnooze(storageFullRetry)
	case errors.As(err, &fe):
		return w.deps.failGeneration(ctx, id, "finalizing", fe.code, fe.message, err)
	case err != nil:
		return w.deps.generaitivPolicy().outcome(ctx, job.JobRow, &upstreamFailure{Err: err, GiveUp: func(cause error) error {
			return w.deps.failGeneration(ctx, id, "finalizing", "finalize_failed", "the image could not be stored or published: "+cause.Error(), cause)
		}})
	}
	if done == nil {
		now := w.deps.Now()
		done, err = store.GenerationUpdate(ctx, w.deps.Pool, id, func(_ pgx.Tx, g *store.Generation) error {
			if g.Status != store.GenerationFinalizing {
				return store.ErrUnchanged
			}
			g.Status, g.FinishedAt = store.JobSucceeded, &now
			return nil
		})
		if err != nil {
			return err
		}
	}
	return w.deps.announceGeneration(ctx, done)
}

// finalizeError is a permanent failure of a step: the generation fails
// with its code.
type finalizeError struct {
	code, message string
	err           error
}

func (e *finalizeError) Error() string { return e.message }
func (e *finalizeError) Unwrap() error { return e.err }

// finalize runs the steps still to do. When the download was the last
// step (nothing to publish), it records the image and succeeded in one
// update and returns that row; otherwise it returns nil and Work records
// succeeded.
func (w *GeneraitivFinalizeWorker) finalize(ctx context.Context, g *store.Generation) (*store.Generation, error) {
	publish := len(g.Publish) > 0 && string(g.Publish) != "null"
	if g.ImageKey == "" {
		var err error
		if g, err = w.download(ctx, g, !publish); err != nil {
			return nil, err
		}
		if !publish {
			return g, nil
		}
	}
	if !publish {
		return nil, nil
	}
	return nil, w.publish(ctx, g)
}

// download stores the image behind the upstream link; with last, the
// generation also succeeds in the same update.
func (w *GeneraitivFinalizeWorker) download(ctx context.Context, g *store.Generation, last bool) (*store.Generation, error) {
	limit := w.deps.Generaitiv.MaxImageBytes
	img, err := w.deps.Generaitiv.Client.OpenImage(ctx, g.UpstreamLink, limit)
	if err != nil {
		return nil, classifyDownload(err)
	}
	defer img.Body.Close()
	info, err := w.deps.Blob.Put(ctx, img.Body, limit)
	if err != nil {
		return nil, classifyDownload(err)
	}
	now := w.deps.Now()
	return store.GenerationUpdate(ctx, w.deps.Pool, g.ID, func(_ pgx.Tx, g *store.Generation) error {
		if g.Status != store.GenerationFinalizing {
			return errors.New("generation left finalizing during the download")
		}
		g.ImageKey, g.ImageSize, g.ImageContentType = info.Key, info.Size, img.ContentType
		if last {
			g.Status, g.FinishedAt = store.JobSucceeded, &now
		}
		return nil
	})
}

func classifyDownload(err error) error {
	var ue *upstream.Error
	switch {
	case errors.Is(err, generaitiv.ErrUnsafeLink):
		return &finalizeError{code: "unsafe_link", message: "unsafe link: the image link was refused: " + err.Error(), err: err}
	case errors.Is(err, generaitiv.ErrImageTooLarge), errors.Is(err, blob.ErrTooLarge):
		return &finalizeError{code: "image_too_large", message: "the generated image exceeds the size limit", err: err}
	case errors.Is(err, generaitiv.ErrNotImage):
		return &finalizeError{code: "bad_image", message: "the link does not serve an accepted image: " + err.Error(), err: err}
	case errors.As(err, &ue) && !ue.Retryable():
		return &finalizeError{code: "image_unavailable", message: "the image link answered " + ue.Error(), err: err}
	}
	return fmt.Errorf("error downloading image: %w", err)
}
