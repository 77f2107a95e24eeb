package httpapi

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/auth"
	"github.com/gamepipe/gamepipe/internal/blob"
	"github.com/gamepipe/gamepipe/internal/blob/blobtest"
	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/ratelimit"
	"github.com/gamepipe/gamepipe/internal/store"
)

// TestUploadStorageFull stores uploads on a 2 MiB tmpfs: a model or video
// that finds no room answers 507 insufficient_storage, naming no path, and
// loses nothing accepted before.
func TestUploadStorageFull(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const fsSize = 2 << 20

	type testBundle struct {
		app     *store.AppCredentials
		blobDir string
		db      *dbtest.Schema
		server  *httptest.Server
	}
	setup := func(t *testing.T, minFree int64) *testBundle {
		t.Helper()
		blobDir := filepath.Join(blobtest.MountTmpfs(t, fsSize), "blobs")
		blobs, err := blob.NewDirStoreWithConfig(blobDir, &blob.DirStoreConfig{MinFreeBytes: minFree})
		require.NoError(t, err)
		db := dbtest.NewSchema(t)
		app, err := store.AppCreate(ctx, db.Pool, "game-a")
		require.NoError(t, err)
		rc, err := river.NewClient(riverpgxv5.New(db.Pool), &river.Config{Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		api, err := New(testConfig(t, &Config{RateLimit: ratelimit.Config{Rate: 1000, Burst: 1000}, BodyReadTimeout: 10 * time.Second}), &Deps{
			Logger:    zerolog.Nop(),
			Publisher: unusedPublisher{},
			KeyLookup: func(ctx context.Context, h auth.Hash) (*store.KeyInfo, error) {
				return store.KeyLookup(ctx, db.Pool, h)
			},
			Jobs: &JobDeps{Pool: db.Pool, River: rc, Blob: blobs, MaxVideoBytes: 8 << 20, MaxModelBytes: 8 << 20},
		})
		require.NoError(t, err)
		srv := httptest.NewUnstartedServer(api)
		srv.Config = api.HTTPServer("")
		srv.Start()
		t.Cleanup(srv.Close)
		b := &testBundle{app: app, blobDir: blobDir, db: db, server: srv}
		t.Cleanup(func() {
			entries, err := os.ReadDir(filepath.Join(blobDir, "tmp"))
			require.NoError(t, err)
			require.Empty(t, entries, "no temporary file is left behind")
		})
		return b
	}
	send := func(t *testing.T, b *testBundle, method, path string, body []byte, contentType string) *modelResponse {
		t.Helper()
		req, err := http.NewRequest(method, b.server.URL+path, bytes.NewReader(body))
		require.NoError(t, err)
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		req.Header.Set("x-api-key", b.app.SecretKey)
		resp, err := b.server.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return &modelResponse{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	}
	uploadModel := func(t *testing.T, b *testBundle, content []byte) *modelResponse {
		t.Helper()
		body, ct := multipartBody(t, modelParts("game-a", "Level_1", content))
		return send(t, b, http.MethodPost, "/api/models", body, ct)
	}
	uploadEmote := func(t *testing.T, b *testBundle, video []byte) *modelResponse {
		t.Helper()
		body, ct := emoteForm(t, validEmoteFields(), video)
		raw, err := io.ReadAll(body)
		require.NoError(t, err)
		return send(t, b, http.MethodPost, "/v1/emotes", raw, ct)
	}
	// model is an OBJ file of about size bytes.
	model := func(size int) []byte {
		return append(slices.Clone(testOBJ), bytes.Repeat([]byte("v 1 2 3\n"), size/8)...)
	}
	video := func(size int) []byte {
		return append(slices.Clone(emoteTestVideo), make([]byte, size)...)
	}
	requireInsufficientStorage := func(t *testing.T, b *testBundle, resp *modelResponse) {
		t.Helper()
		require.Equal(t, http.StatusInsufficientStorage, resp.Status, "%s", resp.Raw)
		require.Contains(t, string(resp.Raw), `"error":"insufficient_storage"`)
		require.NotEmpty(t, resp.Header.Get("Retry-After"))
		for _, leak := range []string{b.blobDir, "/tmp", "blobs", "no space"} {
			require.NotContains(t, string(resp.Raw), leak, "the answer names no path or system error")
		}
	}
	// acceptModel uploads a small model and returns a check that it is
	// still there, whole.
	acceptModel := func(t *testing.T, b *testBundle) func() {
		t.Helper()
		content := model(64 << 10)
		resp := uploadModel(t, b, content)
		require.Equal(t, http.StatusCreated, resp.Status, "%s", resp.Raw)
		return func() {
			var id string
			require.NoError(t, b.db.Pool.QueryRow(ctx, "SELECT id::text FROM level_models").Scan(&id))
			got := send(t, b, http.MethodGet, "/api/models/"+id+"/file", nil, "")
			require.Equal(t, http.StatusOK, got.Status)
			require.Equal(t, content, got.Raw)
		}
	}
	countRows := func(t *testing.T, b *testBundle, table string) int {
		t.Helper()
		var n int
		require.NoError(t, b.db.Pool.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n))
		return n
	}

	t.Run("BelowReserveRefusedBeforeWriting", func(t *testing.T) {
		t.Parallel()
		b := setup(t, fsSize) // a reserve the filesystem can never leave
		requireInsufficientStorage(t, b, uploadModel(t, b, model(1<<10)))
		requireInsufficientStorage(t, b, uploadEmote(t, b, video(1<<10)))
		var files []string
		require.NoError(t, filepath.WalkDir(b.blobDir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				files = append(files, p)
			}
			return err
		}))
		require.Empty(t, files, "nothing is written below the reserve")
		require.Zero(t, countRows(t, b, "level_models"))
		require.Zero(t, countRows(t, b, "emotes"))
	})

	t.Run("ContentCrossingReserve", func(t *testing.T) {
		t.Parallel()
		const reserve = 1 << 20
		b := setup(t, reserve)
		stillThere := acceptModel(t, b)
		requireInsufficientStorage(t, b, uploadModel(t, b, model(3<<19)))
		requireInsufficientStorage(t, b, uploadEmote(t, b, video(3<<19)))
		var st syscall.Statfs_t
		require.NoError(t, syscall.Statfs(b.blobDir, &st))
		require.GreaterOrEqual(t, int64(st.Bavail)*st.Bsize, int64(reserve), "the reserve is kept")
		stillThere()
		require.Equal(t, 1, countRows(t, b, "level_models"))
		require.Zero(t, countRows(t, b, "emotes"))
	})

	t.Run("LargerThanFreeSpace", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 0)
		stillThere := acceptModel(t, b)
		requireInsufficientStorage(t, b, uploadModel(t, b, model(3<<20)))
		requireInsufficientStorage(t, b, uploadEmote(t, b, video(3<<20)))
		stillThere()
		require.Equal(t, 1, countRows(t, b, "level_models"))
		require.Zero(t, countRows(t, b, "emotes"))

		// A video that fits is still accepted.
		resp := uploadEmote(t, b, video(4<<10))
		require.Equal(t, http.StatusAccepted, resp.Status, "%s", resp.Raw)
	})
}
