package dashboard

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/store"
)

// fetch sends GET path with headers and returns the answer and its body.
func (f *fixture) fetch(t *testing.T, path string, headers map[string]string, cookies ...*http.Cookie) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.server.URL+path, nil)
	require.NoError(t, err)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := f.client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, raw
}

func TestModelFile(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	// 100 bytes: the blob store keeps them in chunks of 16.
	content := []byte("glTF" + strings.Repeat("0123456789", 9) + "abcdef")
	m := f.addModel(t, f.a.AppID, "Level_1", content)
	sum := sha256.Sum256(content)
	etag := `"` + hex.EncodeToString(sum[:]) + `"`
	path := "/dashboard/api/models/" + m.ID.String() + "/file"
	key := map[string]string{"x-api-key": f.a.SecretKey}

	resp, raw := f.fetch(t, path, key)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, content, raw)
	require.Equal(t, "model/gltf-binary", resp.Header.Get("Content-Type"))
	require.Equal(t, etag, resp.Header.Get("ETag"))
	require.Equal(t, "private, no-cache", resp.Header.Get("Cache-Control"))
	require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	require.NotEmpty(t, resp.Header.Get("Content-Security-Policy"))

	// A range across chunks is a 206 of exactly those bytes.
	resp, raw = f.fetch(t, path, map[string]string{"x-api-key": f.a.SecretKey, "Range": "bytes=10-40"})
	require.Equal(t, http.StatusPartialContent, resp.StatusCode)
	require.Equal(t, content[10:41], raw)
	require.Equal(t, "bytes 10-40/100", resp.Header.Get("Content-Range"))
	resp, raw = f.fetch(t, path, map[string]string{"x-api-key": f.a.SecretKey, "Range": "bytes=-6"})
	require.Equal(t, http.StatusPartialContent, resp.StatusCode)
	require.Equal(t, []byte("abcdef"), raw)
	resp, _ = f.fetch(t, path, map[string]string{"x-api-key": f.a.SecretKey, "Range": "bytes=100-"})
	require.Equal(t, http.StatusRequestedRangeNotSatisfiable, resp.StatusCode)

	// The ETag revalidates; another one does not.
	resp, raw = f.fetch(t, path, map[string]string{"x-api-key": f.a.SecretKey, "If-None-Match": etag})
	require.Equal(t, http.StatusNotModified, resp.StatusCode)
	require.Empty(t, raw)
	resp, _ = f.fetch(t, path, map[string]string{"x-api-key": f.a.SecretKey, "If-None-Match": `"0000"`})
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// The page's session reads it too.
	c := sessionCookie(t, f.signIn(t, f.a.SecretKey, ""))
	resp, raw = f.fetch(t, path, nil, c)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, content, raw)

	// Another app's model, an unknown id and a bad id are all 404.
	for _, p := range []string{path, "/dashboard/api/models/0198c0de-0000-7000-8000-000000000000/file", "/dashboard/api/models/nope/file"} {
		h := key
		if p == path {
			h = map[string]string{"x-api-key": f.b.SecretKey}
		}
		resp, raw = f.fetch(t, p, h)
		require.Equal(t, http.StatusNotFound, resp.StatusCode, p)
		require.Contains(t, string(raw), "model_not_found", p)
	}
	resp, _ = f.fetch(t, path, nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	resp, _ = f.fetch(t, path, map[string]string{"x-api-key": f.a.PublicToken})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)

	// A dashboard without blob storage says so.
	bare, err := New(&Config{}, &Deps{Logger: zerolog.Nop(), DB: f.db.Pool})
	require.NoError(t, err)
	mux := http.NewServeMux()
	bare.Register(mux)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("x-api-key", f.a.SecretKey)
	mux.ServeHTTP(rec, req)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Contains(t, rec.Body.String(), "models_unavailable")
}

func TestModelAlignment(t *testing.T) {
	t.Parallel()

	setup := func(t *testing.T) (*fixture, *store.LevelModel, string) {
		t.Helper()
		f := newFixture(t, nil)
		m := f.addModel(t, f.a.AppID, "~Cave", []byte("glTF cave"))
		return f, m, "/dashboard/api/models/" + m.ID.String() + "/alignment"
	}
	stored := func(t *testing.T, f *fixture, m *store.LevelModel) store.ModelAlignment {
		t.Helper()
		got, err := store.LevelModelGet(context.Background(), f.db.Pool, &store.LevelModelGetParams{AppID: m.AppID, ID: m.ID})
		require.NoError(t, err)
		return got.Alignment()
	}

	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		f, m, path := setup(t)
		require.Equal(t, store.DefaultAlignment(), stored(t, f, m))

		status, body := f.send(t, http.MethodPut, f.a.SecretKey, path,
			map[string]any{"up_axis": "z", "scale": 0.01, "offset": []float64{1.5, -2, 1e6}}, "")
		require.Equal(t, http.StatusOK, status, body)
		require.Equal(t, map[string]any{"up_axis": "z", "scale": 0.01, "offset": []any{1.5, -2.0, 1e6}}, body["alignment"])
		require.Equal(t, m.ID.String(), body["id"])
		require.Equal(t, "~Cave", body["level_id"])
		require.Equal(t, "~~Cave", body["ref"])
		require.Equal(t, "/dashboard/api/models/"+m.ID.String()+"/file", body["file_url"])
		require.Equal(t, store.ModelAlignment{UpAxis: "z", Scale: 0.01, Offset: [3]float64{1.5, -2, 1e6}}, stored(t, f, m))

		// A field left out takes its default: the object replaces the
		// alignment whole.
		status, body = f.send(t, http.MethodPut, f.a.SecretKey, path, map[string]any{"scale": 2}, "")
		require.Equal(t, http.StatusOK, status, body)
		require.Equal(t, store.ModelAlignment{UpAxis: "y", Scale: 2}, stored(t, f, m))
	})

	t.Run("SameOriginOnly", func(t *testing.T) {
		t.Parallel()
		f, m, path := setup(t)
		status, body := f.send(t, http.MethodPut, f.a.SecretKey, path, map[string]any{"up_axis": "z"}, "https://evil.example")
		require.Equal(t, http.StatusForbidden, status)
		require.Equal(t, "cross_origin", body["error"])
		require.Equal(t, store.DefaultAlignment(), stored(t, f, m))

		// The page, signed in, on its own origin.
		c := sessionCookie(t, f.signIn(t, f.a.SecretKey, ""))
		req, err := http.NewRequest(http.MethodPut, f.server.URL+path, strings.NewReader(`{"up_axis":"z","scale":3,"offset":[0,1,0]}`))
		require.NoError(t, err)
		req.Header.Set("Origin", f.server.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.AddCookie(c)
		status, body = f.do(t, req)
		require.Equal(t, http.StatusOK, status, body)
		require.Equal(t, store.ModelAlignment{UpAxis: "z", Scale: 3, Offset: [3]float64{0, 1, 0}}, stored(t, f, m))

		// The session, cross-site: refused before anything is read.
		req, err = http.NewRequest(http.MethodPut, f.server.URL+path, strings.NewReader(`{"up_axis":"y"}`))
		require.NoError(t, err)
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.AddCookie(c)
		status, _ = f.do(t, req)
		require.Equal(t, http.StatusForbidden, status)
		require.Equal(t, "z", stored(t, f, m).UpAxis)
	})

	t.Run("OtherApp", func(t *testing.T) {
		t.Parallel()
		f, m, path := setup(t)
		status, body := f.send(t, http.MethodPut, f.b.SecretKey, path, map[string]any{"up_axis": "z"}, "")
		require.Equal(t, http.StatusNotFound, status)
		require.Equal(t, "model_not_found", body["error"])
		require.Equal(t, store.DefaultAlignment(), stored(t, f, m))
		status, _ = f.send(t, http.MethodPut, "", path, map[string]any{"up_axis": "z"}, "")
		require.Equal(t, http.StatusUnauthorized, status)
	})

	t.Run("BadBodies", func(t *testing.T) {
		t.Parallel()
		f, m, path := setup(t)
		for _, c := range []struct {
			body, field, code string
		}{
			{`{"up_axis":"x"}`, "up_axis", "invalid_parameter"},
			{`{"up_axis":"Y"}`, "up_axis", "invalid_parameter"},
			{`{"up_axis":null}`, "up_axis", "invalid_parameter"},
			{`{"up_axis":1}`, "up_axis", "invalid_parameter"},
			{`{"scale":0}`, "scale", "invalid_parameter"},
			{`{"scale":-1}`, "scale", "invalid_parameter"},
			{`{"scale":1e999}`, "scale", "invalid_parameter"},
			{`{"scale":"2"}`, "scale", "invalid_parameter"},
			{`{"scale":null}`, "scale", "invalid_parameter"},
			{`{"offset":[1,2]}`, "offset", "invalid_parameter"},
			{`{"offset":[1,2,3,4]}`, "offset", "invalid_parameter"},
			{`{"offset":[1,"2",3]}`, "offset", "invalid_parameter"},
			{`{"offset":[1,-1e999,3]}`, "offset", "invalid_parameter"},
			{`{"offset":{"x":1}}`, "offset", "invalid_parameter"},
			{`{"rotation":[0,0,0]}`, "rotation", "invalid_parameter"},
			{`[1,2,3]`, "", "invalid_body"},
			{`null`, "", "invalid_body"},
			{`{"scale":2} {"scale":3}`, "", "invalid_body"},
			{`{"scale":2`, "", "invalid_body"},
			{`{"up_axis":"` + strings.Repeat("y", 5000) + `"}`, "", "invalid_body"},
		} {
			req, err := http.NewRequest(http.MethodPut, f.server.URL+path, bytes.NewReader([]byte(c.body)))
			require.NoError(t, err)
			req.Header.Set("x-api-key", f.a.SecretKey)
			status, body := f.do(t, req)
			require.Equal(t, http.StatusBadRequest, status, c.body)
			require.Equal(t, c.code, body["error"], c.body)
			if c.field != "" {
				require.Equal(t, c.field, body["field"], c.body)
				require.Contains(t, body["message"], c.field, c.body)
			}
		}
		require.Equal(t, store.DefaultAlignment(), stored(t, f, m), "nothing bad was stored")
	})
}
