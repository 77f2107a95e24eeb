package dashboard

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

func (f *fixture) send(t *testing.T, method, key, path string, body any, origin string) (int, map[string]any) {
	t.Helper()
	var raw []byte
	if body != nil {
		var err error
		raw, err = json.Marshal(body)
		require.NoError(t, err)
	}
	req, err := http.NewRequest(method, f.server.URL+path, bytes.NewReader(raw))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := f.client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestSavedFunnels(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	const path = "/dashboard/api/funnels"
	tutorial := map[string]any{"name": "Tutorial", "steps": []string{"Start", "Move", "End"}, "window": "90m",
		"per": "session", "by": "region", "filters": map[string]string{"build_id": "1.0.3", "level_id": ""}}

	status, body := f.send(t, http.MethodPost, f.a.SecretKey, path, tutorial, "")
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, "1h30m0s", body["window"])
	require.Equal(t, map[string]any{"build_id": "1.0.3"}, body["filters"], "empty filters are dropped")

	var list savedFunnelsView
	f.view(t, f.a.SecretKey, path, nil, &list)
	require.Len(t, list.Funnels, 1)
	got := list.Funnels[0]
	require.Equal(t, []string{"Start", "Move", "End"}, got.Steps)
	require.Equal(t, []any{"Tutorial", "1h30m0s", "session", "region", map[string]string{"build_id": "1.0.3"}},
		[]any{got.Name, got.Window, got.Per, got.By, got.Filters})

	// Saving under the same name replaces it; another name adds one.
	tutorial["steps"] = []string{"Start", "End"}
	tutorial["by"] = ""
	status, _ = f.send(t, http.MethodPost, f.a.SecretKey, path, tutorial, "")
	require.Equal(t, http.StatusOK, status)
	status, _ = f.send(t, http.MethodPost, f.a.SecretKey, path, map[string]any{"name": "Boss", "steps": []string{"Boss_Start"}}, "")
	require.Equal(t, http.StatusOK, status)
	f.view(t, f.a.SecretKey, path, nil, &list)
	require.Len(t, list.Funnels, 2)
	require.Equal(t, "Boss", list.Funnels[0].Name)
	require.Equal(t, "1h0m0s", list.Funnels[0].Window)
	require.Equal(t, "player", list.Funnels[0].Per)
	require.Equal(t, []string{"Start", "End"}, list.Funnels[1].Steps)
	require.Equal(t, "", list.Funnels[1].By)

	var one savedFunnel
	f.view(t, f.a.SecretKey, path+"/"+url.PathEscape("Tutorial"), nil, &one)
	require.Equal(t, []string{"Start", "End"}, one.Steps)

	// Another app sees none of them, and can delete none.
	f.view(t, f.b.SecretKey, path, nil, &list)
	require.Empty(t, list.Funnels)
	status, _ = f.get(t, f.b.SecretKey, path+"/Tutorial", nil)
	require.Equal(t, http.StatusNotFound, status)
	status, _ = f.send(t, http.MethodDelete, f.b.SecretKey, path+"/Tutorial", nil, "")
	require.Equal(t, http.StatusNotFound, status)

	// A cross-origin browser request changes nothing.
	status, body = f.send(t, http.MethodPost, f.a.SecretKey, path, map[string]any{"name": "Evil", "steps": []string{"A"}}, "https://evil.example")
	require.Equal(t, http.StatusForbidden, status)
	require.Equal(t, "cross_origin", body["error"])
	status, _ = f.send(t, http.MethodDelete, f.a.SecretKey, path+"/Tutorial", nil, "https://evil.example")
	require.Equal(t, http.StatusForbidden, status)
	// Same origin is fine.
	status, _ = f.send(t, http.MethodDelete, f.a.SecretKey, path+"/Tutorial", nil, f.server.URL)
	require.Equal(t, http.StatusNoContent, status)
	f.view(t, f.a.SecretKey, path, nil, &list)
	require.Len(t, list.Funnels, 1)
	status, _ = f.send(t, http.MethodDelete, f.a.SecretKey, path+"/Tutorial", nil, "")
	require.Equal(t, http.StatusNotFound, status)

	// Without credentials: 401.
	status, _ = f.send(t, http.MethodPost, "", path, tutorial, "")
	require.Equal(t, http.StatusUnauthorized, status)
}

func TestSavedFunnelBadInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	const path = "/dashboard/api/funnels"
	cases := []struct {
		body  any
		field string
	}{
		{map[string]any{"steps": []string{"A"}}, "name"},
		{map[string]any{"name": "x", "steps": []string{}}, "steps"},
		{map[string]any{"name": "x", "steps": []string{"A", "A"}}, "steps"},
		{map[string]any{"name": "x", "steps": []string{"A,B"}}, "steps"},
		{map[string]any{"name": "x", "steps": []string{"A"}, "window": "forever"}, "window"},
		{map[string]any{"name": "x", "steps": []string{"A"}, "per": "team"}, "per"},
		{map[string]any{"name": "x", "steps": []string{"A"}, "by": "gpu"}, "by"},
		{map[string]any{"name": "x", "steps": []string{"A"}, "filters": map[string]string{"gpu": "x"}}, "filters"},
		{map[string]any{"name": "x", "steps": []string{"A"}, "filters": map[string]string{"region": "E\x00U"}}, "region"},
	}
	for _, c := range cases {
		status, body := f.send(t, http.MethodPost, f.a.SecretKey, path, c.body, "")
		require.Equal(t, http.StatusBadRequest, status, "%v", c.body)
		require.Equal(t, c.field, body["field"], "%v", c.body)
	}
	status, body := f.send(t, http.MethodPost, f.a.SecretKey, path, map[string]any{"name": "x", "steps": []string{"A"}, "color": "red"}, "")
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "invalid_body", body["error"])

	var list savedFunnelsView
	f.view(t, f.a.SecretKey, path, nil, &list)
	require.Empty(t, list.Funnels, "nothing bad was saved")
}
