package jobs

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/gamepipe/gamepipe/internal/generaitiv"
	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/upstream"
)

// maxCallbackTokens bounds how many callback tokens a generation keeps (one
// per submit attempt that may have reached the upstream).
const maxCallbackTokens = 16

// GeneraitivGenerateArgs submits a generation to Generaitiv.
type GeneraitivGenerateArgs struct {
	GenerationID uuid.UUID `json:"generation_id"`
}

// Kind implements river.JobArgs.
func (GeneraitivGenerateArgs) Kind() string { return "generaitiv_generate" }

// InsertOpts puts the job on the generaitiv queue, once per generation.
func (GeneraitivGenerateArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueGeneraitiv, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// GeneraitivGenerateWorker runs GeneraitivGenerateArgs.
type GeneraitivGenerateWorker struct {
	river.WorkerDefaults[GeneraitivGenerateArgs]
	deps *Deps
}

// Work submits the generation in three steps, each safe to repeat:
//
//  1. Under the row lock, queued becomes submitting and, in webhook mode, a
//     fresh callback token's hash is added, and committed: a callback that
//     arrives before the upstream call returns is accepted. A row found
//     already submitting means an earlier run may have reached the
//     upstream; the resubmit is counted (the upstream has no way to look a
//     workload up) and the earlier token stays valid, so its callback still
//     lands on this row.
//  2. POST /consumer/gen, its failures mapped by the upstream policy
//     (upstreamPolicy): 429 snoozes for Retry-After without using an
//     attempt; 402 fails the generation with payment_required; other 4xx
//     fail it; 5xx and network errors are retried, and fail it on the
//     job's last attempt.
//  3. Under the row lock, the workload id is recorded and submitting
//     becomes submitted; without webhooks the generaitiv_follow job is
//     inserted in the same transaction. A callback that won the race has
//     already moved the row on, and only the workload id is added.
func (w *GeneraitivGenerateWorker) Work(ctx context.Context, job *river.Job[GeneraitivGenerateArgs]) error {
	id := job.Args.GenerationID
	webhook := w.deps.Generaitiv.PublicBaseURL != ""
	var (
		token  string
		client *generaitiv.Client
	)
	resubmit, claimed := false, false
	g, err := store.GenerationUpdate(ctx, w.deps.Pool, id, func(tx pgx.Tx, g *store.Generation) error {
		switch g.Status {
		case store.JobQueued:
		case store.GenerationSubmitting:
			resubmit = true
		default:
			return store.ErrUnchanged
		}
		// The app's key is read before the row is claimed: a disabled
		// app's generation stays as it is while the job waits.
		var err error
		if client, err = w.deps.generaitivClient(ctx, tx, g.AppID); err != nil {
			return err
		}
		if resubmit {
			g.Resubmits++
		}
		claimed = true
		g.Status = store.GenerationSubmitting
		g.SubmitAttempts++
		if webhook {
			token = newCallbackToken()
			h := sha256.Sum256([]byte(token))
			g.CallbackTokenHashes = append(g.CallbackTokenHashes, h[:])
			if n := len(g.CallbackTokenHashes); n > maxCallbackTokens {
				g.CallbackTokenHashes = g.CallbackTokenHashes[n-maxCallbackTokens:]
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return river.JobCancel(fmt.Errorf("generation %s does not exist", id))
	case err != nil:
		return err
	case !claimed:
		return w.deps.announceGeneration(ctx, g)
	}
	if resubmit {
		w.deps.Logger.Warn().Str("generation_id", id.String()).Int32("resubmits", g.Resubmits).
			Msg("jobs.generaitiv_generate: Submitting again; an earlier attempt may have reached Generaitiv")
	}

	req := &generaitiv.GenRequest{Model: g.Model}
	if err := json.Unmarshal(g.Input, &req.Input); err != nil {
		return w.deps.failGeneration(ctx, id, "submitting", "invalid_input", "the stored input cannot be decoded", err)
	}
	if webhook {
		req.Webhook = w.deps.Generaitiv.PublicBaseURL + "/webhooks/generaitiv/" + id.String() + "?token=" + token
	}
	resp, err := client.Generate(ctx, req)
	if err != nil {
		return w.submitFailed(ctx, job.JobRow, id, token, err)
	}
	if err := w.deps.Generaitiv.Fault.at(FaultAfterSubmit, id); err != nil {
		return err
	}
	if !webhook && resp.JWT == "" {
		return w.deps.failGeneration(ctx, id, "submitting", "upstream_error", "Generaitiv answered no websocket token", errors.New("no jwt"))
	}
	now := w.deps.Now()
	g, err = store.GenerationUpdate(ctx, w.deps.Pool, id, func(tx pgx.Tx, g *store.Generation) error {
		g.WorkloadID = resp.Workload()
		if g.SubmittedAt == nil {
			g.SubmittedAt = &now
		}
		if g.Status != store.GenerationSubmitting {
			return nil // a callback, the deadline or a cancel came first
		}
		g.Status = store.GenerationSubmitted
		if !webhook {
			g.WSJWT = resp.JWT
			if _, err := river.ClientFromContext[pgx.Tx](ctx).InsertTx(ctx, tx, GeneraitivFollowArgs{GenerationID: id}, nil); err != nil {
				return fmt.Errorf("error inserting follow job for generation %s: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return w.deps.announceGeneration(ctx, g)
}

// submitFailed maps a failed POST /consumer/gen to the job's outcome by the
// upstream policy (upstreamPolicy). A 429 is a refusal, so nothing was
// submitted: before the snooze the generation goes back to queued and the
// token of this attempt is withdrawn. Giving up fails the generation with
// the upstream's reason.
func (w *GeneraitivGenerateWorker) submitFailed(ctx context.Context, job *rivertype.JobRow, id uuid.UUID, token string, err error) error {
	return w.deps.generaitivPolicy().outcome(ctx, job, &upstreamFailure{
		Err:          err,
		BeforeSnooze: func() error { return w.unclaim(ctx, id, token) },
		GiveUp:       func(cause error) error { return w.refused(ctx, id, cause) },
	})
}

// unclaim puts a generation whose submit was refused back in queued and
// withdraws the callback token of that attempt.
func (w *GeneraitivGenerateWorker) unclaim(ctx context.Context, id uuid.UUID, token string) error {
	h := sha256.Sum256([]byte(token))
	_, err := store.GenerationUpdate(ctx, w.deps.Pool, id, func(_ pgx.Tx, g *store.Generation) error {
		if g.Status != store.GenerationSubmitting {
			return store.ErrUnchanged
		}
		g.Status = store.JobQueued
		if n := len(g.CallbackTokenHashes); token != "" && n > 0 && string(g.CallbackTokenHashes[n-1]) == string(h[:]) {
			g.CallbackTokenHashes = g.CallbackTokenHashes[:n-1]
		}
		return nil
	})
	return err
}

// refused fails a generation the upstream would not take, naming why.
func (w *GeneraitivGenerateWorker) refused(ctx context.Context, id uuid.UUID, cause error) error {
	var ue *upstream.Error
	switch {
	case errors.Is(cause, generaitiv.ErrCustomModelUnsupported):
		return w.deps.failGeneration(ctx, id, "submitting", "custom_model_unsupported",
			"Generaitiv refused the model as a custom model: custom models (training ids) are not supported by Generaitiv yet; use a model slug", cause)
	case generaitiv.IsPaymentRequired(cause):
		return w.deps.failGeneration(ctx, id, "submitting", "payment_required",
			"Generaitiv refused the generation with 402 Payment Required: the account of the API key needs a paid subscription", cause)
	case errors.As(cause, &ue) && !ue.Retryable():
		return w.deps.failGeneration(ctx, id, "submitting", "upstream_rejected", "Generaitiv rejected the generation: "+ue.Message, cause)
	}
	// A transient failure on the job's last attempt.
	return w.deps.failGeneration(ctx, id, "submitting", "upstream_unavailable",
		"Generaitiv could not be reached to submit the generation: "+truncate(cause.Error(), 300), cause)
}

// newCallbackToken returns 32 random bytes, URL-safe.
func newCallbackToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
