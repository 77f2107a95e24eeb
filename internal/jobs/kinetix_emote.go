package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/gamepipe/gamepipe/internal/blob"
	"github.com/gamepipe/gamepipe/internal/kinetix"
	"github.com/gamepipe/gamepipe/internal/store"
)

// KinetixEmoteArgs drives one emote from queued to its end state.
type KinetixEmoteArgs struct {
	EmoteID uuid.UUID `json:"emote_id"`
}

// Kind implements river.JobArgs.
func (KinetixEmoteArgs) Kind() string { return "kinetix_emote" }

// InsertOpts puts the job on the kinetix queue. It is not unique by args:
// a retake inserts a second job for the same emote while the first may
// still be completing, and the row lock already keeps duplicates harmless.
func (KinetixEmoteArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueKinetix}
}

// KinetixEmoteWorker runs KinetixEmoteArgs. A queued emote gets a token
// (recorded before use), then its upstream process (recorded in the same
// step); a processing emote is polled, each run ending in a snooze until
// the process reaches its end state, so no worker slot waits on the
// upstream.
type KinetixEmoteWorker struct {
	river.WorkerDefaults[KinetixEmoteArgs]
	k *kinetixRunner
}

// Work runs the step the emote's status calls for.
func (w *KinetixEmoteWorker) Work(ctx context.Context, job *river.Job[KinetixEmoteArgs]) error {
	e, err := w.k.load(ctx, job.Args.EmoteID)
	if err != nil {
		return err
	}
	if e.JobID != 0 && e.JobID != job.ID {
		return nil // a stale job: the row is driven by another
	}
	switch e.Status {
	case store.JobQueued:
		return w.create(ctx, job, e)
	case store.JobProcessing:
		return w.poll(ctx, job, e)
	}
	return nil
}

// create makes the upstream process. The token goes into the row before
// the process is created, so a run that crashes after the create can ask
// the token status route which process its token made (docs/reliability.md
// #23) instead of creating a second one.
func (w *KinetixEmoteWorker) create(ctx context.Context, job *river.Job[KinetixEmoteArgs], e *store.Emote) error {
	client, err := w.k.clientFor(ctx, e.AppID)
	if err != nil {
		return err
	}
	giveUp := func(cause error) error { return w.k.fail(ctx, e.ID, "kinetix_error", cause) }

	old := e.Token
	if e.Token != "" {
		st, err := client.TokenStatus(ctx, e.Token, e.UserID)
		switch {
		case err == nil && st.Status == kinetix.TokenUsed && st.ProcessUUID != "":
			return w.record(ctx, job, e, e.Token, st.ProcessUUID)
		case err == nil && st.Status == kinetix.TokenUnused &&
			w.k.deps.Now().Sub(e.TokenCreatedAt) < w.k.cfg.TokenTTL-w.k.cfg.TokenMargin:
			// Still good: use it.
		case err == nil, errors.Is(err, kinetix.ErrNotFound):
			e.Token = "" // expired, about to, or unknown: replace it
		default:
			return w.k.outcome(ctx, job.JobRow, "checking the process token", err, giveUp)
		}
	}
	if e.Token == "" {
		tok, err := client.CreateToken(ctx, e.UserID)
		if err != nil {
			return w.k.outcome(ctx, job.JobRow, "creating a process token", err, giveUp)
		}
		if e, err = w.recordToken(ctx, e, old, tok.Token); err != nil || e == nil {
			return err
		}
	}

	video, info, err := w.k.deps.Blob.Open(ctx, e.VideoKey)
	if errors.Is(err, blob.ErrNotFound) {
		return w.k.fail(ctx, e.ID, "video_missing", fmt.Errorf("the video of emote %s is gone from blob storage", e.ID))
	}
	if err != nil {
		return fmt.Errorf("error opening the video of emote %s: %w", e.ID, err)
	}
	defer video.Close()
	p, err := client.CreateProcess(ctx, e.Token, &kinetix.CreateProcessRequest{
		Name: e.Name, Mature: e.Mature, Start: formatClock(e.StartMS), End: formatClock(e.EndMS),
		Video: video, VideoSize: info.Size, Filename: "video." + e.VideoFormat,
	})
	switch {
	case errors.Is(err, kinetix.ErrTokenUsed):
		// Spent by a concurrent run, or by our own request whose answer was
		// lost: the token knows its process.
		st, serr := client.TokenStatus(ctx, e.Token, e.UserID)
		if serr == nil && st.ProcessUUID != "" {
			return w.record(ctx, job, e, e.Token, st.ProcessUUID)
		}
		return w.k.outcome(ctx, job.JobRow, "creating the process", err, giveUp)
	case errors.Is(err, kinetix.ErrTokenExpired), errors.Is(err, kinetix.ErrInvalidToken):
		// Forget the token; the retry starts with a fresh one.
		if _, uerr := store.EmoteUpdate(ctx, w.k.deps.Pool, e.ID, func(_ pgx.Tx, row *store.Emote) error {
			if row.Token == e.Token {
				row.Token, row.TokenStatus = "", store.TokenExpired
			}
			return nil
		}); uerr != nil {
			return uerr
		}
		return fmt.Errorf("error creating the process of emote %s (retrying with a new token): %w", e.ID, err)
	case err != nil:
		return w.k.outcome(ctx, job.JobRow, "creating the process", err, giveUp)
	}
	if err := w.k.cfg.Fault.at(FaultAfterCreate, e.ID); err != nil {
		return err
	}
	return w.record(ctx, job, e, e.Token, p.UUID)
}

// recordToken stores a new token in the row, replacing old, before it is
// used. When a concurrent run recorded another one first, that one is used
// instead; a row that left queued stops the run (nil emote).
func (w *KinetixEmoteWorker) recordToken(ctx context.Context, e *store.Emote, old, token string) (*store.Emote, error) {
	stale := false
	row, err := store.EmoteUpdate(ctx, w.k.deps.Pool, e.ID, func(_ pgx.Tx, row *store.Emote) error {
		switch {
		case row.Status != store.JobQueued:
			stale = true
		case row.Token == "" || row.Token == old || row.TokenStatus == store.TokenExpired:
			row.Token, row.TokenCreatedAt, row.TokenStatus = token, w.k.deps.Now(), store.TokenIssued
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("error recording the token of emote %s: %w", e.ID, err)
	}
	if stale {
		return nil, nil
	}
	return row, nil
}

// record stores the process uuid (queued → processing) and snoozes until
// the first poll. A row that already moved on (cancelled, or recorded by a
// concurrent run) is left alone.
func (w *KinetixEmoteWorker) record(ctx context.Context, job *river.Job[KinetixEmoteArgs], e *store.Emote, token, processUUID string) error {
	pid, err := uuid.Parse(processUUID)
	if err != nil {
		return river.JobCancel(fmt.Errorf("kinetix returned a process uuid that is not a uuid: %q", processUUID))
	}
	moved := false
	row, err := store.EmoteUpdate(ctx, w.k.deps.Pool, e.ID, func(_ pgx.Tx, row *store.Emote) error {
		if row.Status != store.JobQueued || row.Token != token {
			return nil
		}
		row.Status, row.ProcessUUID, row.TokenStatus = store.JobProcessing, pid, store.TokenUsed
		row.ProcessingStartedAt, row.UpstreamStatus = w.k.deps.Now(), string(kinetix.StatusPending)
		row.ErrorCode, row.ErrorMessage = "", ""
		moved = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("error recording process %s of emote %s: %w", pid, e.ID, err)
	}
	if !moved {
		w.k.deps.Logger.Info().Str("emote_id", e.ID.String()).Str("process_uuid", pid.String()).
			Str("status", string(row.Status)).Msg("jobs.kinetix_emote: Emote moved on; not recording the process")
		return nil
	}
	w.k.deps.Logger.Info().Str("emote_id", e.ID.String()).Str("process_uuid", pid.String()).
		Msg("jobs.kinetix_emote: Process created")
	if err := w.k.announce(ctx, row); err != nil {
		return err
	}
	return w.pollSnooze(ctx, job, row)
}
