package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rs/zerolog"
)

// apiError is an error meant for the client, in the api's error shape
// (docs/dashboard.md, "Errors").
type apiError struct {
	Status int    `json:"-"`
	Code   string `json:"error"`
	// Message is the human explanation.
	Message string `json:"message"`
	// Field names the query parameter at fault.
	Field string `json:"field,omitempty"`
	// MinCell is, for too_many_cells, the smallest heatmap cell allowed.
	MinCell *float64 `json:"min_cell,omitempty"`
	// RetryAfter, when positive, is sent as Retry-After (seconds).
	RetryAfter int `json:"-"`
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// badParam is the 400 for a query parameter.
func badParam(field, msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "invalid_parameter", Field: field, Message: field + ": " + msg}
}

var (
	errUnauthorized = &apiError{Status: http.StatusUnauthorized, Code: "unauthorized",
		Message: "sign in, or send the app's secret key as x-api-key or Authorization: Bearer"}
	errPublicToken = &apiError{Status: http.StatusForbidden, Code: "forbidden",
		Message: "a public token cannot read the dashboard; send the secret key"}
	errCrossOrigin = &apiError{Status: http.StatusForbidden, Code: "cross_origin",
		Message: "cross-origin request refused"}
	errUnavailable = &apiError{Status: http.StatusServiceUnavailable, Code: "unavailable",
		Message: "cannot check credentials right now; retry later", RetryAfter: 2}
)

// queryCanceled is Postgres's SQLSTATE for a statement cancelled by
// statement_timeout.
const queryCanceled = "57014"

// writeError turns err into a response: client errors as they are, a query
// over its time budget as 503, anything else as a generic 500 with the
// cause only in the log.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	logger := zerolog.Ctx(r.Context())
	var (
		ae    *apiError
		pgErr *pgconn.PgError
	)
	switch {
	case errors.As(err, &ae):
		logger.Info().Str("error_code", ae.Code).Int("status", ae.Status).Msg(ae.Message)
	case errors.As(err, &pgErr) && pgErr.Code == queryCanceled, errors.Is(err, context.DeadlineExceeded):
		ae = &apiError{Status: http.StatusServiceUnavailable, Code: "query_timeout", RetryAfter: 1,
			Message: "the query took longer than " + h.cfg.QueryTimeout.String() + "; narrow the range or the filters"}
		logger.Warn().Err(err).Msg("dashboard: query timed out")
	default:
		ae = &apiError{Status: http.StatusInternalServerError, Code: "internal_error", Message: "internal server error"}
		logger.Error().Err(err).Msg("dashboard: internal error")
	}
	if ae.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(ae.RetryAfter))
	}
	writeJSON(w, ae.Status, ae)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	securityHeaders(w)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
