package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/rs/zerolog"

	"github.com/gamepipe/gamepipe/internal/blob"
)

// APIError is an error meant for the client: a status, a stable code, a
// human message and, for a rejected batch item, its index and field.
type APIError struct {
	Status  int    `json:"-"`
	Code    string `json:"error"`
	Message string `json:"message"`
	Index   *int   `json:"index,omitempty"`
	Field   string `json:"field,omitempty"`
	// RetryAfter, when positive, is sent as the Retry-After header (seconds).
	RetryAfter int `json:"-"`
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

func newError(status int, code, msg string) *APIError {
	return &APIError{Status: status, Code: code, Message: msg}
}

// Errors shared by several handlers.
var (
	errUnauthorized = newError(http.StatusUnauthorized, "unauthorized", "missing or invalid token")
	errNotFound     = newError(http.StatusNotFound, "not_found", "no such route")
	// errInsufficientStorage answers a request whose content found no room
	// in blob storage: the same request may succeed later, so it says so
	// (unlike a 4xx), and it names no path.
	errInsufficientStorage = &APIError{Status: http.StatusInsufficientStorage, Code: "insufficient_storage",
		Message: "the server has no room to store this content now; retry later", RetryAfter: 60}
)

// writeError is the one place errors become responses. Client errors are
// logged at info; anything that is not an *APIError is a server fault: a
// generic 500 for the client, the cause in the log only.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	logger := zerolog.Ctx(r.Context())
	var apiErr *APIError
	switch {
	case errors.As(err, &apiErr):
		logger.Info().Str("error_code", apiErr.Code).Int("status", apiErr.Status).Msg(apiErr.Message)
	case errors.Is(err, blob.ErrInsufficientStorage):
		apiErr = errInsufficientStorage
		logger.Error().Err(err).Msg("httpapi: blob storage is full")
	case errors.Is(err, context.DeadlineExceeded):
		apiErr = &APIError{Status: http.StatusServiceUnavailable, Code: "timeout", Message: "the request took too long; retry later", RetryAfter: 1}
		logger.Warn().Err(err).Msg("httpapi: request timed out")
	default:
		apiErr = newError(http.StatusInternalServerError, "internal_error", "internal server error")
		logger.Error().Err(err).Msg("httpapi: internal error")
	}
	if apiErr.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(apiErr.RetryAfter))
	}
	writeJSON(w, apiErr.Status, apiErr)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
