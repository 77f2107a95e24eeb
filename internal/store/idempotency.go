package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ErrIdempotencyMismatch is returned when an Idempotency-Key is reused for a
// different request.
var ErrIdempotencyMismatch = errors.New("idempotency key reused with a different request")

// IdempotencyParams identify one idempotent request.
type IdempotencyParams struct {
	AppID uuid.UUID
	// Route scopes the key, such as "POST /v1/emotes".
	Route string
	// Key is the client's Idempotency-Key.
	Key string
	// RequestHash is a hash of what makes the request itself (its fields,
	// the uploaded file's sha256), to tell a retry from a misuse.
	RequestHash []byte
}

// IdempotentResponse is a stored first answer.
type IdempotentResponse struct {
	Status int
	Body   json.RawMessage
	// Replayed is true when this is a stored answer, not a fresh one.
	Replayed bool
}

// Idempotent runs fn in a transaction and stores its answer under the key in
// that same transaction. A later call with the same key gets the stored
// answer without running fn; a concurrent one waits for the first to commit
// (the key's primary key serialises them). A key reused with a different
// request hash is ErrIdempotencyMismatch. fn's error rolls everything back,
// so a failed request can be retried with the same key.
func Idempotent(ctx context.Context, db interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}, p *IdempotencyParams, fn func(tx pgx.Tx) (status int, body any, err error)) (*IdempotentResponse, error) {
	var out *IdempotentResponse
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		// Claim the key first: a concurrent request with the same key
		// blocks here until this transaction ends.
		tag, err := tx.Exec(ctx, `INSERT INTO idempotency_keys (app_id, route, key, request_hash, status, body)
			VALUES ($1, $2, $3, $4, 0, 'null') ON CONFLICT DO NOTHING`, p.AppID, p.Route, p.Key, p.RequestHash)
		if err != nil {
			return fmt.Errorf("error claiming idempotency key: %w", err)
		}
		if tag.RowsAffected() == 0 {
			var (
				hash   []byte
				status int
				body   []byte
			)
			err := tx.QueryRow(ctx, `SELECT request_hash, status, body FROM idempotency_keys
				WHERE app_id = $1 AND route = $2 AND key = $3`, p.AppID, p.Route, p.Key).Scan(&hash, &status, &body)
			if err != nil {
				return fmt.Errorf("error reading idempotency key: %w", err)
			}
			if !bytes.Equal(hash, p.RequestHash) {
				return ErrIdempotencyMismatch
			}
			out = &IdempotentResponse{Status: status, Body: body, Replayed: true}
			return nil
		}
		status, body, err := fn(tx)
		if err != nil {
			return err
		}
		raw, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("error encoding idempotent response: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE idempotency_keys SET status = $4, body = $5
			WHERE app_id = $1 AND route = $2 AND key = $3`, p.AppID, p.Route, p.Key, status, raw); err != nil {
			return fmt.Errorf("error storing idempotent response: %w", err)
		}
		out = &IdempotentResponse{Status: status, Body: raw}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
