package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// What an accepted upload stores and answers.
func TestModelRoutes_Upload(t *testing.T) {
	t.Parallel()

	t.Run("EachFormatIsSniffedAndServed", func(t *testing.T) {
		t.Parallel()
		b := newModelFixture(t)
		for i, tc := range []struct {
			content    []byte
			format, ct string
		}{
			{testGLB, "glb", "model/gltf-binary"},
			{testGLTF, "gltf", "model/gltf+json"},
			{testOBJ, "obj", "model/obj"},
			{testFBX, "fbx", "application/octet-stream"},
			{testFBXASCII, "fbx", "application/octet-stream"},
		} {
			// The filename's extension is ignored: every file is sent as .glb.
			resp := b.upload(t, modelParts("game-a", fmt.Sprintf("Level_%d", i), tc.content), b.secretA())
			require.Equal(t, 201, resp.Status, "%s: %s", tc.format, resp.Raw)
			require.Equal(t, tc.format, resp.Body["format"])
			sum := sha256.Sum256(tc.content)
			require.Equal(t, hex.EncodeToString(sum[:]), resp.Body["sha256"])
			require.Equal(t, float64(len(tc.content)), resp.Body["size"])
			file := b.get(t, "/api/models/"+resp.Body["id"].(string)+"/file", b.secretA())
			require.Equal(t, tc.ct, file.Header.Get("Content-Type"))
			require.Equal(t, tc.content, file.Raw)
		}
	})

	t.Run("FieldsAfterTheFile", func(t *testing.T) {
		t.Parallel()
		b := newModelFixture(t)
		parts := modelParts("game-a", "Level_1", testOBJ)
		resp := b.upload(t, []modelPart{parts[2], parts[1], parts[0]}, b.secretA())
		require.Equal(t, 201, resp.Status, "%s", resp.Raw)
		require.Equal(t, "Level_1", resp.Body["level_name"])
		require.Equal(t, "obj", resp.Body["format"])
	})

	t.Run("TraversalFilenames", func(t *testing.T) {
		t.Parallel()
		b := newModelFixture(t)
		for i, tc := range []struct {
			raw, want string
			content   []byte
		}{
			{"../../etc/passwd.glb", "passwd.glb", testGLB},
			{`..\..\x.obj`, "x.obj", testOBJ},
			{"/abs/../../../../tmp/evil.gltf", "evil.gltf", testGLTF},
			{"..", "", testFBX},
		} {
			level := fmt.Sprintf("Level_%d", i)
			resp := b.upload(t, []modelPart{
				{name: "app_name", content: []byte("game-a")},
				{name: "level_name", content: []byte(level)},
				{name: "model_file", filename: tc.raw, content: tc.content},
			}, b.secretA())
			require.Equal(t, 201, resp.Status, "%s: %s", tc.raw, resp.Raw)
			require.Equal(t, tc.want, resp.Body["filename"], tc.raw)

			var recorded string
			require.NoError(t, b.db.Pool.QueryRow(context.Background(), "SELECT original_filename FROM level_models WHERE id = $1",
				resp.Body["id"]).Scan(&recorded))
			require.Equal(t, tc.want, recorded)

			file := b.get(t, "/api/models/"+resp.Body["id"].(string)+"/file", b.secretA())
			require.Equal(t, tc.content, file.Raw)
			wantName := tc.want
			if wantName == "" {
				wantName = level + "-v1.fbx"
			}
			require.Equal(t, "attachment; filename="+wantName, file.Header.Get("Content-Disposition"))
		}

		want := []string{blobPath(testGLB), blobPath(testOBJ), blobPath(testGLTF), blobPath(testFBX)}
		slices.Sort(want)
		require.Equal(t, want, b.storedFiles(t), "only content-addressed blobs, all inside the blob directory")
		for _, p := range []string{"/etc/passwd.glb", "/tmp/evil.gltf", filepath.Join(filepath.Dir(b.dataDir), "x.obj")} {
			_, err := os.Stat(p)
			require.ErrorIs(t, err, fs.ErrNotExist, p)
		}
	})
}

// Each upload of a level adds a version, numbered without gaps.
func TestModelRoutes_Versions(t *testing.T) {
	t.Parallel()

	t.Run("SameLevelAgain", func(t *testing.T) {
		t.Parallel()
		b := newModelFixture(t)
		first := b.upload(t, modelParts("game-a", "Level_1", testGLB), b.secretA())
		second := b.upload(t, modelParts("game-a", "Level_1", testGLB), b.secretA())
		other := b.upload(t, modelParts("game-a", "Level_2", testGLB), b.secretA())
		require.Equal(t, float64(1), first.Body["version"])
		require.Equal(t, float64(2), second.Body["version"], "the same level again adds a version, even for the same bytes")
		require.Equal(t, float64(1), other.Body["version"])
		require.NotEqual(t, first.Body["id"], second.Body["id"])
		require.Equal(t, first.Body["sha256"], second.Body["sha256"])
		require.Equal(t, []string{blobPath(testGLB)}, b.storedFiles(t), "identical content is stored once")
	})

	t.Run("UnderConcurrency", func(t *testing.T) {
		t.Parallel()
		b := newModelFixture(t)
		const n = 10
		start := make(chan struct{})
		var wg sync.WaitGroup
		versions := make([]int, n)
		for i := range n {
			wg.Go(func() {
				<-start
				content := append(slices.Clone(testOBJ), fmt.Sprintf("# upload %d\n", i)...)
				resp := b.upload(t, modelParts("game-a", "Level_1", content), b.secretA())
				require.Equal(t, 201, resp.Status, "%s", resp.Raw)
				versions[i] = int(resp.Body["version"].(float64))
			})
		}
		close(start)
		wg.Wait()
		slices.Sort(versions)
		require.Equal(t, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, versions)
	})
}
