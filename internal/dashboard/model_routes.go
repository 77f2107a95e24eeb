package dashboard

import (
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/gamepipe/gamepipe/internal/blob"
	"github.com/gamepipe/gamepipe/internal/store"
)

// maxAlignmentBody caps PUT /dashboard/api/models/{id}/alignment's body.
const maxAlignmentBody = 4 << 10

// modelWindowBase is how long serving a model's file may take on top of
// blob.TransferTime of its size.
const modelWindowBase = 30 * time.Second

var (
	errModelNotFound = &apiError{Status: http.StatusNotFound, Code: "model_not_found",
		Message: "no such model for this application"}
	errModelsUnavailable = &apiError{Status: http.StatusServiceUnavailable, Code: "models_unavailable",
		Message: "model storage is not configured on this server", RetryAfter: 60}
)

// model reads the route's model {id} of the signed-in app: 404 for an id
// that is not one of its models. It reads the primary, so a model is there
// as soon as its upload answered.
func (h *Handler) model(r *http.Request) (*store.LevelModel, error) {
	app, err := h.authenticate(r)
	if err != nil {
		return nil, err
	}
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return nil, errModelNotFound
	}
	m, err := store.LevelModelGet(r.Context(), h.db, &store.LevelModelGetParams{AppID: app, ID: id})
	if errors.Is(err, store.ErrNotFound) {
		return nil, errModelNotFound
	}
	return m, err
}

// handleModelFile is GET /dashboard/api/models/{id}/file: the model's
// file for the Levels page, as GET /api/models/{id}/file serves it
// (blob.Serve: ETag, If-None-Match, ranges).
func (h *Handler) handleModelFile(w http.ResponseWriter, r *http.Request) {
	m, err := h.model(r)
	if err == nil && h.blob == nil {
		err = errModelsUnavailable
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	securityHeaders(w)
	err = blob.Serve(w, r, h.blob, m.BlobKey, &blob.ServeConfig{
		ContentType: m.ContentType, CacheControl: "private, no-cache",
		ModTime: m.CreatedAt, Window: modelWindowBase + blob.TransferTime(m.SizeBytes),
	})
	if err != nil {
		// A row without its blob is data loss, not a client error.
		h.writeError(w, r, err)
	}
}

// handleModelAlignment is PUT /dashboard/api/models/{id}/alignment: the
// body {"up_axis","scale","offset"} replaces the model's alignment
// (fields left out take their defaults), through the same store function
// as PUT /api/models/{id}/alignment. Cross-origin browser requests are
// refused.
func (h *Handler) handleModelAlignment(w http.ResponseWriter, r *http.Request) {
	if err := h.csrf.Check(r); err != nil {
		h.writeError(w, r, errCrossOrigin)
		return
	}
	m, err := h.model(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	a, err := decodeAlignment(w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	m, err = store.LevelModelSetAlignment(r.Context(), h.db, &store.LevelModelSetAlignmentParams{
		AppID: m.AppID, ID: m.ID, Alignment: a,
	})
	if errors.Is(err, store.ErrNotFound) {
		err = errModelNotFound // deleted meanwhile
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newLevelModel(m))
}

// decodeAlignment reads the body (at most 4 KiB): a field the store
// refuses is a 400 naming it, any other body 400 invalid_body.
func decodeAlignment(w http.ResponseWriter, r *http.Request) (store.ModelAlignment, error) {
	a, err := store.DecodeAlignment(http.MaxBytesReader(w, r.Body, maxAlignmentBody))
	var fe *store.FieldError
	switch {
	case err == nil:
		return a, nil
	case errors.As(err, &fe) && fe.Field != "":
		return a, badParam(fe.Field, fe.Message)
	case errors.As(err, &fe):
		return a, &apiError{Status: http.StatusBadRequest, Code: "invalid_body", Message: fe.Message + ", of at most 4 KiB"}
	}
	return a, err
}
