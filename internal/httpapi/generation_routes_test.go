package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/jobs"
	"github.com/gamepipe/gamepipe/internal/store"
)

func TestGenerationRoutes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	// Route tests share one api (no workers); each works on its own rows.
	shared := genSetup(t, &genTestOpts{deadline: 10 * time.Minute})
	setup := func(t *testing.T) *genTestBundle {
		t.Helper()
		return shared
	}

	t.Run("AuthRequired", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		status, body, _ := bundle.do(t, nil, http.MethodPost, "/v1/generations", validGeneration(), nil)
		require.Equal(t, http.StatusUnauthorized, status)
		require.Equal(t, "unauthorized", body["error"])
		status, _, _ = bundle.do(t, nil, http.MethodGet, "/v1/generations", nil,
			map[string]string{"X-Api-Key": bundle.appA.PublicToken})
		require.Equal(t, http.StatusForbidden, status)
	})

	t.Run("CancelWaitingGeneration", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		id := bundle.create(t, bundle.appA, nil)
		status, _, _ := bundle.do(t, bundle.appB, http.MethodDelete, "/v1/generations/"+id.String(), nil, nil)
		require.Equal(t, http.StatusNotFound, status, "another app cannot cancel it")
		status, body, _ := bundle.do(t, bundle.appA, http.MethodDelete, "/v1/generations/"+id.String(), nil, nil)
		require.Equal(t, http.StatusOK, status, body)
		require.Equal(t, "canceled", body["status"])
		require.Equal(t, "canceled", body["error"].(map[string]any)["code"])
		require.Equal(t, 1, bundle.finalizeJobs(t, id), "the finalize job announces the cancel")
		status, body, _ = bundle.do(t, bundle.appA, http.MethodDelete, "/v1/generations/"+id.String(), nil, nil)
		require.Equal(t, http.StatusOK, status, "canceling again answers the same")
		require.Equal(t, "canceled", body["status"])

		done := bundle.create(t, bundle.appA, nil)
		_, err := store.GenerationUpdate(ctx, bundle.pool, done, func(_ pgx.Tx, g *store.Generation) error {
			g.Status = store.JobSucceeded
			return nil
		})
		require.NoError(t, err)
		status, body, _ = bundle.do(t, bundle.appA, http.MethodDelete, "/v1/generations/"+done.String(), nil, nil)
		require.Equal(t, http.StatusConflict, status)
		require.Equal(t, "not_cancellable", body["error"])
	})

	t.Run("CreateInsertsRowAndJobs", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		req := validGeneration()
		req["publish"] = map[string]any{"collection": "my-col", "name": "Lighthouse", "description": "d",
			"attributes": []any{map[string]any{"trait_type": "Time", "value": "dusk"}, map[string]any{"trait_type": "N", "value": 3}}}
		before := time.Now()
		status, body, _ := bundle.do(t, bundle.appA, http.MethodPost, "/v1/generations", req, nil)
		after := time.Now()
		require.Equal(t, http.StatusAccepted, status, body)
		require.Equal(t, "queued", body["status"])
		id := uuid.MustParse(body["id"].(string))
		g := bundle.get(t, id)
		require.Equal(t, store.JobQueued, g.Status)
		require.JSONEq(t, `{"collection":"my-col","name":"Lighthouse","description":"d","attributes":[{"trait_type":"Time","value":"dusk"},{"trait_type":"N","value":3}]}`, string(g.Publish))
		// The deadline counts from the request, which is between before and after.
		require.False(t, g.DeadlineAt.Before(before.Add(10*time.Minute).Truncate(time.Microsecond)))
		require.False(t, g.DeadlineAt.After(after.Add(10*time.Minute+time.Microsecond)))

		tx, err := bundle.pool.Begin(ctx)
		require.NoError(t, err)
		defer tx.Rollback(ctx)
		var n int
		require.NoError(t, tx.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE args->>'generation_id' = $1`, id.String()).Scan(&n))
		require.Equal(t, 2, n)
		var scheduled time.Time
		require.NoError(t, tx.QueryRow(ctx, `SELECT scheduled_at FROM river_job WHERE kind = 'generaitiv_deadline' AND args->>'generation_id' = $1`,
			id.String()).Scan(&scheduled))
		require.WithinDuration(t, g.DeadlineAt, scheduled, time.Millisecond)
	})

	t.Run("CreateValidatesInput", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		input := func(k string, v any) func(m map[string]any) {
			return func(m map[string]any) { m["input"].(map[string]any)[k] = v }
		}
		tests := []struct {
			name      string
			mutate    func(m map[string]any)
			wantField string
		}{
			{"GuidanceTooHigh", input("guidance_scale", 80), "input.guidance_scale"},
			{"HeightNotMultipleOf8", input("height", 130), "input.height"},
			{"MissingModel", func(m map[string]any) { delete(m, "model") }, "model"},
			{"MissingPrompt", func(m map[string]any) { delete(m["input"].(map[string]any), "prompt") }, "input.prompt"},
			{"NonIntegerSteps", input("num_inference_steps", 10.5), "input.num_inference_steps"},
			{"PromptStrengthTooHigh", input("prompt_strength", 1.5), "input.prompt_strength"},
			{"PromptTooLong", input("prompt", strings.Repeat("x", 2001)), "input.prompt"},
			{"PublishNameMissing", func(m map[string]any) { m["publish"] = map[string]any{"collection": "c"} }, "publish.name"},
			{"PublishUnknownField", func(m map[string]any) { m["publish"] = map[string]any{"collection": "c", "name": "n", "x": 1} }, "publish.x"},
			{"SafetyNotBool", input("disable_safety_checker", "yes"), "input.disable_safety_checker"},
			{"SchedulerUnknown", input("scheduler", "MAGIC"), "input.scheduler"},
			{"StepsTooMany", input("num_inference_steps", 1000), "input.num_inference_steps"},
			{"UnknownInputField", input("seed_of_doom", 1), "input.seed_of_doom"},
			{"UnknownTopField", func(m map[string]any) { m["webhook"] = "http://evil" }, "webhook"},
			{"WidthTooSmall", input("width", 64), "input.width"},
		}
		for _, tt := range tests {
			req := validGeneration()
			tt.mutate(req)
			status, body, _ := bundle.do(t, bundle.appA, http.MethodPost, "/v1/generations", req, nil)
			require.Equal(t, http.StatusBadRequest, status, tt.name)
			require.Equal(t, "invalid_request", body["error"], tt.name)
			require.Equal(t, tt.wantField, body["field"], tt.name)
			require.NotEmpty(t, body["message"], tt.name)
		}
		req := validGeneration()
		req["model"] = "0x" + strings.Repeat("f", 64)
		status, body, _ := bundle.do(t, bundle.appA, http.MethodPost, "/v1/generations", req, nil)
		require.Equal(t, http.StatusBadRequest, status)
		require.Equal(t, "custom_model_unsupported", body["error"])
		require.Equal(t, "model", body["field"])
		require.Contains(t, body["message"], "custom models")
		status, body, _ = bundle.do(t, bundle.appA, http.MethodPost, "/v1/generations", []byte("not json"), nil)
		require.Equal(t, http.StatusBadRequest, status)
		require.Equal(t, "invalid_request", body["error"])
		status, _, _ = bundle.do(t, bundle.appA, http.MethodPost, "/v1/generations", []byte(`{"model":"`+strings.Repeat("m", 70<<10)+`"}`), nil)
		require.Equal(t, http.StatusRequestEntityTooLarge, status)
	})

	t.Run("FaultBeforeCommitRollsBack", func(t *testing.T) {
		t.Parallel()
		// docs/reliability.md #21, on its own schema so the job assertions see
		// only this test's jobs.
		var calls atomic.Int32
		bundle := genSetup(t, &genTestOpts{beforeCommit: func(context.Context, uuid.UUID) error {
			if calls.Add(1) == 1 {
				return errors.New("injected fault after InsertTx, before commit")
			}
			return nil
		}})
		countRows := func() int {
			var n int
			require.NoError(t, bundle.pool.QueryRow(ctx, `SELECT count(*) FROM generations`).Scan(&n))
			return n
		}
		status, body, _ := bundle.do(t, bundle.appA, http.MethodPost, "/v1/generations", validGeneration(), nil)
		require.Equal(t, http.StatusInternalServerError, status)
		require.Equal(t, "internal_error", body["error"])
		require.Zero(t, countRows(), "no generation row")
		tx, err := bundle.pool.Begin(ctx)
		require.NoError(t, err)
		defer tx.Rollback(ctx)
		rivertest.RequireNotInsertedTx[*riverpgxv5.Driver](ctx, t, tx, jobs.GeneraitivGenerateArgs{}, nil)
		rivertest.RequireNotInsertedTx[*riverpgxv5.Driver](ctx, t, tx, jobs.GeneraitivDeadlineArgs{}, nil)
		require.NoError(t, tx.Rollback(ctx))

		status, body, _ = bundle.do(t, bundle.appA, http.MethodPost, "/v1/generations", validGeneration(), nil)
		require.Equal(t, http.StatusAccepted, status, body)
		require.Equal(t, 1, countRows())
		tx, err = bundle.pool.Begin(ctx)
		require.NoError(t, err)
		defer tx.Rollback(ctx)
		job := rivertest.RequireInsertedTx[*riverpgxv5.Driver](ctx, t, tx, jobs.GeneraitivGenerateArgs{}, nil)
		require.Equal(t, body["id"], job.Args.GenerationID.String())
		rivertest.RequireInsertedTx[*riverpgxv5.Driver](ctx, t, tx, jobs.GeneraitivDeadlineArgs{}, nil)
	})

	t.Run("GetAndListScopedToApp", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		model := "list-" + uuid.NewString()[:8]
		var ids []string
		for range 5 {
			req := validGeneration()
			req["model"] = model
			ids = append(ids, bundle.create(t, bundle.appA, req).String())
		}
		status, body, _ := bundle.do(t, bundle.appA, http.MethodGet, "/v1/generations/"+ids[0], nil, nil)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, ids[0], body["id"])
		require.Equal(t, "queued", body["status"])
		require.Equal(t, "generation", body["kind"])
		require.Equal(t, model, body["input"].(map[string]any)["model"])
		require.Equal(t, 256.0, body["input"].(map[string]any)["input"].(map[string]any)["width"])
		require.Nil(t, body["result"])
		require.Nil(t, body["error"])
		require.Nil(t, body["finished_at"])
		status, _, _ = bundle.do(t, bundle.appB, http.MethodGet, "/v1/generations/"+ids[0], nil, nil)
		require.Equal(t, http.StatusNotFound, status, "another app's generation is 404")
		status, _, _ = bundle.do(t, bundle.appA, http.MethodGet, "/v1/generations/"+uuid.NewString(), nil, nil)
		require.Equal(t, http.StatusNotFound, status)
		status, _, _ = bundle.do(t, bundle.appA, http.MethodGet, "/v1/generations/not-a-uuid", nil, nil)
		require.Equal(t, http.StatusNotFound, status)

		var seen []string
		cursor := ""
		for pages := 0; ; pages++ {
			require.Less(t, pages, 5)
			status, body, _ := bundle.do(t, bundle.appA, http.MethodGet, "/v1/generations?limit=2&model="+model+"&cursor="+cursor, nil, nil)
			require.Equal(t, http.StatusOK, status, body)
			require.Contains(t, body, "next_cursor")
			for _, g := range body["data"].([]any) {
				seen = append(seen, g.(map[string]any)["id"].(string))
			}
			next, _ := body["next_cursor"].(string)
			if next == "" {
				break
			}
			cursor = next
		}
		require.ElementsMatch(t, ids, seen)
		status, body, _ = bundle.do(t, bundle.appB, http.MethodGet, "/v1/generations?model="+model, nil, nil)
		require.Equal(t, http.StatusOK, status)
		require.Empty(t, body["data"])
		status, body, _ = bundle.do(t, bundle.appA, http.MethodGet, "/v1/generations?status=bogus", nil, nil)
		require.Equal(t, http.StatusBadRequest, status)
		require.Equal(t, "status", body["field"])
		status, body, _ = bundle.do(t, bundle.appA, http.MethodGet, "/v1/generations?cursor=zzz", nil, nil)
		require.Equal(t, http.StatusBadRequest, status)
		require.Equal(t, "cursor", body["field"])
	})

	t.Run("IdempotencyKeyReplays", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		key := map[string]string{"Idempotency-Key": uuid.NewString()}
		req := validGeneration()
		status, first, _ := bundle.do(t, bundle.appA, http.MethodPost, "/v1/generations", req, key)
		require.Equal(t, http.StatusAccepted, status)
		status, again, hdr := bundle.do(t, bundle.appA, http.MethodPost, "/v1/generations", req, key)
		require.Equal(t, http.StatusAccepted, status)
		require.Equal(t, first["id"], again["id"])
		require.Equal(t, "true", hdr.Get("Idempotent-Replayed"))
		require.Equal(t, "/v1/generations/"+first["id"].(string), hdr.Get("Location"))
		require.Equal(t, "generation", again["kind"])
		req["model"] = "other-model"
		status, body, _ := bundle.do(t, bundle.appA, http.MethodPost, "/v1/generations", req, key)
		require.Equal(t, http.StatusUnprocessableEntity, status)
		require.Equal(t, "idempotency_key_reused", body["error"])
		var n int
		require.NoError(t, bundle.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'generaitiv_generate' AND args->>'generation_id' = $1`,
			first["id"]).Scan(&n))
		require.Equal(t, 1, n)
	})

	t.Run("ImageServedOnceStored", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		id := bundle.create(t, bundle.appA, nil)
		status, body, _ := bundle.do(t, bundle.appA, http.MethodGet, "/v1/generations/"+id.String()+"/image", nil, nil)
		require.Equal(t, http.StatusNotFound, status)
		require.Equal(t, "image_not_ready", body["error"])
		content := "\x89PNG\r\n\x1a\n" + uuid.NewString()
		info, err := bundle.blobs.Put(ctx, strings.NewReader(content), 0)
		require.NoError(t, err)
		finished := time.Date(2026, 12, 1, 10, 20, 30, 0, time.UTC)
		_, err = store.GenerationUpdate(ctx, bundle.pool, id, func(_ pgx.Tx, g *store.Generation) error {
			g.Status, g.ImageKey, g.ImageSize, g.ImageContentType = store.JobSucceeded, info.Key, info.Size, "image/png"
			g.FinishedAt = &finished
			return nil
		})
		require.NoError(t, err)
		image := "/v1/generations/" + id.String() + "/image"
		status, got, header := bundle.doRaw(t, bundle.appA, http.MethodGet, image, nil, nil)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "image/png", header.Get("Content-Type"))
		require.Equal(t, fmt.Sprintf("%q", info.Key), header.Get("ETag"))
		require.Equal(t, "private, max-age=31536000, immutable", header.Get("Cache-Control"))
		require.Equal(t, finished.Format(http.TimeFormat), header.Get("Last-Modified"))
		require.Equal(t, content, string(got))
		// A range is a 206 of those bytes; the ETag makes a re-request a 304.
		status, got, _ = bundle.doRaw(t, bundle.appA, http.MethodGet, image, nil, map[string]string{"Range": "bytes=8-11"})
		require.Equal(t, http.StatusPartialContent, status)
		require.Equal(t, content[8:12], string(got))
		status, got, _ = bundle.doRaw(t, bundle.appA, http.MethodGet, image, nil, map[string]string{"If-None-Match": fmt.Sprintf("%q", info.Key)})
		require.Equal(t, http.StatusNotModified, status)
		require.Empty(t, got)
		_, view, _ := bundle.do(t, bundle.appA, http.MethodGet, "/v1/generations/"+id.String(), nil, nil)
		require.Equal(t, "/v1/generations/"+id.String()+"/image", view["result"].(map[string]any)["image_url"])
		status, _, _ = bundle.do(t, bundle.appB, http.MethodGet, "/v1/generations/"+id.String()+"/image", nil, nil)
		require.Equal(t, http.StatusNotFound, status)
	})
}
