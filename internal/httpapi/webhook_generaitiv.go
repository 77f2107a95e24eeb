package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gamepipe/gamepipe/internal/generaitiv"
	"github.com/gamepipe/gamepipe/internal/jobs"
	"github.com/gamepipe/gamepipe/internal/store"
)

// errWebhookNotFound answers a wrong token and an unknown generation alike,
// so a caller cannot tell which it got.
var errWebhookNotFound = newError(http.StatusNotFound, "not_found", "no such callback")

// webhook receives a Generaitiv callback at
// /webhooks/generaitiv/{id}?token=…. The token is the capability: the
// generation lists the SHA-256 of each it was given (one per submit
// attempt). A callback is one transaction: the completion, applied only to
// a generation listing the token's hash (store.GenerationComplete: a wrong
// token or an unknown id, both the same 404, neither waits for the row lock
// nor takes it), the token then compared in constant time with the row's
// hashes, and the generaitiv_finalize job of a generation that was still
// waiting. Any later callback (a duplicate, or one after the deadline or a
// cancel) is counted as late, changes nothing else and is still answered
// 200, so the upstream stops retrying. Only the holder of a valid token
// learns that a body is malformed: such a body is answered after a plain
// read of the hashes. The route is rate limited per source
// (Config.WebhookRateLimit).
func (h *generationHandlers) webhook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.deps.MaxWebhookBytes))
	if err != nil {
		writeError(w, r, bodyError(err, newError(http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the callback exceeds %d bytes", h.deps.MaxWebhookBytes))))
		return
	}
	id, err := uuid.Parse(r.PathValue("id"))
	token := r.URL.Query().Get("token")
	if err != nil || token == "" {
		writeError(w, r, errWebhookNotFound)
		return
	}
	presented := sha256.Sum256([]byte(token))
	var cb generaitiv.Callback
	if bad := checkCallback(body, &cb); bad != nil {
		hashes, err := store.GenerationCallbackTokenHashes(r.Context(), h.s.jobs.Pool, id)
		switch {
		case errors.Is(err, store.ErrNotFound) || err == nil && !tokenMatches(hashes, presented[:]):
			writeError(w, r, errWebhookNotFound)
		case err != nil:
			writeError(w, r, err)
		default:
			writeError(w, r, bad)
		}
		return
	}
	completion := store.Completion{OK: cb.Status == generaitiv.CallbackCompleted, Link: cb.Link, Message: cb.Message,
		At: h.s.cfg.Now(), TokenHash: presented[:]}
	done, err := store.GenerationComplete(r.Context(), h.s.jobs.Pool, id, completion, func(tx pgx.Tx, done *store.Completed) error {
		if !tokenMatches(done.CallbackTokenHashes, presented[:]) {
			return errWebhookNotFound
		}
		if !done.Applied {
			return nil // recorded as late; nothing else changes
		}
		if _, err := h.s.jobs.River.InsertTx(r.Context(), tx, jobs.GeneraitivFinalizeArgs{GenerationID: id}, nil); err != nil {
			return fmt.Errorf("error inserting finalize job of generation %s: %w", id, err)
		}
		return nil
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, r, errWebhookNotFound)
		return
	case err != nil:
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"received": true, "applied": done.Applied})
}

// checkCallback parses a callback body into cb, or says why it is not one.
func checkCallback(body []byte, cb *generaitiv.Callback) error {
	switch {
	case json.Unmarshal(body, cb) != nil:
		return newError(http.StatusBadRequest, "invalid_callback", "the body is not a JSON object")
	case cb.Status == generaitiv.CallbackCompleted && cb.Link == "":
		return newError(http.StatusBadRequest, "invalid_callback", "a COMPLETED callback needs a link")
	case cb.Status != generaitiv.CallbackCompleted && cb.Status != generaitiv.CallbackFailed:
		return newError(http.StatusBadRequest, "invalid_callback", "status must be COMPLETED or FAILED")
	}
	return nil
}

// tokenMatches compares against every stored hash in constant time, not
// stopping at the first match.
func tokenMatches(hashes [][]byte, presented []byte) bool {
	match := 0
	for _, h := range hashes {
		match |= subtle.ConstantTimeCompare(h, presented)
	}
	return match == 1
}
