package httpapi

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"

	"github.com/gamepipe/gamepipe/internal/jobs"
	"github.com/gamepipe/gamepipe/internal/store"
)

// change runs fn on the app's emote under its row lock, in one transaction
// in which fn may insert or cancel jobs. Another app's emote is 404.
func (a *emoteAPI) change(r *http.Request, appID, id uuid.UUID, fn func(tx pgx.Tx, e *store.Emote) error) (*store.Emote, error) {
	out, err := store.EmoteUpdate(r.Context(), a.s.jobs.Pool, id, func(tx pgx.Tx, e *store.Emote) error {
		if e.AppID != appID {
			return errEmoteNotFound
		}
		return fn(tx, e)
	})
	return out, mapEmoteStoreErr(err)
}

// insertJob inserts a job in tx and makes it the one driving e.
func (a *emoteAPI) insertJob(r *http.Request, tx pgx.Tx, e *store.Emote, args river.JobArgs) error {
	res, err := a.s.jobs.River.InsertTx(r.Context(), tx, args, nil)
	if err != nil {
		return fmt.Errorf("error inserting %s job of emote %s: %w", args.Kind(), e.ID, err)
	}
	e.JobID = res.Job.ID
	return nil
}

func emoteStateConflict(e *store.Emote, action, needs string) *APIError {
	return newError(http.StatusConflict, "invalid_state",
		fmt.Sprintf("the emote is %s; %s needs it %s", e.Status, action, needs))
}

// actionTarget authenticates and reads the emote id of an action route.
func (a *emoteAPI) actionTarget(w http.ResponseWriter, r *http.Request) (appID, id uuid.UUID, ok bool) {
	app, err := a.s.auth.secretApp(r)
	if err == nil {
		id, err = emoteID(r)
	}
	if err != nil {
		writeError(w, r, err)
		return uuid.Nil, uuid.Nil, false
	}
	zerolog.Ctx(r.Context()).UpdateContext(func(c zerolog.Context) zerolog.Context { return c.Str("emote_id", id.String()) })
	return app.AppID, id, true
}

// writeEmoteStatus answers an action with the emote as a job object.
func writeEmoteStatus(w http.ResponseWriter, status int, e *store.Emote) {
	writeJSON(w, status, viewEmote(e))
}

// handleValidate is POST /v1/emotes/{id}/validate: an emote in
// awaiting_validation becomes validating and a kinetix_validate job tells
// the upstream (202). Repeating it while validating answers the same.
func (a *emoteAPI) handleValidate(w http.ResponseWriter, r *http.Request) {
	appID, id, ok := a.actionTarget(w, r)
	if !ok {
		return
	}
	e, err := a.change(r, appID, id, func(tx pgx.Tx, e *store.Emote) error {
		switch e.Status {
		case store.EmoteValidating:
			return nil
		case store.EmoteAwaitingValidation:
			e.Status, e.ErrorCode, e.ErrorMessage = store.EmoteValidating, "", ""
			return a.insertJob(r, tx, e, jobs.KinetixValidateArgs{EmoteID: e.ID})
		}
		return emoteStateConflict(e, "validate", "awaiting_validation")
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeEmoteStatus(w, http.StatusAccepted, e)
}

// handleRetake is POST /v1/emotes/{id}/retake: the player rejects the
// emote in awaiting_validation. It becomes retaking and a kinetix_retake
// job asks the upstream for a new token. The body may be empty (then the
// emote waits in awaiting_video, showing retake_token, for PUT
// /v1/emotes/{id}/video) or multipart with the new video and, optionally,
// new name, start, end and mature (then the next process starts as soon as
// the token is there). 202 with the emote, retaking.
func (a *emoteAPI) handleRetake(w http.ResponseWriter, r *http.Request) {
	appID, id, ok := a.actionTarget(w, r)
	if !ok {
		return
	}
	if r.ContentLength != 0 {
		if err := a.s.checkStorageQuota(r.Context(), appID, r.ContentLength); err != nil {
			writeError(w, r, err)
			return
		}
	}
	up, f, err := a.optionalUpload(w, r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	e, err := a.change(r, appID, id, func(tx pgx.Tx, e *store.Emote) error {
		switch e.Status {
		case store.EmoteRetaking:
			if up == nil || !e.VideoPending {
				return nil
			}
			return applyEmoteVideo(e, up, f)
		case store.EmoteAwaitingValidation:
			e.Status, e.RetakeCount, e.VideoPending = store.EmoteRetaking, e.RetakeCount+1, up == nil
			e.ErrorCode, e.ErrorMessage = "", ""
			if up != nil {
				if err := applyEmoteVideo(e, up, f); err != nil {
					return err
				}
			}
			return a.insertJob(r, tx, e, jobs.KinetixRetakeArgs{EmoteID: e.ID})
		}
		return emoteStateConflict(e, "retake", "awaiting_validation")
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeEmoteStatus(w, http.StatusAccepted, e)
}

// handleVideo is PUT /v1/emotes/{id}/video: the new video of a retaken
// emote (multipart video and, optionally, name, start, end, mature). An
// emote in awaiting_video goes back to queued with a new kinetix_emote job;
// one still retaking keeps the video for when its token comes. 202.
func (a *emoteAPI) handleVideo(w http.ResponseWriter, r *http.Request) {
	appID, id, ok := a.actionTarget(w, r)
	if !ok {
		return
	}
	if err := a.s.checkStorageQuota(r.Context(), appID, r.ContentLength); err != nil {
		writeError(w, r, err)
		return
	}
	up, f, err := a.readVideoUpload(w, r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	e, err := a.change(r, appID, id, func(tx pgx.Tx, e *store.Emote) error {
		if !e.VideoPending || (e.Status != store.EmoteAwaitingVideo && e.Status != store.EmoteRetaking) {
			return emoteStateConflict(e, "a new video", "retaken and waiting for its video")
		}
		if err := applyEmoteVideo(e, up, f); err != nil {
			return err
		}
		if e.Status == store.EmoteRetaking {
			return nil
		}
		e.Status = store.JobQueued
		return a.insertJob(r, tx, e, jobs.KinetixEmoteArgs{EmoteID: e.ID})
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeEmoteStatus(w, http.StatusAccepted, e)
}

// optionalUpload reads a multipart body if there is one.
func (a *emoteAPI) optionalUpload(w http.ResponseWriter, r *http.Request) (*emoteUpload, *emoteFields, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if !strings.HasPrefix(mt, "multipart/") {
		if r.ContentLength > 0 {
			return nil, nil, newError(http.StatusUnsupportedMediaType, "unsupported_media_type",
				"send no body, or multipart/form-data with the new video")
		}
		return nil, nil, nil
	}
	return a.readVideoUpload(w, r)
}

// readVideoUpload reads a multipart body that carries a new video.
func (a *emoteAPI) readVideoUpload(w http.ResponseWriter, r *http.Request) (*emoteUpload, *emoteFields, error) {
	up, err := a.readEmoteUpload(w, r)
	if err != nil {
		return nil, nil, err
	}
	f, err := up.parse("video")
	if err != nil {
		return nil, nil, err
	}
	return up, f, nil
}

// applyEmoteVideo puts a new video, and any new fields, on the emote.
func applyEmoteVideo(e *store.Emote, up *emoteUpload, f *emoteFields) error {
	if f.userID != "" && f.userID != e.UserID {
		return emoteFieldError("user_id", "invalid_field", "a retake keeps the emote's user_id")
	}
	if f.name != "" {
		e.Name = f.name
	}
	if f.startMS >= 0 {
		e.StartMS = f.startMS
	}
	if f.endMS >= 0 {
		e.EndMS = f.endMS
	}
	if _, ok := up.fields["mature"]; ok {
		e.Mature = f.mature
	}
	if e.EndMS <= e.StartMS {
		return emoteFieldError("end", "invalid_field", "end must be after start")
	}
	e.VideoKey, e.VideoSize, e.VideoFormat, e.VideoPending = up.video.Key, up.video.Size, up.format, false
	return nil
}

// handleCancel is DELETE /v1/emotes/{id}: an emote not yet finished is
// canceled: its job is cancelled (River JobCancelTx) and the row set
// canceled in one transaction, with a kinetix_notify job to announce it.
// 200 with the canceled emote; again on a canceled emote; 409 on one in
// another end state. The upstream has no cancel route: a process already
// created runs on there, unused.
func (a *emoteAPI) handleCancel(w http.ResponseWriter, r *http.Request) {
	appID, id, ok := a.actionTarget(w, r)
	if !ok {
		return
	}
	e, err := a.change(r, appID, id, func(tx pgx.Tx, e *store.Emote) error {
		switch {
		case e.Status == store.JobCanceled:
			return nil
		case e.Status.Terminal():
			return newError(http.StatusConflict, "already_finished", "the emote is already "+string(e.Status))
		}
		if e.JobID != 0 {
			if _, err := a.s.jobs.River.JobCancelTx(r.Context(), tx, e.JobID); err != nil && !errors.Is(err, rivertype.ErrNotFound) {
				return fmt.Errorf("error cancelling job %d of emote %s: %w", e.JobID, e.ID, err)
			}
		}
		e.Status, e.FinishedAt = store.JobCanceled, time.Now()
		e.ErrorCode, e.ErrorMessage = "canceled", "canceled at the app's request"
		if _, err := a.s.jobs.River.InsertTx(r.Context(), tx, jobs.KinetixNotifyArgs{EmoteID: e.ID}, nil); err != nil {
			return fmt.Errorf("error inserting the kinetix_notify job of emote %s: %w", e.ID, err)
		}
		return nil
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeEmoteStatus(w, http.StatusOK, e)
}
