package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/store"
)

// announce publishes the emote's current status when that change has not
// been published yet (status_seq > notified_seq), then records it. The
// message id holds the change's sequence number, so a step that runs twice
// publishes once within the stream's dedup window; a notification lost to a
// crash after the commit is sent by the emote's next job run.
func (k *kinetixRunner) announce(ctx context.Context, e *store.Emote) error {
	if k.deps.Notifier == nil || e.StatusSeq <= e.NotifiedSeq {
		return nil
	}
	note := &eventstream.Notification{
		Kind: "emote", ID: e.ID.String(), AppID: e.AppID.String(), Status: string(e.Status),
		At: e.UpdatedAt, Data: notificationData(e),
	}
	if err := k.deps.Notifier.Notify(ctx, note, strconv.Itoa(e.StatusSeq)); err != nil {
		return fmt.Errorf("error publishing emote %s %s: %w", e.ID, e.Status, err)
	}
	if err := store.EmoteMarkNotified(ctx, k.deps.Pool, e.ID, e.StatusSeq); err != nil {
		return err
	}
	e.NotifiedSeq = e.StatusSeq
	return nil
}

// notificationData is a notification's status-specific fields.
func notificationData(e *store.Emote) map[string]any {
	d := map[string]any{"user_id": e.UserID, "name": e.Name}
	if e.ProcessUUID != uuid.Nil {
		d["process_uuid"] = e.ProcessUUID.String()
	}
	if len(e.Result) > 0 {
		d["result"] = json.RawMessage(e.Result)
	}
	if e.ErrorCode != "" {
		d["error"] = map[string]string{"code": e.ErrorCode, "message": e.ErrorMessage}
	}
	if e.Status == store.EmoteAwaitingVideo && e.Token != "" {
		d["retake_token"] = e.Token
	}
	return d
}

// outcome maps a failed upstream call to the job's result by the one
// upstream policy (upstreamPolicy); giving up ends in giveUp.
func (k *kinetixRunner) outcome(ctx context.Context, job *rivertype.JobRow, doing string, err error,
	giveUp func(cause error) error,
) error {
	return k.policy().outcome(ctx, job, &upstreamFailure{Doing: doing, Err: err, GiveUp: giveUp})
}

// policy is the upstream policy (upstreamPolicy) of the emote jobs.
func (k *kinetixRunner) policy() *upstreamPolicy {
	return &upstreamPolicy{logger: k.deps.Logger, now: k.deps.Now, rateLimitSnooze: k.cfg.RateLimitSnooze}
}

// fail ends an emote: status failed with the reason, announced, and the
// job cancelled. An emote already finished is left as it is.
func (k *kinetixRunner) fail(ctx context.Context, id uuid.UUID, code string, cause error) error {
	return k.end(ctx, id, store.JobFailed, code, cause)
}

// end is fail with the end status named (failed or timed_out).
func (k *kinetixRunner) end(ctx context.Context, id uuid.UUID, status store.JobStatus, code string, cause error) error {
	e, err := store.EmoteUpdate(ctx, k.deps.Pool, id, func(_ pgx.Tx, e *store.Emote) error {
		if e.Status.Terminal() {
			return nil
		}
		e.Status, e.FinishedAt = status, k.deps.Now()
		e.ErrorCode, e.ErrorMessage = code, truncate(cause.Error(), 500)
		return nil
	})
	if err != nil {
		return fmt.Errorf("error failing emote %s: %w", id, err)
	}
	k.deps.Logger.Info().Str("emote_id", id.String()).Str("status", string(status)).Str("error_code", code).Err(cause).
		Msg("jobs.kinetix: Emote ended")
	if err := k.announce(ctx, e); err != nil {
		return err
	}
	return river.JobCancel(cause)
}

// revert puts an emote that could not be validated or retaken back in
// awaiting_validation with the reason, announced, and cancels the job.
func (k *kinetixRunner) revert(ctx context.Context, id uuid.UUID, from store.JobStatus, code string, cause error) error {
	e, err := store.EmoteUpdate(ctx, k.deps.Pool, id, func(_ pgx.Tx, e *store.Emote) error {
		if e.Status != from {
			return nil
		}
		e.Status = store.EmoteAwaitingValidation
		e.ErrorCode, e.ErrorMessage = code, truncate(cause.Error(), 500)
		return nil
	})
	if err != nil {
		return fmt.Errorf("error reverting emote %s: %w", id, err)
	}
	if err := k.announce(ctx, e); err != nil {
		return err
	}
	return river.JobCancel(cause)
}

// load reads the emote a job is about and publishes a pending
// notification. A missing emote cancels the job.
func (k *kinetixRunner) load(ctx context.Context, id uuid.UUID) (*store.Emote, error) {
	e, err := store.EmoteGet(ctx, k.deps.Pool, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, river.JobCancel(fmt.Errorf("emote %s does not exist", id))
	}
	if err != nil {
		return nil, fmt.Errorf("error reading emote %s: %w", id, err)
	}
	if err := k.announce(ctx, e); err != nil {
		return nil, err
	}
	return e, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
