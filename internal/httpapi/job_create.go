package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gamepipe/gamepipe/internal/store"
)

// jobCreate is one job create request: the row and its jobs, inserted by
// Insert in one transaction.
type jobCreate struct {
	AppID uuid.UUID
	// Route scopes the Idempotency-Key, such as "POST /v1/emotes".
	Route string
	// Key is the request's Idempotency-Key (idempotencyKey); empty without.
	Key string
	// RequestHash tells a retry of this request from another request that
	// reuses its key; called only with a key.
	RequestHash func() []byte
	// Insert writes the job in tx and returns it as the API shows it.
	Insert func(tx pgx.Tx) (*jobView, error)
	// Path is the job's collection, such as "/v1/emotes/": the answer's
	// Location is Path + id.
	Path string
}

// idempotencyKey reads the Idempotency-Key header: empty when absent, 400
// past 255 characters.
func idempotencyKey(r *http.Request) (string, error) {
	key := r.Header.Get("Idempotency-Key")
	if len(key) > 255 {
		return "", &APIError{Status: http.StatusBadRequest, Code: "invalid_idempotency_key", Field: "Idempotency-Key",
			Message: "Idempotency-Key must be at most 255 characters"}
	}
	return key, nil
}

// createJob is the create flow every job kind shares: c.Insert runs in one
// transaction, under the Idempotency-Key when the request has one
// (store.Idempotent keeps the first answer in that same transaction), and
// the answer is 202 with the job object and its Location. A retry with the
// same key and request gets the first answer again, with
// Idempotent-Replayed: true, and inserts nothing; the key reused for a
// different request is 422. A failed insert leaves nothing behind, so the
// request may be retried with its key. It reports whether the job is new
// (not a replay) once the answer is written; on an error it writes the
// error and reports false.
func (s *Server) createJob(w http.ResponseWriter, r *http.Request, c *jobCreate) bool {
	ctx := r.Context()
	var (
		body     json.RawMessage
		status   = http.StatusAccepted
		replayed bool
		err      error
	)
	if c.Key == "" {
		err = pgx.BeginFunc(ctx, s.jobs.Pool, func(tx pgx.Tx) error {
			v, err := c.Insert(tx)
			if err != nil {
				return err
			}
			body, err = json.Marshal(v)
			return err
		})
	} else {
		var res *store.IdempotentResponse
		res, err = store.Idempotent(ctx, s.jobs.Pool, &store.IdempotencyParams{
			AppID: c.AppID, Route: c.Route, Key: c.Key, RequestHash: c.RequestHash(),
		}, func(tx pgx.Tx) (int, any, error) {
			v, err := c.Insert(tx)
			return http.StatusAccepted, v, err
		})
		if err == nil {
			body, status, replayed = res.Body, res.Status, res.Replayed
		}
	}
	switch {
	case errors.Is(err, store.ErrIdempotencyMismatch):
		writeError(w, r, newError(http.StatusUnprocessableEntity, "idempotency_key_reused",
			"this Idempotency-Key was used for a different request"))
		return false
	case err != nil:
		writeError(w, r, err)
		return false
	}
	var first struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(body, &first) == nil && first.ID != "" {
		w.Header().Set("Location", c.Path+first.ID)
	}
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return !replayed
}
