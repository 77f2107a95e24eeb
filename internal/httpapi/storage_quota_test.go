package httpapi

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/store"
)

func TestStorageQuota(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("EmotesAndModelsPastTheQuotaAre413", func(t *testing.T) {
		t.Parallel()
		// Room for one emote's video, not two.
		env := newEmoteEnv(t, &emoteEnvOpts{storageQuota: int64(len(emoteTestVideo)) + 2000})
		env.create(t, env.appA)

		body, ct := emoteForm(t, validEmoteFields(), emoteTestVideo)
		a := env.do(t, env.appA, http.MethodPost, "/v1/emotes", body, ct)
		require.Equal(t, http.StatusRequestEntityTooLarge, a.status, string(a.raw))
		require.Equal(t, "quota_exceeded", a.body["error"])
		require.NotEmpty(t, a.body["message"])
		require.Equal(t, 1, env.count(t, "emotes"), "the refused emote left no row")

		raw, mct := multipartBody(t, modelParts("a", "Level_1", bytes.Repeat(testOBJ, 20)))
		a = env.do(t, env.appA, http.MethodPost, "/api/models", bytes.NewReader(raw), mct)
		require.Equal(t, http.StatusRequestEntityTooLarge, a.status, string(a.raw))
		require.Equal(t, "quota_exceeded", a.body["error"])

		// App B's share is its own.
		env.create(t, env.appB)
		raw, mct = multipartBody(t, modelParts("b", "Level_1", testOBJ))
		a = env.do(t, env.appB, http.MethodPost, "/api/models", bytes.NewReader(raw), mct)
		require.Equal(t, http.StatusCreated, a.status, string(a.raw))
	})

	t.Run("GenerationsAtTheQuotaAre413", func(t *testing.T) {
		t.Parallel()
		b := genSetup(t, &genTestOpts{storageQuota: 1000})
		id := b.create(t, b.appA, nil)
		status, _, _ := b.do(t, b.appA, http.MethodPost, "/v1/generations", validGeneration(), nil)
		require.Equal(t, http.StatusAccepted, status, "below the quota")

		// Its image fills the quota.
		_, err := store.GenerationUpdate(ctx, b.pool, id, func(_ pgx.Tx, g *store.Generation) error {
			g.ImageKey, g.ImageSize = "0000000000000000000000000000000000000000000000000000000000000000", 1000
			return nil
		})
		require.NoError(t, err)
		status, body, _ := b.do(t, b.appA, http.MethodPost, "/v1/generations", validGeneration(), nil)
		require.Equal(t, http.StatusRequestEntityTooLarge, status, body)
		require.Equal(t, "quota_exceeded", body["error"])
		b.create(t, b.appB, nil)
	})
}
