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
	"path/filepath"
	"strings"
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

// modelFixture is a Server with the model routes on real Postgres and a
// blob directory, and two apps: game-a and game-b.
type modelFixture struct {
	appA, appB *store.AppCredentials
	blobDir    string
	dataDir    string
	db         *dbtest.Schema
	server     *httptest.Server
}

// newModelFixture builds a Server with the model routes; configure, when
// given, adjusts its Config.
func newModelFixture(t *testing.T, configure ...func(*Config)) *modelFixture {
	t.Helper()
	ctx := context.Background()
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
	return &modelFixture{appA: appA, appB: appB, blobDir: blobDir, dataDir: dataDir, db: db, server: srv}
}

// do sends req with headers and decodes the answer.
func (b *modelFixture) do(t *testing.T, req *http.Request, headers map[string]string) *modelResponse {
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

// upload posts parts to /api/models.
func (b *modelFixture) upload(t *testing.T, parts []modelPart, headers map[string]string) *modelResponse {
	t.Helper()
	body, ct := multipartBody(t, parts)
	req, err := http.NewRequest(http.MethodPost, b.server.URL+"/api/models", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", ct)
	return b.do(t, req, headers)
}

// get sends GET path.
func (b *modelFixture) get(t *testing.T, path string, headers map[string]string) *modelResponse {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.server.URL+path, nil)
	require.NoError(t, err)
	return b.do(t, req, headers)
}

// secretA is the headers that authenticate as game-a.
func (b *modelFixture) secretA() map[string]string {
	return map[string]string{"x-api-key": b.appA.SecretKey}
}

// rowCount counts the level_models rows of every app.
func (b *modelFixture) rowCount(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM level_models").Scan(&n))
	return n
}

// storedFiles lists every file under dataDir, relative to it.
func (b *modelFixture) storedFiles(t *testing.T) []string {
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

// blobPath is where the blob store keeps content, relative to dataDir.
func blobPath(content []byte) string {
	sum := sha256.Sum256(content)
	k := hex.EncodeToString(sum[:])
	return "blobs/" + k[0:2] + "/" + k[2:4] + "/" + k
}
