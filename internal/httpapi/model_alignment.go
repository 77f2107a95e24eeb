package httpapi

import (
	"errors"
	"net/http"

	"github.com/google/uuid"

	"github.com/gamepipe/gamepipe/internal/store"
)

// maxAlignmentBody caps PUT /api/models/{id}/alignment's body.
const maxAlignmentBody = 4 << 10

// handleModelAlignment is PUT /api/models/{id}/alignment: a JSON body
// {"up_axis","scale","offset"} replaces the model's alignment (fields left
// out take their defaults) and the answer is the model (docs/models.md).
// A bad field is a 400 naming it; another app's model is 404.
func (s *Server) handleModelAlignment(w http.ResponseWriter, r *http.Request) {
	info, err := s.auth.secretApp(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if s.jobs.Pool == nil {
		writeError(w, r, errModelsUnconfigured)
		return
	}
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		writeError(w, r, errModelNotFound)
		return
	}
	a, err := decodeAlignment(w, r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	m, err := store.LevelModelSetAlignment(r.Context(), s.jobs.Pool, &store.LevelModelSetAlignmentParams{
		AppID: info.AppID, ID: id, Alignment: a,
	})
	if errors.Is(err, store.ErrNotFound) {
		err = errModelNotFound
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newModelJSON(m))
}

// decodeAlignment reads the body (at most 4 KiB): a field the store
// refuses is 400 invalid_field naming it, any other body 400 invalid_body.
func decodeAlignment(w http.ResponseWriter, r *http.Request) (store.ModelAlignment, error) {
	a, err := store.DecodeAlignment(http.MaxBytesReader(w, r.Body, maxAlignmentBody))
	var fe *store.FieldError
	switch {
	case err == nil:
		return a, nil
	case errors.As(err, &fe) && fe.Field != "":
		return a, &APIError{Status: http.StatusBadRequest, Code: "invalid_field", Field: fe.Field, Message: fe.Error()}
	case errors.As(err, &fe):
		return a, newError(http.StatusBadRequest, "invalid_body", fe.Message+", of at most 4 KiB")
	}
	return a, err
}
