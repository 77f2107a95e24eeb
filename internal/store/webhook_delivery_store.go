package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gamepipe/gamepipe/internal/auth"
)

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliverySucceeded = "succeeded"
	DeliveryFailed    = "failed"
)

// WebhookPingType is the event type of a test delivery.
const WebhookPingType = "webhook.ping"

// WebhookDelivery is one event (or ping) for one endpoint.
type WebhookDelivery struct {
	ID         uuid.UUID
	EndpointID uuid.UUID
	AppID      uuid.UUID
	// EventID names the event: the webhook-id header of every try.
	EventID   uuid.UUID
	Type      string
	Body      []byte
	Status    string
	Attempts  int
	CreatedAt time.Time
	UpdatedAt time.Time
	// Log holds its tries, oldest first, when listed.
	Log []*WebhookAttempt
}

// WebhookAttempt is one try of a delivery.
type WebhookAttempt struct {
	Attempt    int
	At         time.Time
	StatusCode int // 0 without an answer
	Duration   time.Duration
	// Response is the start of the answer's body.
	Response string
	// Error says why the try failed without an answer, or what was wrong
	// with the answer.
	Error string
}

const webhookDeliveryColumns = `id, endpoint_id, app_id, event_id, type, body, status, attempts, created_at, updated_at`

func scanWebhookDelivery(row pgx.CollectableRow) (*WebhookDelivery, error) {
	var (
		d    WebhookDelivery
		body string
	)
	err := row.Scan(&d.ID, &d.EndpointID, &d.AppID, &d.EventID, &d.Type, &body, &d.Status, &d.Attempts, &d.CreatedAt, &d.UpdatedAt)
	d.Body = []byte(body)
	return &d, err
}

// WebhookDeliveryForSend returns a delivery and its endpoint (secrets
// opened with box); ErrNotFound when the delivery is gone (its endpoint
// was deleted).
func WebhookDeliveryForSend(ctx context.Context, db DBTX, box *auth.SecretBox, id uuid.UUID) (*WebhookDelivery, *WebhookEndpoint, error) {
	rows, err := db.Query(ctx, `SELECT `+webhookDeliveryColumns+` FROM webhook_deliveries WHERE id = $1`, id)
	if err != nil {
		return nil, nil, fmt.Errorf("error reading delivery %s: %w", id, err)
	}
	d, err := pgx.CollectExactlyOneRow(rows, scanWebhookDelivery)
	if err != nil {
		return nil, nil, mapErr(err)
	}
	rows, err = db.Query(ctx, `SELECT `+webhookEndpointColumns+` FROM webhook_endpoints WHERE id = $1`, d.EndpointID)
	endpoints, err := scanWebhookEndpoints(box, rows, err)
	if err != nil {
		return nil, nil, err
	}
	if len(endpoints) == 0 {
		return nil, nil, ErrNotFound
	}
	return d, endpoints[0], nil
}

// WebhookOutcome is what one try came to, for WebhookDeliveryRecord.
type WebhookOutcome struct {
	Attempt *WebhookAttempt
	// Status is the delivery's status after the try.
	Status string
	// Answered says the endpoint answered 2xx: its failing run ends.
	Answered bool
	// Disable, when set, turns the endpoint off with this reason.
	Disable string
	// FailingFor disables the endpoint when its failing run began at least
	// this long ago (0: never).
	FailingFor time.Duration
}

// WebhookDeliveryRecord logs a try (numbered from the delivery's count of
// tries, manual retries included) and its outcome on the delivery and the
// endpoint, in one transaction. It returns why the endpoint was disabled,
// if this try disabled it.
func WebhookDeliveryRecord(ctx context.Context, db interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}, d *WebhookDelivery, o *WebhookOutcome) (disabled string, err error) {
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		a := o.Attempt
		if err := tx.QueryRow(ctx, `UPDATE webhook_deliveries SET status = $2, attempts = attempts + 1, updated_at = now()
			WHERE id = $1 RETURNING attempts`, d.ID, o.Status).Scan(&a.Attempt); err != nil {
			return fmt.Errorf("error updating delivery %s: %w", d.ID, mapErr(err))
		}
		if _, err := tx.Exec(ctx, `INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code, duration_ms, response, error)
			VALUES ($1, $2, $3, NULLIF($4, 0), $5, $6, $7)`,
			d.ID, a.Attempt, a.At, a.StatusCode, a.Duration.Milliseconds(), a.Response, a.Error); err != nil {
			return fmt.Errorf("error logging attempt of delivery %s: %w", d.ID, err)
		}
		if o.Answered {
			_, err := tx.Exec(ctx, `UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL`, d.EndpointID)
			return err
		}
		reason := o.Disable
		if reason == "" && o.FailingFor > 0 {
			var since time.Time
			if err := tx.QueryRow(ctx, `UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, $2)
				WHERE id = $1 RETURNING failing_since`, d.EndpointID, a.At).Scan(&since); err != nil {
				return fmt.Errorf("error updating endpoint %s: %w", d.EndpointID, mapErr(err))
			}
			if a.At.Sub(since) >= o.FailingFor {
				reason = fmt.Sprintf("every delivery failed since %s (the last: %s)", since.UTC().Format(time.RFC3339), attemptSummary(a))
			}
		}
		if reason == "" {
			return nil
		}
		tag, err := tx.Exec(ctx, `UPDATE webhook_endpoints SET enabled = false, disabled_reason = $2, updated_at = now()
			WHERE id = $1 AND enabled`, d.EndpointID, reason)
		if err != nil {
			return fmt.Errorf("error disabling endpoint %s: %w", d.EndpointID, err)
		}
		if tag.RowsAffected() > 0 {
			disabled = reason
		}
		_, err = tx.Exec(ctx, `UPDATE webhook_deliveries SET status = 'failed' WHERE id = $1`, d.ID)
		return err
	})
	return disabled, err
}

func attemptSummary(a *WebhookAttempt) string {
	if a.StatusCode != 0 {
		return fmt.Sprintf("HTTP %d", a.StatusCode)
	}
	return a.Error
}

// WebhookPingInsert queues a test delivery to one of the app's endpoints,
// which sends it unless the endpoint is disabled.
func WebhookPingInsert(ctx context.Context, db interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}, appID, endpointID uuid.UUID, now time.Time) (*WebhookDelivery, error) {
	body, _ := json.Marshal(map[string]any{"type": WebhookPingType, "timestamp": now.UTC(),
		"data": map[string]string{"endpoint_id": endpointID.String()}})
	var out *WebhookDelivery
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `INSERT INTO webhook_deliveries (id, endpoint_id, app_id, event_id, type, body)
			SELECT $3, e.id, e.app_id, $4, $5, $6 FROM webhook_endpoints e WHERE e.app_id = $1 AND e.id = $2
			RETURNING `+webhookDeliveryColumns, appID, endpointID, uuid.New(), uuid.New(), WebhookPingType, string(body))
		if err != nil {
			return fmt.Errorf("error inserting a ping: %w", err)
		}
		if out, err = pgx.CollectExactlyOneRow(rows, scanWebhookDelivery); err != nil {
			return mapErr(err)
		}
		return insertDeliverJobs(ctx, tx, []uuid.UUID{out.ID})
	})
	return out, err
}

// WebhookDeliveryRetry sends one of the app's deliveries again (a new job,
// the same event id); ErrNotFound when it is not the app's endpoint's.
func WebhookDeliveryRetry(ctx context.Context, db interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}, appID, endpointID, id uuid.UUID) (*WebhookDelivery, error) {
	var out *WebhookDelivery
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE webhook_deliveries SET status = 'pending', updated_at = now()
			WHERE app_id = $1 AND endpoint_id = $2 AND id = $3 RETURNING `+webhookDeliveryColumns, appID, endpointID, id)
		if err != nil {
			return fmt.Errorf("error retrying delivery %s: %w", id, err)
		}
		if out, err = pgx.CollectExactlyOneRow(rows, scanWebhookDelivery); err != nil {
			return mapErr(err)
		}
		return insertDeliverJobs(ctx, tx, []uuid.UUID{out.ID})
	})
	return out, err
}

// WebhookDeliveryList returns the endpoint's latest deliveries (status
// filters when set), newest first, with their tries.
func WebhookDeliveryList(ctx context.Context, db DBTX, appID, endpointID uuid.UUID, status string, limit int) ([]*WebhookDelivery, error) {
	rows, err := db.Query(ctx, `SELECT `+webhookDeliveryColumns+` FROM webhook_deliveries
		WHERE app_id = $1 AND endpoint_id = $2 AND ($3 = '' OR status = $3)
		ORDER BY created_at DESC, id LIMIT $4`, appID, endpointID, status, limit)
	if err != nil {
		return nil, fmt.Errorf("error listing deliveries: %w", err)
	}
	list, err := pgx.CollectRows(rows, scanWebhookDelivery)
	if err != nil || len(list) == 0 {
		return list, err
	}
	byID := map[uuid.UUID]*WebhookDelivery{}
	ids := make([]uuid.UUID, len(list))
	for i, d := range list {
		byID[d.ID], ids[i] = d, d.ID
	}
	rows, err = db.Query(ctx, `SELECT delivery_id, attempt, at, coalesce(status_code, 0), duration_ms, response, error
		FROM webhook_attempts WHERE delivery_id = ANY ($1) ORDER BY delivery_id, attempt`, ids)
	if err != nil {
		return nil, fmt.Errorf("error listing attempts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id uuid.UUID
			a  WebhookAttempt
			ms int64
		)
		if err := rows.Scan(&id, &a.Attempt, &a.At, &a.StatusCode, &ms, &a.Response, &a.Error); err != nil {
			return nil, fmt.Errorf("error listing attempts: %w", err)
		}
		a.Duration = time.Duration(ms) * time.Millisecond
		byID[id].Log = append(byID[id].Log, &a)
	}
	return list, rows.Err()
}
