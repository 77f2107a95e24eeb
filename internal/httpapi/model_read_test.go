package httpapi

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// seedModels uploads two versions of game-a's Level_1 (first a .glb, then
// a .gltf), one of its Level_2, and one of game-b's Level_1.
func (b *modelFixture) seedModels(t *testing.T) (first, second *modelResponse) {
	t.Helper()
	first = b.upload(t, modelParts("game-a", "Level_1", testGLB), b.secretA())
	require.Equal(t, 201, first.Status)
	b.upload(t, modelParts("game-a", "Level_2", testOBJ), b.secretA())
	second = b.upload(t, modelParts("game-a", "Level_1", testGLTF), b.secretA())
	require.Equal(t, 201, second.Status)
	require.Equal(t, 201, b.upload(t, modelParts("game-b", "Level_1", testFBX), map[string]string{"x-api-key": b.appB.SecretKey}).Status)
	return first, second
}

// Listing answers the app's own models, newest first, filtered and limited.
func TestModelRoutes_List(t *testing.T) {
	t.Parallel()
	b := newModelFixture(t)
	first, second := b.seedModels(t)

	list := b.get(t, "/api/models", b.secretA())
	require.Equal(t, 200, list.Status)
	models := list.Body["models"].([]any)
	require.Len(t, models, 3, "only app A's models")
	require.Equal(t, second.Body, models[0], "newest first, same shape as the upload's answer")
	require.Equal(t, first.Body, models[2])

	list = b.get(t, "/api/models?level_name=Level_1", b.secretA())
	models = list.Body["models"].([]any)
	require.Len(t, models, 2)
	require.Equal(t, float64(2), models[0].(map[string]any)["version"])
	require.Equal(t, float64(1), models[1].(map[string]any)["version"])

	require.Len(t, b.get(t, "/api/models?limit=1", b.secretA()).Body["models"], 1)
	require.Empty(t, b.get(t, "/api/models?level_name=Nope", b.secretA()).Body["models"])
	for _, q := range []string{"limit=0", "limit=1001", "limit=x"} {
		resp := b.get(t, "/api/models?"+q, b.secretA())
		require.Equal(t, 400, resp.Status, q)
		require.Equal(t, "limit", resp.Body["field"], q)
	}
	require.Equal(t, 400, b.get(t, "/api/models?level_name=", b.secretA()).Status)
}

// A model's file is served with its type, ETag and ranges, to its app only.
func TestModelRoutes_Download(t *testing.T) {
	t.Parallel()
	b := newModelFixture(t)
	first, second := b.seedModels(t)

	path := "/api/models/" + first.Body["id"].(string) + "/file"
	file := b.get(t, path, b.secretA())
	require.Equal(t, 200, file.Status)
	require.Equal(t, testGLB, file.Raw)
	require.Equal(t, "model/gltf-binary", file.Header.Get("Content-Type"))
	require.Equal(t, `attachment; filename=level.glb`, file.Header.Get("Content-Disposition"))
	require.Equal(t, `"`+first.Body["sha256"].(string)+`"`, file.Header.Get("ETag"))
	require.Equal(t, "nosniff", file.Header.Get("X-Content-Type-Options"))

	part := b.get(t, path, map[string]string{"x-api-key": b.appA.SecretKey, "range": "bytes=0-3"})
	require.Equal(t, 206, part.Status)
	require.Equal(t, []byte("glTF"), part.Raw)
	unchanged := b.get(t, path, map[string]string{"x-api-key": b.appA.SecretKey, "if-none-match": file.Header.Get("ETag")})
	require.Equal(t, 304, unchanged.Status)

	gltf := b.get(t, "/api/models/"+second.Body["id"].(string)+"/file", b.secretA())
	require.Equal(t, testGLTF, gltf.Raw)
	require.Equal(t, "model/gltf+json", gltf.Header.Get("Content-Type"))

	other := b.get(t, path, map[string]string{"x-api-key": b.appB.SecretKey})
	require.Equal(t, 404, other.Status, "another app's model does not exist for it")
	require.Equal(t, "model_not_found", other.Body["error"])
	require.Equal(t, 404, b.get(t, "/api/models/not-a-uuid/file", b.secretA()).Status)
	require.Equal(t, 404, b.get(t, "/api/models/0198c0de-0000-7000-8000-000000000000/file", b.secretA()).Status)
	require.Equal(t, 401, b.get(t, path, nil).Status)
}
