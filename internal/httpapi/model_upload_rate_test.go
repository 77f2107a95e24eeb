package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/auth"
	"github.com/gamepipe/gamepipe/internal/blob"
	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/ratelimit"
	"github.com/gamepipe/gamepipe/internal/store"
)

func TestModelUploadMinRate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	type bundle struct {
		app     *store.AppCredentials
		db      *dbtest.Schema
		dataDir string
		server  *httptest.Server
	}
	// setup serves the model routes with the default size cap (200 MiB),
	// whose transfer window is long: only the rate floor can cut a
	// trickling client off quickly.
	setup := func(t *testing.T, minRate int64, grace time.Duration) *bundle {
		t.Helper()
		db := dbtest.NewSchema(t)
		app, err := store.AppCreate(ctx, db.Pool, "game-a")
		require.NoError(t, err)
		dataDir := t.TempDir()
		blobs, err := blob.NewDirStore(filepath.Join(dataDir, "blobs"))
		require.NoError(t, err)
		api, err := New(testConfig(t, &Config{
			RateLimit:       ratelimit.Config{Rate: 1000, Burst: 1000},
			BodyReadTimeout: 5 * time.Second,
			UploadMinRate:   minRate,
			UploadRateGrace: grace,
		}), &Deps{
			Logger:    zerolog.Nop(),
			Publisher: unusedPublisher{},
			KeyLookup: func(ctx context.Context, h auth.Hash) (*store.KeyInfo, error) {
				return store.KeyLookup(ctx, db.Pool, h)
			},
			Jobs: &JobDeps{Pool: db.Pool, Blob: blobs},
		})
		require.NoError(t, err)
		srv := httptest.NewUnstartedServer(api)
		srv.Config = api.HTTPServer("")
		srv.Start()
		t.Cleanup(srv.Close)
		return &bundle{app: app, db: db, dataDir: dataDir, server: srv}
	}
	// model is an OBJ of about size bytes.
	model := func(size int) []byte {
		return append(slices.Clone(testOBJ), bytes.Repeat([]byte("# padding\n"), size/10)...)
	}

	t.Run("TricklingUploadIsCutOff", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 64<<10, time.Second)
		body, ct := multipartBody(t, modelParts("game-a", "Level_1", model(64<<10)))
		conn, err := net.Dial("tcp", b.server.Listener.Addr().String())
		require.NoError(t, err)
		defer conn.Close()
		_, err = fmt.Fprintf(conn, "POST /api/models HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nx-api-key: %s\r\nContent-Length: %d\r\n\r\n",
			ct, b.app.SecretKey, len(body))
		require.NoError(t, err)
		_, err = conn.Write(body[:1<<10])
		require.NoError(t, err)

		// Then ten bytes a second: never idle for BodyReadTimeout, far
		// below the floor.
		done := make(chan struct{})
		defer close(done)
		go func() {
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for _, c := range body[1<<10:] {
				select {
				case <-done:
					return
				case <-tick.C:
				}
				if _, err := conn.Write([]byte{c}); err != nil {
					return
				}
			}
		}()

		// Without the floor the server would wait out the transfer window
		// of 200 MiB (over 13 minutes); the client gives up well before.
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(2*time.Minute)))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		require.NoError(t, err, "the server must cut off an upload trickled below UploadMinRate")
		defer resp.Body.Close()
		require.Equal(t, http.StatusRequestTimeout, resp.StatusCode)
		var e map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
		require.Equal(t, "request_timeout", e["error"])
		require.True(t, resp.Close)

		var rows int
		require.NoError(t, b.db.Pool.QueryRow(ctx, "SELECT count(*) FROM level_models").Scan(&rows))
		require.Zero(t, rows)
		require.Eventually(t, func() bool {
			var files int
			_ = filepath.WalkDir(b.dataDir, func(_ string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					files++
				}
				return nil
			})
			return files == 0
		}, 20*time.Second, 20*time.Millisecond, "the partial file is not kept")
	})

	t.Run("SteadyUploadAboveTheFloor", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 4<<10, 500*time.Millisecond)
		body, ct := multipartBody(t, modelParts("game-a", "Level_1", model(96<<10)))
		pr, pw := io.Pipe()
		go func() {
			// About 64 KiB/s for a second and a half, well past the grace,
			// far above the floor.
			for chunk := range slices.Chunk(body, 4<<10) {
				time.Sleep(60 * time.Millisecond)
				if _, err := pw.Write(chunk); err != nil {
					return
				}
			}
			_ = pw.Close()
		}()
		req, err := http.NewRequest(http.MethodPost, b.server.URL+"/api/models", pr)
		require.NoError(t, err)
		req.Header.Set("Content-Type", ct)
		req.Header.Set("x-api-key", b.app.SecretKey)
		resp, err := b.server.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, resp.StatusCode, "%s", raw)
	})
}
