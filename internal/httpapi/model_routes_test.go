package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/auth"
	"github.com/gamepipe/gamepipe/internal/blob"
	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/ratelimit"
	"github.com/gamepipe/gamepipe/internal/store"
)

// modelTestLimit is MaxModelBytes in these tests.
const modelTestLimit = 64 << 10

// modelPart is one part of a test upload. A part with a filename is a file.
type modelPart struct {
	name, filename string
	content        []byte
}

// unusedPublisher satisfies Deps.Publisher; the model routes never publish.
type unusedPublisher struct{}

func (unusedPublisher) Publish(context.Context, []eventstream.Message) (*eventstream.Result, error) {
	return nil, errors.New("the model tests do not publish")
}

// modelParts is a valid upload for app, level and content, fields first.
func modelParts(app, level string, content []byte) []modelPart {
	return []modelPart{
		{name: "app_name", content: []byte(app)},
		{name: "level_name", content: []byte(level)},
		{name: "model_file", filename: "level.glb", content: content},
	}
}

// multipartBody encodes parts, passing filenames through unaltered except
// for the quoting multipart.Writer does too.
func multipartBody(t *testing.T, parts []modelPart) (body []byte, contentType string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		disposition := fmt.Sprintf(`form-data; name=%q`, p.name)
		if p.filename != "" {
			escaped := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(p.filename)
			disposition += `; filename="` + escaped + `"`
			h.Set("Content-Type", "application/octet-stream")
		}
		h.Set("Content-Disposition", disposition)
		w, err := mw.CreatePart(h)
		require.NoError(t, err)
		_, err = w.Write(p.content)
		require.NoError(t, err)
	}
	require.NoError(t, mw.Close())
	return buf.Bytes(), mw.FormDataContentType()
}

// modelResponse is a decoded answer of the model routes.
type modelResponse struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    []byte
	// Close is whether the server closes the connection after the answer.
	Close bool
}

func TestModelRoutes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	type testBundle struct {
		appA, appB *store.AppCredentials
		blobDir    string
		dataDir    string
		db         *dbtest.Schema
		server     *httptest.Server
	}

	// setup builds a Server with the model routes; configure, when given,
	// adjusts its Config.
	setup := func(t *testing.T, configure ...func(*Config)) *testBundle {
		t.Helper()
		db := dbtest.NewSchema(t)
		appA, err := store.AppCreate(ctx, db.Pool, "game-a")
		require.NoError(t, err)
		appB, err := store.AppCreate(ctx, db.Pool, "game-b")
		require.NoError(t, err)

		// The blob store sits one level down, so a file escaping it would
		// show up in dataDir.
		dataDir := t.TempDir()
		blobDir := filepath.Join(dataDir, "blobs")
		blobs, err := blob.NewDirStore(blobDir)
		require.NoError(t, err)

		cfg := &Config{
			RateLimit:       ratelimit.Config{Rate: 1000, Burst: 1000},
			BodyReadTimeout: 2 * time.Second,
		}
		for _, f := range configure {
			f(cfg)
		}
		api, err := New(testConfig(t, cfg), &Deps{
			Logger:    zerolog.Nop(),
			Publisher: unusedPublisher{},
			KeyLookup: func(ctx context.Context, h auth.Hash) (*store.KeyInfo, error) {
				return store.KeyLookup(ctx, db.Pool, h)
			},
			Jobs: &JobDeps{Pool: db.Pool, Blob: blobs, MaxModelBytes: modelTestLimit},
		})
		require.NoError(t, err)
		srv := httptest.NewUnstartedServer(api)
		srv.Config = api.HTTPServer("")
		srv.Start()
		t.Cleanup(srv.Close)
		return &testBundle{appA: appA, appB: appB, blobDir: blobDir, dataDir: dataDir, db: db, server: srv}
	}

	do := func(t *testing.T, b *testBundle, req *http.Request, headers map[string]string) *modelResponse {
		t.Helper()
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := b.server.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		out := &modelResponse{Status: resp.StatusCode, Header: resp.Header, Raw: raw, Close: resp.Close}
		if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			require.NoError(t, json.Unmarshal(raw, &out.Body), "body must be JSON: %q", raw)
		}
		return out
	}
	upload := func(t *testing.T, b *testBundle, parts []modelPart, headers map[string]string) *modelResponse {
		t.Helper()
		body, ct := multipartBody(t, parts)
		req, err := http.NewRequest(http.MethodPost, b.server.URL+"/api/models", bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", ct)
		return do(t, b, req, headers)
	}
	get := func(t *testing.T, b *testBundle, path string, headers map[string]string) *modelResponse {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, b.server.URL+path, nil)
		require.NoError(t, err)
		return do(t, b, req, headers)
	}
	secretA := func(b *testBundle) map[string]string { return map[string]string{"x-api-key": b.appA.SecretKey} }
	rowCount := func(t *testing.T, b *testBundle) int {
		t.Helper()
		var n int
		require.NoError(t, b.db.Pool.QueryRow(ctx, "SELECT count(*) FROM level_models").Scan(&n))
		return n
	}
	// storedFiles lists every file under dataDir, relative to it.
	storedFiles := func(t *testing.T, b *testBundle) []string {
		t.Helper()
		var files []string
		require.NoError(t, filepath.WalkDir(b.dataDir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, err := filepath.Rel(b.dataDir, p)
			files = append(files, filepath.ToSlash(rel))
			return err
		}))
		return files
	}
	blobPath := func(content []byte) string {
		sum := sha256.Sum256(content)
		k := hex.EncodeToString(sum[:])
		return "blobs/" + k[0:2] + "/" + k[2:4] + "/" + k
	}

	t.Run("Auth", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		tests := []struct {
			name     string
			headers  map[string]string
			appName  string
			want     int
			wantCode string
		}{
			{"MissingKey", nil, "game-a", 401, "unauthorized"},
			{"OtherAppsKeyForThisApp", map[string]string{"x-api-key": b.appB.SecretKey}, "game-a", 403, "app_mismatch"},
			{"OtherAppsName", map[string]string{"x-api-key": b.appA.SecretKey}, "game-b", 403, "app_mismatch"},
			{"PublicTokenAsBearer", map[string]string{"authorization": "Bearer " + b.appA.PublicToken}, "game-a", 403, "forbidden"},
			{"PublicTokenInAPIKey", map[string]string{"x-api-key": b.appA.PublicToken}, "game-a", 403, "forbidden"},
			{"PublicTokenInPublicHeader", map[string]string{"x-public-token": b.appA.PublicToken}, "game-a", 401, "unauthorized"},
			{"SecretViaAPIKey", secretA(b), "game-a", 201, ""},
			{"SecretViaBearer", map[string]string{"authorization": "Bearer " + b.appA.SecretKey}, "game-a", 201, ""},
			{"SecretViaLowercaseBearer", map[string]string{"authorization": "bearer " + b.appA.SecretKey}, "game-a", 201, ""},
			{"WrongBearer", map[string]string{"authorization": "Bearer " + auth.NewKey(auth.KindSecret)}, "game-a", 401, "unauthorized"},
			{"WrongKey", map[string]string{"x-api-key": auth.NewKey(auth.KindSecret)}, "game-a", 401, "unauthorized"},
		}
		created := 0
		for _, tt := range tests {
			resp := upload(t, b, modelParts(tt.appName, "Level_1", testGLB), tt.headers)
			require.Equal(t, tt.want, resp.Status, "%s: %s", tt.name, resp.Raw)
			if tt.want == 201 {
				created++
				require.Equal(t, b.appA.AppID.String(), resp.Body["app_id"], tt.name)
				require.Equal(t, float64(created), resp.Body["version"], tt.name)
				continue
			}
			require.Equal(t, tt.wantCode, resp.Body["error"], tt.name)
			require.NotEmpty(t, resp.Body["message"], tt.name)
		}
		require.Equal(t, created, rowCount(t, b))

		// The read routes take the same keys.
		require.Equal(t, 401, get(t, b, "/api/models", nil).Status)
		require.Equal(t, 403, get(t, b, "/api/models", map[string]string{"x-api-key": b.appA.PublicToken}).Status)
		require.Equal(t, 200, get(t, b, "/api/models", map[string]string{"authorization": "Bearer " + b.appA.SecretKey}).Status)
	})

	t.Run("ContentTypeMustBeMultipart", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, ct := range []string{"", "application/json", "application/x-www-form-urlencoded", "multipart/form-data", "multipart/mixed; boundary=x"} {
			req, err := http.NewRequest(http.MethodPost, b.server.URL+"/api/models", strings.NewReader(`{"app_name":"game-a"}`))
			require.NoError(t, err)
			req.Header.Set("Content-Type", ct)
			resp := do(t, b, req, secretA(b))
			require.Equal(t, 415, resp.Status, ct)
			require.Equal(t, "unsupported_media_type", resp.Body["error"], ct)
		}
	})

	t.Run("DownloadAndList", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		first := upload(t, b, modelParts("game-a", "Level_1", testGLB), secretA(b))
		require.Equal(t, 201, first.Status)
		upload(t, b, modelParts("game-a", "Level_2", testOBJ), secretA(b))
		second := upload(t, b, modelParts("game-a", "Level_1", testGLTF), secretA(b))
		require.Equal(t, 201, second.Status)
		require.Equal(t, 201, upload(t, b, modelParts("game-b", "Level_1", testFBX), map[string]string{"x-api-key": b.appB.SecretKey}).Status)

		list := get(t, b, "/api/models", secretA(b))
		require.Equal(t, 200, list.Status)
		models := list.Body["models"].([]any)
		require.Len(t, models, 3, "only app A's models")
		require.Equal(t, second.Body, models[0], "newest first, same shape as the upload's answer")
		require.Equal(t, first.Body, models[2])

		list = get(t, b, "/api/models?level_name=Level_1", secretA(b))
		models = list.Body["models"].([]any)
		require.Len(t, models, 2)
		require.Equal(t, float64(2), models[0].(map[string]any)["version"])
		require.Equal(t, float64(1), models[1].(map[string]any)["version"])

		require.Len(t, get(t, b, "/api/models?limit=1", secretA(b)).Body["models"], 1)
		require.Empty(t, get(t, b, "/api/models?level_name=Nope", secretA(b)).Body["models"])
		for _, q := range []string{"limit=0", "limit=1001", "limit=x"} {
			resp := get(t, b, "/api/models?"+q, secretA(b))
			require.Equal(t, 400, resp.Status, q)
			require.Equal(t, "limit", resp.Body["field"], q)
		}
		require.Equal(t, 400, get(t, b, "/api/models?level_name=", secretA(b)).Status)

		path := "/api/models/" + first.Body["id"].(string) + "/file"
		file := get(t, b, path, secretA(b))
		require.Equal(t, 200, file.Status)
		require.Equal(t, testGLB, file.Raw)
		require.Equal(t, "model/gltf-binary", file.Header.Get("Content-Type"))
		require.Equal(t, `attachment; filename=level.glb`, file.Header.Get("Content-Disposition"))
		require.Equal(t, `"`+first.Body["sha256"].(string)+`"`, file.Header.Get("ETag"))
		require.Equal(t, "nosniff", file.Header.Get("X-Content-Type-Options"))

		part := get(t, b, path, map[string]string{"x-api-key": b.appA.SecretKey, "range": "bytes=0-3"})
		require.Equal(t, 206, part.Status)
		require.Equal(t, []byte("glTF"), part.Raw)
		unchanged := get(t, b, path, map[string]string{"x-api-key": b.appA.SecretKey, "if-none-match": file.Header.Get("ETag")})
		require.Equal(t, 304, unchanged.Status)

		gltf := get(t, b, "/api/models/"+second.Body["id"].(string)+"/file", secretA(b))
		require.Equal(t, testGLTF, gltf.Raw)
		require.Equal(t, "model/gltf+json", gltf.Header.Get("Content-Type"))

		other := get(t, b, path, map[string]string{"x-api-key": b.appB.SecretKey})
		require.Equal(t, 404, other.Status, "another app's model does not exist for it")
		require.Equal(t, "model_not_found", other.Body["error"])
		require.Equal(t, 404, get(t, b, "/api/models/not-a-uuid/file", secretA(b)).Status)
		require.Equal(t, 404, get(t, b, "/api/models/0198c0de-0000-7000-8000-000000000000/file", secretA(b)).Status)
		require.Equal(t, 401, get(t, b, path, nil).Status)
	})

	t.Run("EachFormatIsSniffedAndServed", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
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
			resp := upload(t, b, modelParts("game-a", fmt.Sprintf("Level_%d", i), tc.content), secretA(b))
			require.Equal(t, 201, resp.Status, "%s: %s", tc.format, resp.Raw)
			require.Equal(t, tc.format, resp.Body["format"])
			sum := sha256.Sum256(tc.content)
			require.Equal(t, hex.EncodeToString(sum[:]), resp.Body["sha256"])
			require.Equal(t, float64(len(tc.content)), resp.Body["size"])
			file := get(t, b, "/api/models/"+resp.Body["id"].(string)+"/file", secretA(b))
			require.Equal(t, tc.ct, file.Header.Get("Content-Type"))
			require.Equal(t, tc.content, file.Raw)
		}
	})

	t.Run("EndlessFileIsRefused", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
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

		resp := do(t, b, endless(testNotAModel), secretA(b))
		require.Equal(t, 400, resp.Status)
		require.Equal(t, "unsupported_format", resp.Body["error"])
		require.True(t, resp.Close)

		resp = do(t, b, endless(testOBJ), secretA(b))
		require.Equal(t, 413, resp.Status)
		require.Equal(t, "file_too_large", resp.Body["error"])
		require.True(t, resp.Close)

		require.Zero(t, rowCount(t, b))
		require.Empty(t, storedFiles(t, b))
	})

	t.Run("FieldsAfterTheFile", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		parts := modelParts("game-a", "Level_1", testOBJ)
		resp := upload(t, b, []modelPart{parts[2], parts[1], parts[0]}, secretA(b))
		require.Equal(t, 201, resp.Status, "%s", resp.Raw)
		require.Equal(t, "Level_1", resp.Body["level_name"])
		require.Equal(t, "obj", resp.Body["format"])
	})

	t.Run("MissingParts", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
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
			resp := upload(t, b, tt.parts, secretA(b))
			require.Equal(t, 400, resp.Status, tt.name)
			require.Equal(t, "missing_field", resp.Body["error"], tt.name)
			require.Equal(t, tt.wantField, resp.Body["field"], tt.name)
			require.Equal(t, tt.wantMessage, resp.Body["message"], tt.name)
		}
		require.Zero(t, rowCount(t, b))
	})

	t.Run("RejectedParts", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
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
			resp := upload(t, b, tt.parts, secretA(b))
			require.Equal(t, 400, resp.Status, "%s: %s", tt.name, resp.Raw)
			require.Equal(t, tt.wantCode, resp.Body["error"], tt.name)
			require.Equal(t, tt.wantField, resp.Body["field"], tt.name)
		}
		require.Zero(t, rowCount(t, b))
		require.Equal(t, []string{blobPath(testGLB)}, storedFiles(t, b),
			"only DuplicateFile stored its first file before failing; the unsupported file stored nothing")
	})

	t.Run("SizeCap", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		tooBig := append(slices.Clone(testOBJ), bytes.Repeat([]byte("v 1 2 3\n"), modelTestLimit/8)...)
		require.Greater(t, len(tooBig), modelTestLimit)

		// Known length: the file streams in and Put stops past the cap.
		resp := upload(t, b, modelParts("game-a", "Level_1", tooBig), secretA(b))
		require.Equal(t, 413, resp.Status)
		require.Equal(t, "file_too_large", resp.Body["error"])
		require.Equal(t, "model_file", resp.Body["field"])
		require.True(t, resp.Close, "the unread rest of the body is not drained")

		// Unknown length (chunked): the same, with nothing to check upfront.
		body, ct := multipartBody(t, modelParts("game-a", "Level_1", tooBig))
		req, err := http.NewRequest(http.MethodPost, b.server.URL+"/api/models", io.MultiReader(bytes.NewReader(body)))
		require.NoError(t, err)
		req.Header.Set("Content-Type", ct)
		resp = do(t, b, req, secretA(b))
		require.Equal(t, 413, resp.Status)
		require.Equal(t, "file_too_large", resp.Body["error"])
		require.True(t, resp.Close)

		// A Content-Length past the cap and its overhead is refused unread.
		huge := bytes.Repeat([]byte("v 1 2 3\n"), (modelTestLimit+modelUploadOverhead)/8+1)
		resp = upload(t, b, modelParts("game-a", "Level_1", huge), secretA(b))
		require.Equal(t, 413, resp.Status)
		require.True(t, resp.Close)

		require.Zero(t, rowCount(t, b))
		require.Empty(t, storedFiles(t, b), "nothing stored, no temporary file left")

		exact := append(slices.Clone(testOBJ), bytes.Repeat([]byte("\n"), modelTestLimit-len(testOBJ))...)
		resp = upload(t, b, modelParts("game-a", "Level_1", exact), secretA(b))
		require.Equal(t, 201, resp.Status, "a file of exactly the cap is accepted")
		require.Equal(t, float64(modelTestLimit), resp.Body["size"])
	})

	t.Run("SlowSteadyUploadOutlivesRequestTimeout", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *Config) { c.RequestTimeout, c.BodyReadTimeout = 300*time.Millisecond, 2*time.Second })
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
		resp := do(t, b, req, secretA(b))
		require.Equal(t, 201, resp.Status, "%s", resp.Raw)
	})

	t.Run("StalledUploadIsCutOff", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *Config) { c.BodyReadTimeout = 500 * time.Millisecond })
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
		resp := do(t, b, req, secretA(b))
		require.Equal(t, 408, resp.Status, "%s", resp.Raw)
		require.Equal(t, "request_timeout", resp.Body["error"])
		require.Less(t, time.Since(start), time.Minute, "cut off by the read timeout, not by the test's end")
		require.Zero(t, rowCount(t, b))
		require.Empty(t, storedFiles(t, b), "the partial file is not kept")
	})

	t.Run("TraversalFilenames", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
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
			resp := upload(t, b, []modelPart{
				{name: "app_name", content: []byte("game-a")},
				{name: "level_name", content: []byte(level)},
				{name: "model_file", filename: tc.raw, content: tc.content},
			}, secretA(b))
			require.Equal(t, 201, resp.Status, "%s: %s", tc.raw, resp.Raw)
			require.Equal(t, tc.want, resp.Body["filename"], tc.raw)

			var recorded string
			require.NoError(t, b.db.Pool.QueryRow(ctx, "SELECT original_filename FROM level_models WHERE id = $1",
				resp.Body["id"]).Scan(&recorded))
			require.Equal(t, tc.want, recorded)

			file := get(t, b, "/api/models/"+resp.Body["id"].(string)+"/file", secretA(b))
			require.Equal(t, tc.content, file.Raw)
			wantName := tc.want
			if wantName == "" {
				wantName = level + "-v1.fbx"
			}
			require.Equal(t, "attachment; filename="+wantName, file.Header.Get("Content-Disposition"))
		}

		want := []string{blobPath(testGLB), blobPath(testOBJ), blobPath(testGLTF), blobPath(testFBX)}
		slices.Sort(want)
		require.Equal(t, want, storedFiles(t, b), "only content-addressed blobs, all inside the blob directory")
		for _, p := range []string{"/etc/passwd.glb", "/tmp/evil.gltf", filepath.Join(filepath.Dir(b.dataDir), "x.obj")} {
			_, err := os.Stat(p)
			require.ErrorIs(t, err, fs.ErrNotExist, p)
		}
	})

	t.Run("Versions", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		first := upload(t, b, modelParts("game-a", "Level_1", testGLB), secretA(b))
		second := upload(t, b, modelParts("game-a", "Level_1", testGLB), secretA(b))
		other := upload(t, b, modelParts("game-a", "Level_2", testGLB), secretA(b))
		require.Equal(t, float64(1), first.Body["version"])
		require.Equal(t, float64(2), second.Body["version"], "the same level again adds a version, even for the same bytes")
		require.Equal(t, float64(1), other.Body["version"])
		require.NotEqual(t, first.Body["id"], second.Body["id"])
		require.Equal(t, first.Body["sha256"], second.Body["sha256"])
		require.Equal(t, []string{blobPath(testGLB)}, storedFiles(t, b), "identical content is stored once")
	})

	t.Run("VersionsUnderConcurrency", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		const n = 10
		start := make(chan struct{})
		var wg sync.WaitGroup
		versions := make([]int, n)
		for i := range n {
			wg.Go(func() {
				<-start
				content := append(slices.Clone(testOBJ), fmt.Sprintf("# upload %d\n", i)...)
				resp := upload(t, b, modelParts("game-a", "Level_1", content), secretA(b))
				require.Equal(t, 201, resp.Status, "%s", resp.Raw)
				versions[i] = int(resp.Body["version"].(float64))
			})
		}
		close(start)
		wg.Wait()
		slices.Sort(versions)
		require.Equal(t, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, versions)
	})

	t.Run("WrongAppNameBeforeTheFileStoresNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		resp := upload(t, b, modelParts("game-b", "Level_1", testGLB), secretA(b))
		require.Equal(t, 403, resp.Status)
		require.Equal(t, "app_mismatch", resp.Body["error"])
		require.Equal(t, "app_name", resp.Body["field"])
		require.Empty(t, storedFiles(t, b))

		// After the file, the blob is already stored (an orphan, see
		// handleModelUpload) but no row is written.
		parts := modelParts("game-b", "Level_1", testGLB)
		resp = upload(t, b, []modelPart{parts[2], parts[1], parts[0]}, secretA(b))
		require.Equal(t, 403, resp.Status)
		require.Zero(t, rowCount(t, b))
	})
}
