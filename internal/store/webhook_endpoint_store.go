package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gamepipe/gamepipe/internal/auth"
)

// WebhookSecretPrefix starts every webhook signing secret; the rest is the
// base64 of the HMAC key, as the Standard Webhooks specification writes it
// (docs/webhooks.md).
const WebhookSecretPrefix = "whsec_"

// webhookSecretBytes is the size of a signing key.
const webhookSecretBytes = 32

// WebhookEndpoint is an app's webhook endpoint. Secrets are in clear
// (whsec_…) once read: they sign every delivery.
type WebhookEndpoint struct {
	ID          uuid.UUID
	AppID       uuid.UUID
	URL         string
	EventTypes  []string
	Description string
	Enabled     bool
	// DisabledReason says why gamepipe turned the endpoint off; "" when
	// the app did, or it is enabled.
	DisabledReason string
	// Secret signs every delivery; PreviousSecret also does, until
	// PreviousSecretExpiresAt (the overlap after a rotation).
	Secret                  string
	PreviousSecret          string
	PreviousSecretExpiresAt *time.Time
	// FailingSince is when the endpoint's current run of failed deliveries
	// began; nil while it answers.
	FailingSince *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Secrets returns the secrets that sign a delivery at now: the current one,
// and the previous one during its overlap.
func (e *WebhookEndpoint) Secrets(now time.Time) []string {
	out := []string{e.Secret}
	if e.PreviousSecret != "" && e.PreviousSecretExpiresAt != nil && now.Before(*e.PreviousSecretExpiresAt) {
		out = append(out, e.PreviousSecret)
	}
	return out
}

// Wants reports whether the endpoint subscribed to an event type: an exact
// type, "<kind>.*", or "*".
func (e *WebhookEndpoint) Wants(eventType string) bool {
	for _, t := range e.EventTypes {
		if t == "*" || t == eventType {
			return true
		}
		if prefix, ok := strings.CutSuffix(t, "*"); ok && strings.HasPrefix(eventType, prefix) {
			return true
		}
	}
	return false
}

// NewWebhookSecret returns a fresh signing secret.
func NewWebhookSecret() string {
	b := make([]byte, webhookSecretBytes)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return WebhookSecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// webhookSecretAD binds a sealed secret to its endpoint and column.
func webhookSecretAD(id uuid.UUID, column string) string {
	return "webhook_endpoints/" + id.String() + "/" + column
}

// sealWebhookSecret seals s when a box is configured; without one the
// secret is stored in clear (it must be read back to sign).
func sealWebhookSecret(box *auth.SecretBox, id uuid.UUID, column, s string) *string {
	if s == "" {
		return nil
	}
	if box != nil {
		s = box.Seal(s, webhookSecretAD(id, column))
	}
	return &s
}

func openWebhookSecret(box *auth.SecretBox, id uuid.UUID, column string, v *string) (string, error) {
	if v == nil {
		return "", nil
	}
	if !auth.IsSealed(*v) {
		return *v, nil
	}
	if box == nil {
		return "", fmt.Errorf("webhook endpoint %s: %w", id, auth.ErrSealed)
	}
	plain, err := box.Open(*v, webhookSecretAD(id, column))
	if err != nil {
		return "", fmt.Errorf("webhook endpoint %s: %w", id, err)
	}
	return plain, nil
}

const webhookEndpointColumns = `id, app_id, url, event_types, description, enabled, COALESCE(disabled_reason, ''),
	secret, previous_secret, previous_secret_expires_at, failing_since, created_at, updated_at`

func scanWebhookEndpoints(box *auth.SecretBox, rows pgx.Rows, err error) ([]*WebhookEndpoint, error) {
	if err != nil {
		return nil, fmt.Errorf("error reading webhook endpoints: %w", err)
	}
	defer rows.Close()
	var out []*WebhookEndpoint
	for rows.Next() {
		var (
			e                WebhookEndpoint
			secret, previous *string
		)
		if err := rows.Scan(&e.ID, &e.AppID, &e.URL, &e.EventTypes, &e.Description, &e.Enabled, &e.DisabledReason,
			&secret, &previous, &e.PreviousSecretExpiresAt, &e.FailingSince, &e.CreatedAt, &e.UpdatedAt); err != nil {
			return nil, fmt.Errorf("error reading webhook endpoints: %w", err)
		}
		if e.Secret, err = openWebhookSecret(box, e.ID, "secret", secret); err != nil {
			return nil, err
		}
		if e.PreviousSecret, err = openWebhookSecret(box, e.ID, "previous_secret", previous); err != nil {
			return nil, err
		}
		out = append(out, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("error reading webhook endpoints: %w", err)
	}
	return out, nil
}

// WebhookEndpointInsert stores e with a fresh secret (e.ID, e.Secret and the
// times are set); ErrNotFound when the app does not exist.
func WebhookEndpointInsert(ctx context.Context, db DBTX, box *auth.SecretBox, e *WebhookEndpoint) error {
	e.ID = uuid.New()
	e.Secret = NewWebhookSecret()
	err := db.QueryRow(ctx, `INSERT INTO webhook_endpoints (id, app_id, url, event_types, description, enabled, secret)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING created_at, updated_at`,
		e.ID, e.AppID, e.URL, e.EventTypes, e.Description, e.Enabled, sealWebhookSecret(box, e.ID, "secret", e.Secret)).
		Scan(&e.CreatedAt, &e.UpdatedAt)
	if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.Code == "23503" {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("error inserting webhook endpoint: %w", mapErr(err))
	}
	return nil
}

// WebhookEndpointList returns an app's endpoints, oldest first.
func WebhookEndpointList(ctx context.Context, db DBTX, box *auth.SecretBox, appID uuid.UUID) ([]*WebhookEndpoint, error) {
	rows, err := db.Query(ctx, `SELECT `+webhookEndpointColumns+` FROM webhook_endpoints
		WHERE app_id = $1 ORDER BY created_at, id`, appID)
	return scanWebhookEndpoints(box, rows, err)
}

// WebhookEndpointGetForApp returns one of the app's endpoints; another
// app's is ErrNotFound.
func WebhookEndpointGetForApp(ctx context.Context, db DBTX, box *auth.SecretBox, appID, id uuid.UUID) (*WebhookEndpoint, error) {
	rows, err := db.Query(ctx, `SELECT `+webhookEndpointColumns+` FROM webhook_endpoints
		WHERE app_id = $1 AND id = $2`, appID, id)
	out, err := scanWebhookEndpoints(box, rows, err)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, ErrNotFound
	}
	return out[0], nil
}

// WebhookEndpointPatch changes what is set in p on one of the app's
// endpoints and returns it. Enabling an endpoint clears why it was
// disabled and its failing run.
func WebhookEndpointPatch(ctx context.Context, db DBTX, box *auth.SecretBox, appID, id uuid.UUID, p *WebhookEndpointChange) (*WebhookEndpoint, error) {
	tag, err := db.Exec(ctx, `UPDATE webhook_endpoints SET
			url = COALESCE($3, url), event_types = COALESCE($4, event_types),
			description = COALESCE($5, description), enabled = COALESCE($6, enabled),
			disabled_reason = CASE WHEN $6 THEN NULL ELSE disabled_reason END,
			failing_since = CASE WHEN $6 THEN NULL ELSE failing_since END,
			updated_at = now()
		WHERE app_id = $1 AND id = $2`, appID, id, p.URL, p.EventTypes, p.Description, p.Enabled)
	if err != nil {
		return nil, fmt.Errorf("error updating webhook endpoint %s: %w", id, mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		return nil, ErrNotFound
	}
	return WebhookEndpointGetForApp(ctx, db, box, appID, id)
}

// WebhookEndpointChange is what a PATCH may change; nil fields stay.
type WebhookEndpointChange struct {
	URL         *string
	EventTypes  []string
	Description *string
	Enabled     *bool
}

// WebhookEndpointRotate gives the endpoint a new secret; the current one
// keeps signing, next to it, for overlap. It returns the endpoint with the
// new secret.
func WebhookEndpointRotate(ctx context.Context, db interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}, box *auth.SecretBox, appID, id uuid.UUID, overlap time.Duration) (*WebhookEndpoint, error) {
	var out *WebhookEndpoint
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		e, err := WebhookEndpointGetForApp(ctx, tx, box, appID, id)
		if err != nil {
			return err
		}
		next := NewWebhookSecret()
		if _, err := tx.Exec(ctx, `UPDATE webhook_endpoints SET secret = $2, previous_secret = $3,
				previous_secret_expires_at = now() + $4::interval, updated_at = now() WHERE id = $1`,
			id, sealWebhookSecret(box, id, "secret", next), sealWebhookSecret(box, id, "previous_secret", e.Secret), overlap); err != nil {
			return fmt.Errorf("error rotating the secret of webhook endpoint %s: %w", id, err)
		}
		out, err = WebhookEndpointGetForApp(ctx, tx, box, appID, id)
		return err
	})
	return out, err
}

// WebhookEndpointDelete removes one of the app's endpoints.
func WebhookEndpointDelete(ctx context.Context, db DBTX, appID, id uuid.UUID) error {
	tag, err := db.Exec(ctx, `DELETE FROM webhook_endpoints WHERE app_id = $1 AND id = $2`, appID, id)
	if err != nil {
		return fmt.Errorf("error deleting webhook endpoint %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// WebhookEndpointCount counts an app's endpoints.
func WebhookEndpointCount(ctx context.Context, db DBTX, appID uuid.UUID) (int, error) {
	var n int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM webhook_endpoints WHERE app_id = $1`, appID).Scan(&n); err != nil {
		return 0, fmt.Errorf("error counting webhook endpoints: %w", err)
	}
	return n, nil
}
