package httpapi

import (
	"cmp"
	"context"
	"errors"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/gamepipe/gamepipe/internal/blob"
	"github.com/gamepipe/gamepipe/internal/store"
)

// defaultMaxModelBytes caps a model upload when JobDeps.MaxModelBytes is 0.
const defaultMaxModelBytes = 200 << 20

// modelInsertTimeout bounds writing a model's row after its upload.
const modelInsertTimeout = 10 * time.Second

// modelJSON is a level model as the API returns it.
type modelJSON struct {
	ID        uuid.UUID `json:"id"`
	AppID     uuid.UUID `json:"app_id"`
	LevelName string    `json:"level_name"`
	Version   int       `json:"version"`
	Size      int64     `json:"size"`
	SHA256    string    `json:"sha256"`
	Format    string    `json:"format"`
	Filename  string    `json:"filename"`
	CreatedAt time.Time `json:"created_at"`
	// Alignment places the level's telemetry in the model's space.
	Alignment store.ModelAlignment `json:"alignment"`
}

func newModelJSON(m *store.LevelModel) *modelJSON {
	return &modelJSON{ID: m.ID, AppID: m.AppID, LevelName: m.LevelName, Version: m.Version, Size: m.SizeBytes,
		SHA256: m.BlobKey, Format: m.Format, Filename: m.OriginalFilename, CreatedAt: m.CreatedAt.UTC(),
		Alignment: m.Alignment()}
}

var (
	errModelNotFound      = newError(http.StatusNotFound, "model_not_found", "no such model for this application")
	errModelsUnconfigured = &APIError{Status: http.StatusServiceUnavailable, Code: "models_unavailable",
		Message: "model storage is not configured on this server", RetryAfter: 60}
)

// modelRoutes registers the level model API: POST /api/models (upload),
// GET /api/models (list), GET /api/models/{id}/file (download) and
// PUT /api/models/{id}/alignment, all authenticated with the app's secret
// key and rate limited.
func (s *Server) modelRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/models", s.rateLimited(s.handleModelUpload))
	mux.HandleFunc("GET /api/models", s.rateLimited(s.handleModelList))
	mux.HandleFunc("GET /api/models/{id}/file", s.rateLimited(s.handleModelFile))
	mux.HandleFunc("PUT /api/models/{id}/alignment", s.rateLimited(s.handleModelAlignment))
}

// handleModelUpload is POST /api/models: a multipart/form-data body with
// app_name, level_name and model_file, in any order. See modelUpload for how
// the parts are streamed and docs/models.md for the contract.
//
// The file is stored before the row is written, so when a field that comes
// after the file is wrong (or missing) the blob stays behind, unreferenced.
// It is not deleted: blobs are content-addressed and shared, and another
// upload of the same bytes may be about to reference it. A sweep of blobs no
// level_models row references can reclaim such orphans.
func (s *Server) handleModelUpload(w http.ResponseWriter, r *http.Request) {
	info, err := s.auth.secretApp(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if s.jobs.Pool == nil || s.jobs.Blob == nil {
		writeError(w, r, errModelsUnconfigured)
		return
	}
	boundary, err := multipartBoundary(r.Header.Get("Content-Type"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	limit := cmp.Or(s.jobs.MaxModelBytes, defaultMaxModelBytes)
	if r.ContentLength > limit+modelUploadOverhead {
		w.Header().Set("Connection", "close")
		writeError(w, r, modelTooLarge(limit))
		return
	}
	if err := s.checkStorageQuota(r.Context(), info.AppID, r.ContentLength); err != nil {
		writeError(w, r, err)
		return
	}
	appName, err := store.AppName(r.Context(), s.jobs.Pool, info.AppID)
	if errors.Is(err, store.ErrNotFound) {
		err = errUnauthorized // deleted since its key was cached
	}
	if err != nil {
		writeError(w, r, err)
		return
	}

	ctx, body, cancel := s.uploadDeadline(w, r, limit)
	defer cancel()
	up := newModelUpload(appName, s.jobs.Blob, limit)
	err = up.read(ctx, multipart.NewReader(http.MaxBytesReader(w, body, limit+modelUploadOverhead), boundary))
	if err == nil {
		err = up.complete()
	}
	if err != nil {
		// The rest of the body is not read: close rather than drain it.
		w.Header().Set("Connection", "close")
		writeError(w, r, err)
		return
	}

	// The row is written even if the request's own timeout has passed
	// during a long upload.
	insertCtx, cancelInsert := context.WithTimeout(context.WithoutCancel(r.Context()), modelInsertTimeout)
	defer cancelInsert()
	m, err := store.LevelModelInsert(insertCtx, s.jobs.Pool, &store.LevelModelInsertParams{
		AppID: info.AppID, LevelName: up.levelName, BlobKey: up.file.Key, SizeBytes: up.file.Size,
		Format: string(up.format), OriginalFilename: up.filename, ContentType: up.format.contentType(),
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	zerolog.Ctx(r.Context()).Info().Str("app_id", m.AppID.String()).Str("model_id", m.ID.String()).Int("version", m.Version).
		Int64("size", m.SizeBytes).Str("format", m.Format).Msg("httpapi: level model stored")
	writeJSON(w, http.StatusCreated, newModelJSON(m))
}

// handleModelList is GET /api/models?level_name=&limit=: the app's models,
// newest first (at most limit, default 100, up to 1000).
func (s *Server) handleModelList(w http.ResponseWriter, r *http.Request) {
	info, err := s.auth.secretApp(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if s.jobs.Pool == nil {
		writeError(w, r, errModelsUnconfigured)
		return
	}
	q := r.URL.Query()
	level := q.Get(fieldLevelName)
	if q.Has(fieldLevelName) {
		if err := checkLevelName(level); err != nil {
			writeError(w, r, err)
			return
		}
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 1000 {
			writeError(w, r, &APIError{Status: http.StatusBadRequest, Code: "invalid_field", Field: "limit",
				Message: "limit must be an integer from 1 to 1000"})
			return
		}
	}
	models, err := store.LevelModelList(r.Context(), s.jobs.Pool, &store.LevelModelListParams{
		AppID: info.AppID, LevelName: level, Limit: limit,
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := make([]*modelJSON, len(models))
	for i := range models {
		out[i] = newModelJSON(&models[i])
	}
	writeJSON(w, http.StatusOK, map[string]any{"models": out})
}

// handleModelFile is GET /api/models/{id}/file: the file itself, with
// ranges and conditional requests (ETag is the SHA-256) through
// http.ServeContent. Another app's model is 404, as is an unknown id.
func (s *Server) handleModelFile(w http.ResponseWriter, r *http.Request) {
	info, err := s.auth.secretApp(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if s.jobs.Pool == nil || s.jobs.Blob == nil {
		writeError(w, r, errModelsUnconfigured)
		return
	}
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		writeError(w, r, errModelNotFound)
		return
	}
	m, err := store.LevelModelGet(r.Context(), s.jobs.Pool, &store.LevelModelGetParams{AppID: info.AppID, ID: id})
	if errors.Is(err, store.ErrNotFound) {
		err = errModelNotFound
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := blob.Serve(w, r, s.jobs.Blob, m.BlobKey, &blob.ServeConfig{
		ContentType: m.ContentType, CacheControl: "private, no-cache", Disposition: contentDisposition(m),
		ModTime: m.CreatedAt, Window: s.transferWindow(m.SizeBytes),
	}); err != nil {
		// A row without its blob is data loss, not a client error.
		writeError(w, r, err)
	}
}

// contentDisposition names the download after the sanitised client
// filename, or level-v<version>.<format> when there was none.
func contentDisposition(m *store.LevelModel) string {
	name := m.OriginalFilename
	if name == "" {
		name = sanitizeFilename(m.LevelName + "-v" + strconv.Itoa(m.Version) + "." + m.Format)
	}
	if v := mime.FormatMediaType("attachment", map[string]string{"filename": name}); v != "" {
		return v
	}
	return "attachment"
}

// multipartBoundary accepts only multipart/form-data with a boundary (415
// otherwise).
func multipartBoundary(contentType string) (string, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return "", newError(http.StatusUnsupportedMediaType, "unsupported_media_type",
			"content-type must be multipart/form-data with a boundary")
	}
	return params["boundary"], nil
}
