package httpapi

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Malformed uploads are refused with the code (and field) that names the
// problem, and write no row.
func TestModelRoutes_Validation(t *testing.T) {
	t.Parallel()

	t.Run("ContentTypeMustBeMultipart", func(t *testing.T) {
		t.Parallel()
		b := newModelFixture(t)
		for _, ct := range []string{"", "application/json", "application/x-www-form-urlencoded", "multipart/form-data", "multipart/mixed; boundary=x"} {
			req, err := http.NewRequest(http.MethodPost, b.server.URL+"/api/models", strings.NewReader(`{"app_name":"game-a"}`))
			require.NoError(t, err)
			req.Header.Set("Content-Type", ct)
			resp := b.do(t, req, b.secretA())
			require.Equal(t, 415, resp.Status, ct)
			require.Equal(t, "unsupported_media_type", resp.Body["error"], ct)
		}
	})

	t.Run("MissingParts", func(t *testing.T) {
		t.Parallel()
		b := newModelFixture(t)
		full := modelParts("game-a", "Level_1", testGLB)
		tests := []struct {
			name        string
			parts       []modelPart
			wantField   string
			wantMessage string
		}{
			{"AppName", []modelPart{full[1], full[2]}, "app_name", "missing app_name"},
			{"Everything", []modelPart{{name: "unrelated", content: []byte("x")}}, "app_name", "missing app_name, level_name, model_file"},
			{"LevelName", []modelPart{full[0], full[2]}, "level_name", "missing level_name"},
			{"LevelNameBlank", []modelPart{full[0], {name: "level_name", content: []byte("  ")}, full[2]}, "level_name", "missing level_name"},
			{"ModelFile", []modelPart{full[0], full[1]}, "model_file", "missing model_file"},
			{"NoParts", nil, "app_name", "missing app_name, level_name, model_file"},
		}
		for _, tt := range tests {
			resp := b.upload(t, tt.parts, b.secretA())
			require.Equal(t, 400, resp.Status, tt.name)
			require.Equal(t, "missing_field", resp.Body["error"], tt.name)
			require.Equal(t, tt.wantField, resp.Body["field"], tt.name)
			require.Equal(t, tt.wantMessage, resp.Body["message"], tt.name)
		}
		require.Zero(t, b.rowCount(t))
	})

	t.Run("RejectedParts", func(t *testing.T) {
		t.Parallel()
		b := newModelFixture(t)
		full := modelParts("game-a", "Level_1", testGLB)
		tests := []struct {
			name      string
			parts     []modelPart
			wantCode  string
			wantField string
		}{
			{"DuplicateFile", []modelPart{full[0], full[1], full[2], full[2]}, "duplicate_field", "model_file"},
			{"DuplicateLevel", []modelPart{full[0], full[1], full[1], full[2]}, "duplicate_field", "level_name"},
			{"EmptyFile", []modelPart{full[0], full[1], {name: "model_file", filename: "x.glb"}}, "empty_file", "model_file"},
			{"LevelNameControlChars", []modelPart{full[0], {name: "level_name", content: []byte("Level\x001")}, full[2]}, "invalid_field", "level_name"},
			{"LevelNameTooLong", []modelPart{full[0], {name: "level_name", content: bytes.Repeat([]byte("é"), 201)}, full[2]}, "invalid_field", "level_name"},
			{"OversizedField", []modelPart{{name: "app_name", content: bytes.Repeat([]byte("a"), 2000)}, full[1], full[2]}, "invalid_field", "app_name"},
			{"UnsupportedFormat", []modelPart{full[0], full[1], {name: "model_file", filename: "x.glb", content: testNotAModel}}, "unsupported_format", "model_file"},
		}
		for _, tt := range tests {
			resp := b.upload(t, tt.parts, b.secretA())
			require.Equal(t, 400, resp.Status, "%s: %s", tt.name, resp.Raw)
			require.Equal(t, tt.wantCode, resp.Body["error"], tt.name)
			require.Equal(t, tt.wantField, resp.Body["field"], tt.name)
		}
		require.Zero(t, b.rowCount(t))
		require.Equal(t, []string{blobPath(testGLB)}, b.storedFiles(t),
			"only DuplicateFile stored its first file before failing; the unsupported file stored nothing")
	})
}

// Files past MaxModelBytes, or endless ones, are refused however they
// arrive and leave nothing stored; a file of exactly the cap is accepted.
func TestModelRoutes_Size(t *testing.T) {
	t.Parallel()

	t.Run("SizeCap", func(t *testing.T) {
		t.Parallel()
		b := newModelFixture(t)
		tooBig := append(slices.Clone(testOBJ), bytes.Repeat([]byte("v 1 2 3\n"), modelTestLimit/8)...)
		require.Greater(t, len(tooBig), modelTestLimit)

		// Known length: the file streams in and Put stops past the cap.
		resp := b.upload(t, modelParts("game-a", "Level_1", tooBig), b.secretA())
		require.Equal(t, 413, resp.Status)
		require.Equal(t, "file_too_large", resp.Body["error"])
		require.Equal(t, "model_file", resp.Body["field"])
		require.True(t, resp.Close, "the unread rest of the body is not drained")

		// Unknown length (chunked): the same, with nothing to check upfront.
		body, ct := multipartBody(t, modelParts("game-a", "Level_1", tooBig))
		req, err := http.NewRequest(http.MethodPost, b.server.URL+"/api/models", io.MultiReader(bytes.NewReader(body)))
		require.NoError(t, err)
		req.Header.Set("Content-Type", ct)
		resp = b.do(t, req, b.secretA())
		require.Equal(t, 413, resp.Status)
		require.Equal(t, "file_too_large", resp.Body["error"])
		require.True(t, resp.Close)

		// A Content-Length past the cap and its overhead is refused unread.
		huge := bytes.Repeat([]byte("v 1 2 3\n"), (modelTestLimit+modelUploadOverhead)/8+1)
		resp = b.upload(t, modelParts("game-a", "Level_1", huge), b.secretA())
		require.Equal(t, 413, resp.Status)
		require.True(t, resp.Close)

		require.Zero(t, b.rowCount(t))
		require.Empty(t, b.storedFiles(t), "nothing stored, no temporary file left")

		exact := append(slices.Clone(testOBJ), bytes.Repeat([]byte("\n"), modelTestLimit-len(testOBJ))...)
		resp = b.upload(t, modelParts("game-a", "Level_1", exact), b.secretA())
		require.Equal(t, 201, resp.Status, "a file of exactly the cap is accepted")
		require.Equal(t, float64(modelTestLimit), resp.Body["size"])
	})

	t.Run("EndlessFileIsRefused", func(t *testing.T) {
		t.Parallel()
		b := newModelFixture(t)
		// An endless file part is answered from its first bytes (format) or
		// at the cap, with the file's own error rather than the body limit's.
		endless := func(head []byte) *http.Request {
			t.Helper()
			var prefix bytes.Buffer
			mw := multipart.NewWriter(&prefix)
			require.NoError(t, mw.WriteField("app_name", "game-a"))
			require.NoError(t, mw.WriteField("level_name", "Level_1"))
			_, err := mw.CreateFormFile("model_file", "endless.glb")
			require.NoError(t, err)
			pr, pw := io.Pipe()
			t.Cleanup(func() { _ = pw.Close() })
			go func() {
				if _, err := pw.Write(append(prefix.Bytes(), head...)); err != nil {
					return
				}
				junk := bytes.Repeat([]byte("v 1 2 3\n"), 4096)
				for {
					if _, err := pw.Write(junk); err != nil {
						return
					}
				}
			}()
			req, err := http.NewRequest(http.MethodPost, b.server.URL+"/api/models", pr)
			require.NoError(t, err)
			req.Header.Set("Content-Type", mw.FormDataContentType())
			return req
		}

		resp := b.do(t, endless(testNotAModel), b.secretA())
		require.Equal(t, 400, resp.Status)
		require.Equal(t, "unsupported_format", resp.Body["error"])
		require.True(t, resp.Close)

		resp = b.do(t, endless(testOBJ), b.secretA())
		require.Equal(t, 413, resp.Status)
		require.Equal(t, "file_too_large", resp.Body["error"])
		require.True(t, resp.Close)

		require.Zero(t, b.rowCount(t))
		require.Empty(t, b.storedFiles(t))
	})
}

// A slow upload that keeps sending completes; a stalled one is cut off.
func TestModelRoutes_Timeouts(t *testing.T) {
	t.Parallel()

	t.Run("SlowSteadyUploadOutlivesRequestTimeout", func(t *testing.T) {
		t.Parallel()
		b := newModelFixture(t, func(c *Config) { c.RequestTimeout, c.BodyReadTimeout = 300*time.Millisecond, 2*time.Second })
		body, ct := multipartBody(t, modelParts("game-a", "Level_1", testOBJ))
		pr, pw := io.Pipe()
		go func() {
			// About a second in all, over three times RequestTimeout, with
			// no pause near BodyReadTimeout.
			for chunk := range slices.Chunk(body, len(body)/10+1) {
				time.Sleep(100 * time.Millisecond)
				if _, err := pw.Write(chunk); err != nil {
					return
				}
			}
			_ = pw.Close()
		}()
		req, err := http.NewRequest(http.MethodPost, b.server.URL+"/api/models", pr)
		require.NoError(t, err)
		req.Header.Set("Content-Type", ct)
		resp := b.do(t, req, b.secretA())
		require.Equal(t, 201, resp.Status, "%s", resp.Raw)
	})

	t.Run("StalledUploadIsCutOff", func(t *testing.T) {
		t.Parallel()
		b := newModelFixture(t, func(c *Config) { c.BodyReadTimeout = 500 * time.Millisecond })
		body, ct := multipartBody(t, modelParts("game-a", "Level_1", testOBJ))
		pr, pw := io.Pipe()
		defer pw.Close()
		go func() {
			// Half the body, then silence.
			_, _ = pw.Write(body[:len(body)-len(testOBJ)/2])
		}()
		req, err := http.NewRequest(http.MethodPost, b.server.URL+"/api/models", pr)
		require.NoError(t, err)
		req.Header.Set("Content-Type", ct)
		start := time.Now()
		resp := b.do(t, req, b.secretA())
		require.Equal(t, 408, resp.Status, "%s", resp.Raw)
		require.Equal(t, "request_timeout", resp.Body["error"])
		require.Less(t, time.Since(start), time.Minute, "cut off by the read timeout, not by the test's end")
		require.Zero(t, b.rowCount(t))
		require.Empty(t, b.storedFiles(t), "the partial file is not kept")
	})
}
