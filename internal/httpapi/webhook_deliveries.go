package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/gamepipe/gamepipe/internal/jobs"
	"github.com/gamepipe/gamepipe/internal/store"
)

// webhookDeliveryView is a delivery as the API shows it, with its tries.
type webhookDeliveryView struct {
	ID        uuid.UUID             `json:"id"`
	WebhookID string                `json:"webhook_id"`
	Type      string                `json:"type"`
	Status    string                `json:"status"`
	Attempts  []*webhookAttemptView `json:"attempts"`
	Payload   json.RawMessage       `json:"payload"`
	CreatedAt time.Time             `json:"created_at"`
	UpdatedAt time.Time             `json:"updated_at"`
}

// webhookAttemptView is one try: the answer's status (null without one),
// how long it took, the start of the answer, and what went wrong.
type webhookAttemptView struct {
	Attempt    int       `json:"attempt"`
	At         time.Time `json:"at"`
	StatusCode *int      `json:"status_code"`
	DurationMS int64     `json:"duration_ms"`
	Response   string    `json:"response"`
	Error      string    `json:"error,omitempty"`
}

func newWebhookDeliveryView(d *store.WebhookDelivery, publicBase string) *webhookDeliveryView {
	v := &webhookDeliveryView{ID: d.ID, WebhookID: jobs.WebhookMessageID(d.EventID.String()), Type: d.Type,
		Status: d.Status, Attempts: []*webhookAttemptView{}, Payload: store.JobEventBody(d.Body, publicBase),
		CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC()}
	for _, a := range d.Log {
		av := &webhookAttemptView{Attempt: a.Attempt, At: a.At.UTC(), DurationMS: a.Duration.Milliseconds(),
			Response: a.Response, Error: a.Error}
		if a.StatusCode != 0 {
			av.StatusCode = &a.StatusCode
		}
		v.Attempts = append(v.Attempts, av)
	}
	return v
}

// test queues a webhook.ping delivery to the endpoint (dropped while it is
// disabled): 202 with the delivery.
func (h *webhookHandlers) test(w http.ResponseWriter, r *http.Request) {
	appID, id, err := h.endpoint(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	d, err := store.WebhookPingInsert(r.Context(), h.s.jobs.Pool, appID, id, h.s.cfg.Now())
	if err != nil {
		writeError(w, r, webhookNotFound(err))
		return
	}
	writeJSON(w, http.StatusAccepted, newWebhookDeliveryView(d, h.deps.PublicBaseURL))
}

// deliveries lists the endpoint's latest deliveries, newest first:
// status (pending, succeeded or failed) filters, limit is 1–100 (20).
func (h *webhookHandlers) deliveries(w http.ResponseWriter, r *http.Request) {
	appID, id, err := h.endpoint(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	status := q.Get("status")
	switch status {
	case "", store.DeliveryPending, store.DeliverySucceeded, store.DeliveryFailed:
	default:
		writeError(w, r, invalidQuery("status", "status is pending, succeeded or failed"))
		return
	}
	limit := 20
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 100 {
			writeError(w, r, invalidQuery("limit", "limit is between 1 and 100"))
			return
		}
	}
	if _, err := store.WebhookEndpointGetForApp(r.Context(), h.s.jobs.Pool, h.s.jobs.Secrets, appID, id); err != nil {
		writeError(w, r, webhookNotFound(err))
		return
	}
	list, err := store.WebhookDeliveryList(r.Context(), h.s.jobs.Pool, appID, id, status, limit)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := struct {
		Data []*webhookDeliveryView `json:"data"`
	}{Data: make([]*webhookDeliveryView, 0, len(list))}
	for _, d := range list {
		out.Data = append(out.Data, newWebhookDeliveryView(d, h.deps.PublicBaseURL))
	}
	writeJSON(w, http.StatusOK, out)
}

// retry sends one of the endpoint's deliveries again, with the same
// webhook-id: 202 with the delivery, pending.
func (h *webhookHandlers) retry(w http.ResponseWriter, r *http.Request) {
	appID, id, err := h.endpoint(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	deliveryID, err := uuid.Parse(r.PathValue("delivery_id"))
	if err != nil {
		writeError(w, r, errDeliveryNotFound)
		return
	}
	d, err := store.WebhookDeliveryRetry(r.Context(), h.s.jobs.Pool, appID, id, deliveryID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = errDeliveryNotFound
		}
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, newWebhookDeliveryView(d, h.deps.PublicBaseURL))
}

var errDeliveryNotFound = newError(http.StatusNotFound, "not_found", "no such delivery for this webhook endpoint")
