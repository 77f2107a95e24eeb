package httpapi

import (
	"crypto/sha256"
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
// inserted in one transaction: 202 with the queued emote (createJob, which
// also handles the Idempotency-Key). A failed request leaves no row and no
// job.
func (a *emoteAPI) handleCreate(w http.ResponseWriter, r *http.Request) {
	app, err := a.s.auth.secretApp(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	idemKey, err := idempotencyKey(r)
	if err != nil {
		writeError(w, r, err)
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
	created := a.s.createJob(w, r, &jobCreate{
		AppID: app.AppID, Route: emoteCreateRoute, Key: idemKey, Path: "/v1/emotes/",
		RequestHash: func() []byte { return emoteRequestHash(f, up) },
		Insert: func(tx pgx.Tx) (*jobView, error) {
			res, err := a.s.jobs.River.InsertTx(r.Context(), tx, jobs.KinetixEmoteArgs{EmoteID: e.ID}, nil)
			if err != nil {
				return nil, fmt.Errorf("error inserting the kinetix_emote job of emote %s: %w", e.ID, err)
			}
			e.JobID = res.Job.ID
			if err := store.EmoteInsert(r.Context(), tx, e); err != nil {
				return nil, err
			}
			return viewEmote(e), nil
		},
	})
	if created {
		zerolog.Ctx(r.Context()).Info().Str("emote_id", e.ID.String()).Str("app_id", app.AppID.String()).
			Int64("video_size", e.VideoSize).Msg("httpapi: Emote queued")
	}
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
