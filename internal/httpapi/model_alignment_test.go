package httpapi

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// put sends PUT path with a JSON body.
func (b *modelFixture) put(t *testing.T, path, body string, headers map[string]string) *modelResponse {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, b.server.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	return b.do(t, req, headers)
}

// A model's alignment is set by its app's secret key and listed with it.
func TestModelRoutes_Alignment(t *testing.T) {
	t.Parallel()

	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		b := newModelFixture(t)
		first, second := b.seedModels(t)
		def := map[string]any{"up_axis": "y", "scale": 1.0, "offset": []any{0.0, 0.0, 0.0}}
		require.Equal(t, def, first.Body["alignment"], "an upload answers the default")

		path := "/api/models/" + first.Body["id"].(string) + "/alignment"
		resp := b.put(t, path, `{"up_axis":"z","scale":0.5,"offset":[10,-2.5,0]}`, b.secretA())
		require.Equal(t, 200, resp.Status, "%s", resp.Raw)
		want := map[string]any{"up_axis": "z", "scale": 0.5, "offset": []any{10.0, -2.5, 0.0}}
		require.Equal(t, want, resp.Body["alignment"])
		require.Equal(t, first.Body["id"], resp.Body["id"])
		require.Equal(t, first.Body["sha256"], resp.Body["sha256"])

		// The list shows each version's own.
		list := b.get(t, "/api/models?level_name=Level_1", b.secretA())
		models := list.Body["models"].([]any)
		require.Equal(t, second.Body["id"], models[0].(map[string]any)["id"])
		require.Equal(t, def, models[0].(map[string]any)["alignment"])
		require.Equal(t, want, models[1].(map[string]any)["alignment"])
	})

	t.Run("Refusals", func(t *testing.T) {
		t.Parallel()
		b := newModelFixture(t)
		first, _ := b.seedModels(t)
		path := "/api/models/" + first.Body["id"].(string) + "/alignment"
		for _, c := range []struct{ body, field string }{
			{`{"up_axis":"x"}`, "up_axis"},
			{`{"scale":0}`, "scale"},
			{`{"scale":-2}`, "scale"},
			{`{"scale":1e400}`, "scale"},
			{`{"offset":[0,0]}`, "offset"},
			{`{"offset":[0,0,1e999]}`, "offset"},
			{`{"offset":[0,null,0]}`, "offset"},
			{`{"pivot":1}`, "pivot"},
		} {
			resp := b.put(t, path, c.body, b.secretA())
			require.Equal(t, 400, resp.Status, c.body)
			require.Equal(t, "invalid_field", resp.Body["error"], c.body)
			require.Equal(t, c.field, resp.Body["field"], c.body)
		}
		for _, body := range []string{``, `[]`, `{"scale":2}x`, `"y"`} {
			resp := b.put(t, path, body, b.secretA())
			require.Equal(t, 400, resp.Status, body)
			require.Equal(t, "invalid_body", resp.Body["error"], body)
		}

		// Another app's model does not exist for it; a public token may
		// not; nobody without a key may.
		resp := b.put(t, path, `{"up_axis":"z"}`, map[string]string{"x-api-key": b.appB.SecretKey})
		require.Equal(t, 404, resp.Status)
		require.Equal(t, "model_not_found", resp.Body["error"])
		require.Equal(t, 404, b.put(t, "/api/models/nope/alignment", `{}`, b.secretA()).Status)
		require.Equal(t, 403, b.put(t, path, `{"up_axis":"z"}`, map[string]string{"x-api-key": b.appA.PublicToken}).Status)
		require.Equal(t, 401, b.put(t, path, `{"up_axis":"z"}`, nil).Status)

		list := b.get(t, "/api/models?level_name=Level_1", b.secretA())
		for _, m := range list.Body["models"].([]any) {
			require.Equal(t, "y", m.(map[string]any)["alignment"].(map[string]any)["up_axis"], "nothing was changed")
		}
	})
}
