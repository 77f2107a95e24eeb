package httpapi

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/gamepipe/gamepipe/internal/jobs"
	"github.com/gamepipe/gamepipe/internal/store"
)

// emoteCreateRoute scopes Idempotency-Keys of emote creation.
const emoteCreateRoute = "POST /v1/emotes"

// handleCreate is POST /v1/emotes: multipart user_id, name, start, end,
// mature and video. The video is streamed into blob storage (size capped,
// format checked), then the emote row and its kinetix_emote job are
// inserted in one transaction: 202 {"id","status":"queued"}. With an
// Idempotency-Key header, a retry of the same request gets the first
// answer (and Idempotent-Replayed: true) instead of a second emote; the key
// reused for a different request is 422. A failed request leaves no row
// and no job.
func (a *emoteAPI) handleCreate(w http.ResponseWriter, r *http.Request) {
	app, err := a.s.auth.secretApp(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	idemKey := r.Header.Get("Idempotency-Key")
	if len(idemKey) > 255 {
		writeError(w, r, newError(http.StatusBadRequest, "invalid_idempotency_key", "Idempotency-Key must be at most 255 characters"))
		return
	}
	if err := a.s.checkStorageQuota(r.Context(), app.AppID, r.ContentLength); err != nil {
		writeError(w, r, err)
		return
	}
	up, err := a.readEmoteUpload(w, r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	f, err := up.parse("user_id", "name", "start", "end", "mature", "video")
	if err != nil {
		writeError(w, r, err)
		return
	}
	if f.endMS <= f.startMS {
		writeError(w, r, emoteFieldError("end", "invalid_field", "end must be after start"))
		return
	}

	e := &store.Emote{
		ID: uuid.Must(uuid.NewV7()), AppID: app.AppID, UserID: f.userID, Name: f.name, StartMS: f.startMS,
		EndMS: f.endMS, Mature: f.mature, VideoKey: up.video.Key, VideoSize: up.video.Size, VideoFormat: up.format,
		IdempotencyKey: idemKey,
	}
	insert := func(tx pgx.Tx) (int, any, error) {
		res, err := a.s.jobs.River.InsertTx(r.Context(), tx, jobs.KinetixEmoteArgs{EmoteID: e.ID}, nil)
		if err != nil {
			return 0, nil, fmt.Errorf("error inserting the kinetix_emote job of emote %s: %w", e.ID, err)
		}
		e.JobID = res.Job.ID
		if err := a.emotes.Insert(r.Context(), tx, e); err != nil {
			return 0, nil, err
		}
		return http.StatusAccepted, map[string]string{"id": e.ID.String(), "status": string(store.EmoteQueued)}, nil
	}

	var (
		status   int
		body     any
		replayed bool
	)
	if idemKey == "" {
		err = pgx.BeginFunc(r.Context(), a.s.jobs.Pool, func(tx pgx.Tx) error {
			var err error
			status, body, err = insert(tx)
			return err
		})
	} else {
		var res *store.IdempotentResponse
		res, err = store.Idempotent(r.Context(), a.s.jobs.Pool, &store.IdempotencyParams{
			AppID: app.AppID, Route: emoteCreateRoute, Key: idemKey, RequestHash: emoteRequestHash(f, up),
		}, insert)
		if err == nil {
			status, body, replayed = res.Status, json.RawMessage(res.Body), res.Replayed
		}
	}
	switch {
	case errors.Is(err, store.ErrIdempotencyMismatch):
		writeError(w, r, newError(http.StatusUnprocessableEntity, "idempotency_key_reused",
			"this Idempotency-Key was used for a different request"))
		return
	case err != nil:
		writeError(w, r, err)
		return
	}
	id := e.ID.String()
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
		var first struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(body.(json.RawMessage), &first)
		id = first.ID
	} else {
		zerolog.Ctx(r.Context()).Info().Str("emote_id", id).Str("app_id", app.AppID.String()).
			Int64("video_size", e.VideoSize).Msg("httpapi: Emote queued")
	}
	if id != "" {
		w.Header().Set("Location", "/v1/emotes/"+id)
	}
	writeJSON(w, status, body)
}

// emoteRequestHash tells a retry of the same emote request from another request
// reusing its Idempotency-Key: the fields and the video's content address.
func emoteRequestHash(f *emoteFields, up *emoteUpload) []byte {
	h := sha256.New()
	for _, v := range []string{f.userID, f.name, strconv.FormatInt(f.startMS, 10), strconv.FormatInt(f.endMS, 10),
		strconv.FormatBool(f.mature), up.video.Key} {
		h.Write([]byte(v))
		h.Write([]byte{0})
	}
	return h.Sum(nil)
}
