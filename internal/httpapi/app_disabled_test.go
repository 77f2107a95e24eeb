package httpapi

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/store"
)

func TestAppDisabled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("IngestRefusedUntilEnabled", func(t *testing.T) {
		t.Parallel()
		// A key cache of a nanosecond: every request looks the key up.
		b := setup(t, &setupOpts{config: func(c *Config) { c.KeyCacheTTL = time.Nanosecond }})
		body := pack(t, gameplay(b.appA.AppID.String(), 1))
		headers := map[string]string{"x-public-token": b.appA.PublicToken}
		require.Equal(t, http.StatusOK, b.post(t, "/api/events", body, headers).Status)

		require.NoError(t, store.AppSetDisabled(ctx, b.db.Pool, b.appA.AppID, true))
		resp := b.post(t, "/api/events", body, headers)
		require.Equal(t, http.StatusUnauthorized, resp.Status)
		require.Equal(t, "unauthorized", resp.Body["error"])
		require.NotEmpty(t, resp.Body["message"])
		other := pack(t, gameplay(b.appB.AppID.String(), 1))
		require.Equal(t, http.StatusOK, b.post(t, "/api/events", other, map[string]string{"x-public-token": b.appB.PublicToken}).Status,
			"another app is not affected")

		require.NoError(t, store.AppSetDisabled(ctx, b.db.Pool, b.appA.AppID, false))
		require.Equal(t, http.StatusOK, b.post(t, "/api/events", body, headers).Status)
	})

	t.Run("JobRoutesRefusedUntilEnabled", func(t *testing.T) {
		t.Parallel()
		env := newEmoteEnv(t, &emoteEnvOpts{keyCacheTTL: time.Nanosecond})
		require.Equal(t, http.StatusOK, env.do(t, env.appA, http.MethodGet, "/v1/emotes?user_id=p1", nil, "").status)

		require.NoError(t, store.AppSetDisabled(ctx, env.db.Pool, env.appA.AppID, true))
		for _, path := range []string{"/v1/emotes?user_id=p1", "/v1/kinetix/plan"} {
			a := env.do(t, env.appA, http.MethodGet, path, nil, "")
			require.Equal(t, http.StatusUnauthorized, a.status, path)
			require.Equal(t, "unauthorized", a.body["error"], path)
		}
		body, ct := emoteForm(t, map[string]string{"user_id": "p1", "name": "wave", "start": "00:00:00.000", "end": "00:00:02.000"}, emoteTestVideo)
		a := env.do(t, env.appA, http.MethodPost, "/v1/emotes", body, ct)
		require.Equal(t, http.StatusUnauthorized, a.status, string(a.raw))
		var n int
		require.NoError(t, env.db.Pool.QueryRow(ctx, "SELECT count(*) FROM emotes").Scan(&n))
		require.Zero(t, n, "nothing was accepted for the disabled app")
		require.Equal(t, http.StatusOK, env.do(t, env.appB, http.MethodGet, "/v1/emotes?user_id=p1", nil, "").status)

		require.NoError(t, store.AppSetDisabled(ctx, env.db.Pool, env.appA.AppID, false))
		require.Equal(t, http.StatusOK, env.do(t, env.appA, http.MethodGet, "/v1/emotes?user_id=p1", nil, "").status)
		require.Equal(t, http.StatusOK, env.do(t, env.appA, http.MethodGet, "/v1/kinetix/plan", nil, "").status)
	})

	t.Run("WithinKeyCacheTTLUpstreamRoutesRefused", func(t *testing.T) {
		t.Parallel()
		// With the default cache, a key checked a moment ago is still
		// believed; a route that reads the app row refuses it anyway.
		env := newEmoteEnv(t, nil)
		require.Equal(t, http.StatusOK, env.do(t, env.appA, http.MethodGet, "/v1/kinetix/plan", nil, "").status)
		require.NoError(t, store.AppSetDisabled(ctx, env.db.Pool, env.appA.AppID, true))
		a := env.do(t, env.appA, http.MethodGet, "/v1/kinetix/plan", nil, "")
		require.Equal(t, http.StatusForbidden, a.status, string(a.raw))
		require.Equal(t, "app_disabled", a.body["error"])
	})
}
