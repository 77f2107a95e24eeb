package httpapi

import (
	"bytes"
	"context"
	"image/png"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/jobs"
	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/upstreamsim/kinetixsim"
)

func TestEmoteRoutes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	type testBundle struct {
		env *emoteEnv
	}
	setup := func(t *testing.T, opts *emoteEnvOpts) *testBundle {
		t.Helper()
		return &testBundle{env: newEmoteEnv(t, opts)}
	}
	set := func(t *testing.T, env *emoteEnv, id string, fn func(e *store.Emote)) {
		t.Helper()
		_, err := store.EmoteUpdate(ctx, env.db.Pool, uuid.MustParse(id), func(_ pgx.Tx, e *store.Emote) error { fn(e); return nil })
		require.NoError(t, err)
	}
	get := func(t *testing.T, env *emoteEnv, id string) *store.Emote {
		t.Helper()
		e, err := store.EmoteGet(ctx, env.db.Pool, uuid.MustParse(id))
		require.NoError(t, err)
		return e
	}

	t.Run("AnotherAppsEmoteIsNotFound", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, nil)
		id := bundle.env.create(t, bundle.env.appA)

		for _, route := range []struct{ method, path string }{
			{http.MethodGet, "/v1/emotes/" + id},
			{http.MethodDelete, "/v1/emotes/" + id},
			{http.MethodPost, "/v1/emotes/" + id + "/validate"},
			{http.MethodPost, "/v1/emotes/" + id + "/retake"},
		} {
			a := bundle.env.do(t, bundle.env.appB, route.method, route.path, nil, "")
			require.Equal(t, http.StatusNotFound, a.status, route.path)
			require.Equal(t, "not_found", a.body["error"])
		}
		a := bundle.env.do(t, bundle.env.appB, http.MethodGet, "/v1/emotes", nil, "")
		require.Empty(t, a.body["data"])
		require.Equal(t, http.StatusNotFound, bundle.env.do(t, bundle.env.appA, http.MethodGet, "/v1/emotes/not-a-uuid", nil, "").status)
		require.Equal(t, store.JobQueued, get(t, bundle.env, id).Status)
	})

	t.Run("BadUploadsLeaveNoRow", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, &emoteEnvOpts{maxVideoBytes: 64 << 10})

		tests := []struct {
			name       string
			mutate     func(fields map[string]string) []byte
			wantStatus int
			wantCode   string
			wantField  string
		}{
			{"BadEnd", func(f map[string]string) []byte { f["end"] = "2s"; return emoteTestVideo }, 400, "invalid_field", "end"},
			{"BadMature", func(f map[string]string) []byte { f["mature"] = "yes please"; return emoteTestVideo }, 400, "invalid_field", "mature"},
			{"EmptyVideo", func(map[string]string) []byte { return []byte{} }, 400, "invalid_video", "video"},
			{"EndBeforeStart", func(f map[string]string) []byte { f["start"] = "00:00:05.000"; return emoteTestVideo }, 400, "invalid_field", "end"},
			{"MissingName", func(f map[string]string) []byte { delete(f, "name"); return emoteTestVideo }, 400, "missing_field", "name"},
			{"MissingUserID", func(f map[string]string) []byte { delete(f, "user_id"); return emoteTestVideo }, 400, "missing_field", "user_id"},
			{"MissingVideo", func(map[string]string) []byte { return nil }, 400, "missing_field", "video"},
			{"TooBig", func(map[string]string) []byte {
				return append(append([]byte{}, emoteTestVideo...), make([]byte, 70<<10)...)
			}, 413, "video_too_large", "video"},
			{"WrongFormat", func(map[string]string) []byte { return []byte("%PDF-1.7 this is a document") }, 400, "unsupported_video_format", "video"},
		}
		for _, tt := range tests {
			fields := validEmoteFields()
			body, ct := emoteForm(t, fields, tt.mutate(fields))
			a := bundle.env.do(t, bundle.env.appA, http.MethodPost, "/v1/emotes", body, ct)
			require.Equal(t, tt.wantStatus, a.status, tt.name+": "+string(a.raw))
			require.Equal(t, tt.wantCode, a.body["error"], tt.name)
			require.Equal(t, tt.wantField, a.body["field"], tt.name)
			require.NotEmpty(t, a.body["message"], tt.name)
		}

		a := bundle.env.do(t, bundle.env.appA, http.MethodPost, "/v1/emotes", strings.NewReader(`{"user_id":"x"}`), "application/json")
		require.Equal(t, http.StatusUnsupportedMediaType, a.status)
		require.Zero(t, bundle.env.count(t, "emotes"))
		require.Zero(t, bundle.env.count(t, "river_job"))
	})

	t.Run("CancelStopsAnUnfinishedEmote", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, nil)
		id := bundle.env.create(t, bundle.env.appA)
		jobID := get(t, bundle.env, id).JobID

		a := bundle.env.do(t, bundle.env.appA, http.MethodDelete, "/v1/emotes/"+id, nil, "")
		require.Equal(t, http.StatusOK, a.status, string(a.raw))
		require.Equal(t, "canceled", a.body["status"])
		require.Equal(t, map[string]any{"code": "canceled", "message": "canceled at the app's request"}, a.body["error"])
		job, err := bundle.env.river.JobGet(ctx, jobID)
		require.NoError(t, err)
		require.Equal(t, rivertype.JobStateCancelled, job.State)
		requireEmoteJob(t, bundle.env, &jobs.KinetixNotifyArgs{EmoteID: uuid.MustParse(id)})
		got := get(t, bundle.env, id)
		require.Equal(t, store.JobCanceled, got.Status)
		require.False(t, got.FinishedAt.IsZero())

		require.Equal(t, http.StatusOK, bundle.env.do(t, bundle.env.appA, http.MethodDelete, "/v1/emotes/"+id, nil, "").status)

		done := bundle.env.create(t, bundle.env.appA)
		set(t, bundle.env, done, func(e *store.Emote) { e.Status = store.JobSucceeded })
		a = bundle.env.do(t, bundle.env.appA, http.MethodDelete, "/v1/emotes/"+done, nil, "")
		require.Equal(t, http.StatusConflict, a.status)
		require.Equal(t, "already_finished", a.body["error"])
	})

	t.Run("CreateQueuesTheEmoteAndItsJob", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, nil)
		fields := validEmoteFields()
		fields["mature"] = "true"
		body, ct := emoteForm(t, fields, emoteTestVideo)

		a := bundle.env.do(t, bundle.env.appA, http.MethodPost, "/v1/emotes", body, ct)
		require.Equal(t, http.StatusAccepted, a.status, string(a.raw))
		require.Equal(t, "queued", a.body["status"])
		id := a.body["id"].(string)
		require.Equal(t, "/v1/emotes/"+id, a.header.Get("Location"))

		e := get(t, bundle.env, id)
		require.Equal(t, bundle.env.appA.AppID, e.AppID)
		require.Equal(t, "player-1", e.UserID)
		require.Equal(t, int64(2000), e.EndMS)
		require.True(t, e.Mature)
		require.Equal(t, "mp4", e.VideoFormat)
		require.Equal(t, int64(len(emoteTestVideo)), e.VideoSize)
		_, info, err := bundle.env.blobs.Open(ctx, e.VideoKey)
		require.NoError(t, err)
		require.Equal(t, e.VideoSize, info.Size)
		job := requireEmoteJob(t, bundle.env, &jobs.KinetixEmoteArgs{EmoteID: e.ID})
		require.Equal(t, job.ID, e.JobID)
		require.Equal(t, jobs.QueueKinetix, job.Queue)

		a = bundle.env.do(t, bundle.env.appA, http.MethodGet, "/v1/emotes/"+id, nil, "")
		require.Equal(t, http.StatusOK, a.status)
		require.Equal(t, "emote", a.body["kind"])
		input := a.body["input"].(map[string]any)
		require.Equal(t, "00:00:02.000", input["end"])
		require.Equal(t, map[string]any{"size": float64(len(emoteTestVideo)), "format": "mp4"}, input["video"])
		require.Nil(t, a.body["result"])
		require.Nil(t, a.body["error"])
		require.Nil(t, a.body["finished_at"])
		require.Nil(t, a.body["details"].(map[string]any)["process_uuid"])
		require.NotContains(t, string(a.raw), "retake_token")
	})

	t.Run("IdempotencyKeyReplaysTheFirstAnswer", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, nil)
		post := func(fields map[string]string) *emoteAnswer {
			body, ct := emoteForm(t, fields, emoteTestVideo)
			req, err := http.NewRequest(http.MethodPost, bundle.env.server.URL+"/v1/emotes", body)
			require.NoError(t, err)
			req.Header.Set("Content-Type", ct)
			req.Header.Set("X-Api-Key", bundle.env.appA.SecretKey)
			req.Header.Set("Idempotency-Key", "retry-1")
			return bundle.env.send(t, req)
		}

		first := post(validEmoteFields())
		require.Equal(t, http.StatusAccepted, first.status)
		again := post(validEmoteFields())
		require.Equal(t, http.StatusAccepted, again.status)
		require.Equal(t, first.body["id"], again.body["id"])
		require.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
		require.Equal(t, first.header.Get("Location"), again.header.Get("Location"))

		other := validEmoteFields()
		other["name"] = "jump"
		misuse := post(other)
		require.Equal(t, http.StatusUnprocessableEntity, misuse.status)
		require.Equal(t, "idempotency_key_reused", misuse.body["error"])
		require.Equal(t, 1, bundle.env.count(t, "emotes"))
		require.Equal(t, 1, bundle.env.count(t, "river_job"))
	})

	t.Run("KinetixPassThroughGameKeyAndQRAsItComes", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, &emoteEnvOpts{gameKey: "game-key", sim: &kinetixsim.Config{Keys: []string{emoteKinetixKey},
			GameKeys: []string{"game-key"}, Variations: true}})
		a := bundle.env.do(t, bundle.env.appA, http.MethodGet, "/v1/kinetix/plan", nil, "")
		require.Equal(t, http.StatusOK, a.status, string(a.raw))
		require.Equal(t, "sandbox", a.body["plan"])
		a = bundle.env.do(t, bundle.env.appA, http.MethodGet, "/v1/kinetix/qr?user_id=player-1", nil, "")
		require.Equal(t, http.StatusOK, a.status, string(a.raw))
		require.Equal(t, "application/json", a.header.Get("Content-Type"))
		require.Contains(t, a.body["url"], "/dev/upload?token=")
		_, world := bundle.env.sim.LastDevToken()
		require.Equal(t, emoteKinetixKey, world, "the QR code is for the app's virtual world")
	})

	t.Run("KinetixPassThrough", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, &emoteEnvOpts{sim: &kinetixsim.Config{Keys: []string{emoteKinetixKey, "app-b-key"}}})

		a := bundle.env.do(t, bundle.env.appA, http.MethodGet, "/v1/kinetix/plan", nil, "")
		require.Equal(t, http.StatusOK, a.status, string(a.raw))
		require.Equal(t, "sandbox", a.body["plan"])

		a = bundle.env.do(t, bundle.env.appA, http.MethodGet, "/v1/kinetix/qr?user_id=player-1", nil, "")
		require.Equal(t, http.StatusOK, a.status)
		require.Equal(t, "image/png", a.header.Get("Content-Type"))
		_, err := png.Decode(bytes.NewReader(a.raw))
		require.NoError(t, err)

		a = bundle.env.do(t, bundle.env.appA, http.MethodGet, "/v1/kinetix/qr", nil, "")
		require.Equal(t, http.StatusBadRequest, a.status)
		require.Equal(t, "user_id", a.body["field"])

		// App B has its own key; a wrong one is refused by Kinetix: 502.
		wrong := "not-a-kinetix-key"
		require.NoError(t, store.AppSetUpstreamKeys(ctx, bundle.env.db.Pool, testSecrets, bundle.env.appB.AppID, &wrong, nil))
		a = bundle.env.do(t, bundle.env.appB, http.MethodGet, "/v1/kinetix/plan", nil, "")
		require.Equal(t, http.StatusBadGateway, a.status)
		require.Equal(t, "kinetix_key_rejected", a.body["error"])
		right := "app-b-key"
		require.NoError(t, store.AppSetUpstreamKeys(ctx, bundle.env.db.Pool, testSecrets, bundle.env.appB.AppID, &right, nil))
		require.Equal(t, http.StatusOK, bundle.env.do(t, bundle.env.appB, http.MethodGet, "/v1/kinetix/plan", nil, "").status)

		bundle.env.sim.AddFault(kinetixsim.Fault{Route: "POST /v1/plans", Kind: kinetixsim.FaultRateLimit, Count: 1, RetryAfter: 3 * time.Second})
		bundle.env.sim.AddFault(kinetixsim.Fault{Route: "POST /v1/plans", Kind: kinetixsim.FaultServerError, Count: 1})
		a = bundle.env.do(t, bundle.env.appA, http.MethodGet, "/v1/kinetix/plan", nil, "")
		require.Equal(t, http.StatusTooManyRequests, a.status)
		require.Equal(t, "3", a.header.Get("Retry-After"))
		a = bundle.env.do(t, bundle.env.appA, http.MethodGet, "/v1/kinetix/plan", nil, "")
		require.Equal(t, http.StatusBadGateway, a.status)
		require.Equal(t, "kinetix_unavailable", a.body["error"])
	})

	t.Run("KinetixSharedKeyNamespacesUsers", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, nil)
		env := bundle.env

		// App A asks for a QR code for app B's player: it must not be
		// a token for the user B's own request gets.
		before := env.sim.TokenUsers()
		a := env.do(t, env.appA, http.MethodGet, "/v1/kinetix/qr?user_id=player-b", nil, "")
		require.Equal(t, http.StatusOK, a.status, string(a.raw))
		b := env.do(t, env.appB, http.MethodGet, "/v1/kinetix/qr?user_id=player-b", nil, "")
		require.Equal(t, http.StatusOK, b.status, string(b.raw))

		var users []string
		for tok, u := range env.sim.TokenUsers() {
			if _, ok := before[tok]; !ok {
				require.Equal(t, emoteKinetixKey, u.Key)
				users = append(users, u.UserID)
			}
		}
		require.ElementsMatch(t, []string{env.appA.AppID.String() + ":player-b", env.appB.AppID.String() + ":player-b"}, users)
	})

	t.Run("ListPagesByCursor", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, nil)
		var ids []string
		for range 5 {
			ids = append(ids, bundle.env.create(t, bundle.env.appA))
		}
		set(t, bundle.env, ids[0], func(e *store.Emote) { e.Status = store.JobFailed })

		var seen []string
		path := "/v1/emotes?limit=2&user_id=player-1"
		for pages := 0; ; pages++ {
			require.Less(t, pages, 5)
			a := bundle.env.do(t, bundle.env.appA, http.MethodGet, path, nil, "")
			require.Equal(t, http.StatusOK, a.status, string(a.raw))
			for _, e := range a.body["data"].([]any) {
				seen = append(seen, e.(map[string]any)["id"].(string))
			}
			next, ok := a.body["next_cursor"].(string)
			if !ok {
				break
			}
			path = "/v1/emotes?limit=2&user_id=player-1&cursor=" + next
		}
		require.Equal(t, []string{ids[4], ids[3], ids[2], ids[1], ids[0]}, seen)

		a := bundle.env.do(t, bundle.env.appA, http.MethodGet, "/v1/emotes?status=failed", nil, "")
		require.Len(t, a.body["data"], 1)
		a = bundle.env.do(t, bundle.env.appA, http.MethodGet, "/v1/emotes?user_id=nobody", nil, "")
		require.Empty(t, a.body["data"])
		require.Nil(t, a.body["next_cursor"])

		for _, bad := range []string{"status=done", "limit=0", "limit=101", "limit=x", "cursor=***", "cursor=bm9wZQ"} {
			a := bundle.env.do(t, bundle.env.appA, http.MethodGet, "/v1/emotes?"+bad, nil, "")
			require.Equal(t, http.StatusBadRequest, a.status, bad)
			require.Equal(t, "invalid_query", a.body["error"], bad)
		}
	})

	t.Run("RequiresTheSecretKey", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, nil)
		require.Equal(t, http.StatusUnauthorized, bundle.env.do(t, nil, http.MethodGet, "/v1/emotes", nil, "").status)
		req, err := http.NewRequest(http.MethodGet, bundle.env.server.URL+"/v1/emotes", nil)
		require.NoError(t, err)
		req.Header.Set("X-Api-Key", bundle.env.appA.PublicToken)
		require.Equal(t, http.StatusForbidden, bundle.env.send(t, req).status)
		body, ct := emoteForm(t, validEmoteFields(), emoteTestVideo)
		require.Equal(t, http.StatusUnauthorized, bundle.env.do(t, nil, http.MethodPost, "/v1/emotes", body, ct).status)
		require.Zero(t, bundle.env.count(t, "emotes"))
	})

	t.Run("RetakeWithoutVideoWaitsForIt", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, nil)
		id := bundle.env.create(t, bundle.env.appA)
		set(t, bundle.env, id, func(e *store.Emote) { e.Status = store.EmoteAwaitingValidation })

		a := bundle.env.do(t, bundle.env.appA, http.MethodPost, "/v1/emotes/"+id+"/retake", nil, "")
		require.Equal(t, http.StatusAccepted, a.status, string(a.raw))
		require.Equal(t, "retaking", a.body["status"])
		require.Equal(t, float64(1), a.body["details"].(map[string]any)["retake_count"])
		requireEmoteJob(t, bundle.env, &jobs.KinetixRetakeArgs{EmoteID: uuid.MustParse(id)})
		require.True(t, get(t, bundle.env, id).VideoPending)
		// Repeating the retake changes nothing.
		a = bundle.env.do(t, bundle.env.appA, http.MethodPost, "/v1/emotes/"+id+"/retake", nil, "")
		require.Equal(t, float64(1), a.body["details"].(map[string]any)["retake_count"])

		// The retake job ran: the emote waits for its video, showing the token.
		set(t, bundle.env, id, func(e *store.Emote) {
			e.Status, e.Token, e.TokenCreatedAt = store.EmoteAwaitingVideo, "retake-token", time.Now()
		})
		a = bundle.env.do(t, bundle.env.appA, http.MethodGet, "/v1/emotes/"+id, nil, "")
		details := a.body["details"].(map[string]any)
		require.Equal(t, "retake-token", details["retake_token"])
		require.NotEmpty(t, details["retake_token_expires_at"])
		require.Equal(t, true, details["video_pending"])

		fields := map[string]string{"end": "00:00:03.500"}
		body, ct := emoteForm(t, fields, emoteTestVideo)
		a = bundle.env.do(t, bundle.env.appA, http.MethodPut, "/v1/emotes/"+id+"/video", body, ct)
		require.Equal(t, http.StatusAccepted, a.status, string(a.raw))
		require.Equal(t, "queued", a.body["status"])
		got := get(t, bundle.env, id)
		require.False(t, got.VideoPending)
		require.Equal(t, int64(3500), got.EndMS)
		job, err := bundle.env.river.JobGet(ctx, got.JobID)
		require.NoError(t, err)
		require.Equal(t, "kinetix_emote", job.Kind)

		body, ct = emoteForm(t, nil, emoteTestVideo)
		a = bundle.env.do(t, bundle.env.appA, http.MethodPut, "/v1/emotes/"+id+"/video", body, ct)
		require.Equal(t, http.StatusConflict, a.status, "no longer waiting for a video")
	})

	t.Run("RetakeWithVideo", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, nil)
		id := bundle.env.create(t, bundle.env.appA)
		set(t, bundle.env, id, func(e *store.Emote) { e.Status = store.EmoteAwaitingValidation })
		video := append([]byte("\x1a\x45\xdf\xa3\x42\x82\x84webm"), make([]byte, 100)...)

		body, ct := emoteForm(t, map[string]string{"name": "better wave", "user_id": "someone-else"}, video)
		a := bundle.env.do(t, bundle.env.appA, http.MethodPost, "/v1/emotes/"+id+"/retake", body, ct)
		require.Equal(t, http.StatusBadRequest, a.status, "the user stays")
		require.Equal(t, "user_id", a.body["field"])

		body, ct = emoteForm(t, map[string]string{"name": "better wave"}, video)
		a = bundle.env.do(t, bundle.env.appA, http.MethodPost, "/v1/emotes/"+id+"/retake", body, ct)
		require.Equal(t, http.StatusAccepted, a.status, string(a.raw))
		got := get(t, bundle.env, id)
		require.Equal(t, store.EmoteRetaking, got.Status)
		require.False(t, got.VideoPending)
		require.Equal(t, "webm", got.VideoFormat)
		require.Equal(t, "better wave", got.Name)

		a = bundle.env.do(t, bundle.env.appA, http.MethodPost, "/v1/emotes/"+id+"/retake", strings.NewReader("{}"), "application/json")
		require.Equal(t, http.StatusUnsupportedMediaType, a.status)
	})

	t.Run("ValidateNeedsAwaitingValidation", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, nil)
		id := bundle.env.create(t, bundle.env.appA)

		a := bundle.env.do(t, bundle.env.appA, http.MethodPost, "/v1/emotes/"+id+"/validate", nil, "")
		require.Equal(t, http.StatusConflict, a.status)
		require.Equal(t, "invalid_state", a.body["error"])
		require.Contains(t, a.body["message"], "queued")

		set(t, bundle.env, id, func(e *store.Emote) { e.Status = store.EmoteAwaitingValidation })
		a = bundle.env.do(t, bundle.env.appA, http.MethodPost, "/v1/emotes/"+id+"/validate", nil, "")
		require.Equal(t, http.StatusAccepted, a.status)
		require.Equal(t, "validating", a.body["status"])
		job := requireEmoteJob(t, bundle.env, &jobs.KinetixValidateArgs{EmoteID: uuid.MustParse(id)})
		require.Equal(t, job.ID, get(t, bundle.env, id).JobID)
		require.Equal(t, http.StatusAccepted, bundle.env.do(t, bundle.env.appA, http.MethodPost, "/v1/emotes/"+id+"/validate", nil, "").status)
		require.Equal(t, 2, bundle.env.count(t, "river_job"), "one emote job, one validate job")
	})
}
