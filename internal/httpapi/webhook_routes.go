package httpapi

import (
	"cmp"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/gamepipe/gamepipe/internal/jobs"
	"github.com/gamepipe/gamepipe/internal/store"
)

// WebhookRouteDeps configures /v1/webhooks (docs/webhooks.md).
type WebhookRouteDeps struct {
	// AllowPrivate lets endpoints use plain http and private addresses
	// (WEBHOOK_ALLOW_PRIVATE), for local development.
	AllowPrivate bool
	// PublicBaseURL, when set (PUBLIC_BASE_URL), makes a generation's
	// image_url absolute in the GET /v1/events payloads and the deliveries'
	// (store.JobEventBody), as the webhooks send them.
	PublicBaseURL string
	// RotationOverlap is how long a rotated-out secret keeps signing when
	// the request does not say. Defaults to 24h.
	RotationOverlap time.Duration
	// NATS, when set, wakes the GET /v1/events streams as soon as a job
	// notification of their app is published; without it they rely on
	// the poll.
	NATS *nats.Conn
	// EventsPollInterval is how often the process reads the latest event
	// number of every app with an open GET /v1/events stream, in one
	// query. Defaults to 500ms.
	EventsPollInterval time.Duration
	// MaxEventStreamsPerApp caps an app's open GET /v1/events streams in
	// this process (429 past it). Defaults to 10.
	MaxEventStreamsPerApp int
	// Heartbeat is how often an idle GET /v1/events stream sends a comment
	// line. Defaults to 15s.
	Heartbeat time.Duration
}

// Bounds of an endpoint's fields.
const (
	webhookMaxBodyBytes    = 16 << 10
	webhookMaxDescription  = 500
	webhookMaxEventTypes   = 50
	webhookMaxOverlap      = 7 * 24 * time.Hour
	webhookMaxEndpointsApp = 20
)

var errEndpointNotFound = newError(http.StatusNotFound, "not_found", "no such webhook endpoint")

// webhookEndpointView is an endpoint as the API shows it; Secret only in
// the answers of create and rotate-secret.
type webhookEndpointView struct {
	ID                      uuid.UUID  `json:"id"`
	URL                     string     `json:"url"`
	EventTypes              []string   `json:"event_types"`
	Description             string     `json:"description"`
	Enabled                 bool       `json:"enabled"`
	DisabledReason          *string    `json:"disabled_reason"`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at"`
	CreatedAt               time.Time  `json:"created_at"`
	UpdatedAt               time.Time  `json:"updated_at"`
	Secret                  string     `json:"secret,omitempty"`
}

func newWebhookEndpointView(e *store.WebhookEndpoint, now time.Time) *webhookEndpointView {
	v := &webhookEndpointView{ID: e.ID, URL: e.URL, EventTypes: e.EventTypes, Description: e.Description,
		Enabled: e.Enabled, CreatedAt: e.CreatedAt.UTC(), UpdatedAt: e.UpdatedAt.UTC()}
	if e.DisabledReason != "" {
		v.DisabledReason = &e.DisabledReason
	}
	if e.PreviousSecretExpiresAt != nil && now.Before(*e.PreviousSecretExpiresAt) {
		v.PreviousSecretExpiresAt = store.UTCOrNil(e.PreviousSecretExpiresAt)
	}
	return v
}

// webhookHandlers serve /v1/webhooks.
type webhookHandlers struct {
	s      *Server
	deps   WebhookRouteDeps
	events *sseWatch[int64]
}

// webhookRoutes registers the webhook endpoint API and the app's events
// stream, authenticated with the app's secret key.
func (s *Server) webhookRoutes(mux *http.ServeMux) {
	deps := WebhookRouteDeps{}
	if s.jobs.Webhooks != nil {
		deps = *s.jobs.Webhooks
	}
	deps.RotationOverlap = cmp.Or(deps.RotationOverlap, 24*time.Hour)
	deps.EventsPollInterval = cmp.Or(deps.EventsPollInterval, 500*time.Millisecond)
	deps.MaxEventStreamsPerApp = cmp.Or(deps.MaxEventStreamsPerApp, 10)
	deps.Heartbeat = cmp.Or(deps.Heartbeat, 15*time.Second)
	h := &webhookHandlers{s: s, deps: deps,
		events: newSSEWatch(s.logger, deps.NATS, s.jobs.Pool, deps.EventsPollInterval, deps.MaxEventStreamsPerApp, appEventsKind)}
	mux.HandleFunc("GET /v1/events", s.rateLimited(h.appEvents))
	mux.HandleFunc("POST /v1/webhooks", s.rateLimited(h.create))
	mux.HandleFunc("GET /v1/webhooks", s.rateLimited(h.list))
	mux.HandleFunc("GET /v1/webhooks/{id}", s.rateLimited(h.get))
	mux.HandleFunc("PATCH /v1/webhooks/{id}", s.rateLimited(h.patch))
	mux.HandleFunc("DELETE /v1/webhooks/{id}", s.rateLimited(h.delete))
	mux.HandleFunc("POST /v1/webhooks/{id}/rotate-secret", s.rateLimited(h.rotate))
	mux.HandleFunc("POST /v1/webhooks/{id}/test", s.rateLimited(h.test))
	mux.HandleFunc("GET /v1/webhooks/{id}/deliveries", s.rateLimited(h.deliveries))
	mux.HandleFunc("POST /v1/webhooks/{id}/deliveries/{delivery_id}/retry", s.rateLimited(h.retry))
}

// webhookRequest is the body of create and PATCH; absent fields are nil.
type webhookRequest struct {
	URL         *string   `json:"url"`
	EventTypes  *[]string `json:"event_types"`
	Description *string   `json:"description"`
	Enabled     *bool     `json:"enabled"`
}

// readWebhookRequest decodes and checks a body; the URL is checked and
// normalised in place.
func (h *webhookHandlers) readWebhookRequest(w http.ResponseWriter, r *http.Request, into any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, webhookMaxBodyBytes))
	if err != nil {
		return bodyError(err, newError(http.StatusRequestEntityTooLarge, "body_too_large", "the body exceeds 16 KiB"))
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return newError(http.StatusBadRequest, "invalid_json", "the body is not the expected JSON object: "+err.Error())
	}
	return nil
}

func invalidWebhook(field, message string) *APIError {
	return &APIError{Status: http.StatusBadRequest, Code: "invalid_webhook", Message: message, Field: field}
}

// check validates the fields present in req.
func (h *webhookHandlers) check(r *http.Request, req *webhookRequest) error {
	if req.URL != nil {
		u, err := jobs.CheckWebhookURL(r.Context(), *req.URL, h.deps.AllowPrivate)
		if err != nil {
			var uerr *jobs.WebhookURLError
			if errors.As(err, &uerr) {
				return invalidWebhook("url", "url "+uerr.Reason)
			}
			return err
		}
		req.URL = &u
	}
	if req.EventTypes != nil {
		if len(*req.EventTypes) > webhookMaxEventTypes {
			return invalidWebhook("event_types", "list at most 50 event types")
		}
		types, err := jobs.CheckWebhookEventTypes(*req.EventTypes)
		if err != nil {
			return invalidWebhook("event_types", err.Error())
		}
		req.EventTypes = &types
	}
	if req.Description != nil && len(*req.Description) > webhookMaxDescription {
		return invalidWebhook("description", "description is at most 500 bytes")
	}
	return nil
}

func (h *webhookHandlers) create(w http.ResponseWriter, r *http.Request) {
	key, err := h.s.auth.secretApp(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var req webhookRequest
	if err := h.readWebhookRequest(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	switch {
	case req.URL == nil:
		err = invalidWebhook("url", "url is required")
	case req.EventTypes == nil:
		err = invalidWebhook("event_types", "event_types is required (for example [\"emote.*\", \"generation.succeeded\"])")
	default:
		err = h.check(r, &req)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	existing, err := store.WebhookEndpointCount(r.Context(), h.s.jobs.Pool, key.AppID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if existing >= webhookMaxEndpointsApp {
		writeError(w, r, newError(http.StatusConflict, "too_many_webhooks", "an app has at most 20 webhook endpoints; delete one first"))
		return
	}
	e := &store.WebhookEndpoint{AppID: key.AppID, URL: *req.URL, EventTypes: *req.EventTypes,
		Enabled: req.Enabled == nil || *req.Enabled}
	if req.Description != nil {
		e.Description = *req.Description
	}
	if err := store.WebhookEndpointInsert(r.Context(), h.s.jobs.Pool, h.s.jobs.Secrets, e); err != nil {
		writeError(w, r, err)
		return
	}
	v := newWebhookEndpointView(e, h.s.cfg.Now())
	v.Secret = e.Secret
	w.Header().Set("Location", "/v1/webhooks/"+e.ID.String())
	writeJSON(w, http.StatusCreated, v)
}

func (h *webhookHandlers) list(w http.ResponseWriter, r *http.Request) {
	key, err := h.s.auth.secretApp(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	list, err := store.WebhookEndpointList(r.Context(), h.s.jobs.Pool, h.s.jobs.Secrets, key.AppID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := struct {
		Data []*webhookEndpointView `json:"data"`
	}{Data: make([]*webhookEndpointView, 0, len(list))}
	now := h.s.cfg.Now()
	for _, e := range list {
		out.Data = append(out.Data, newWebhookEndpointView(e, now))
	}
	writeJSON(w, http.StatusOK, out)
}

// endpoint authenticates and returns the app and the endpoint id named by
// the path; the endpoint's existence is checked by the caller's query.
func (h *webhookHandlers) endpoint(r *http.Request) (appID, id uuid.UUID, err error) {
	key, err := h.s.auth.secretApp(r)
	if err != nil {
		return uuid.Nil, uuid.Nil, err
	}
	id, err = uuid.Parse(r.PathValue("id"))
	if err != nil {
		return uuid.Nil, uuid.Nil, errEndpointNotFound
	}
	return key.AppID, id, nil
}

// notFound maps store.ErrNotFound to the route's 404.
func webhookNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return errEndpointNotFound
	}
	return err
}

func (h *webhookHandlers) get(w http.ResponseWriter, r *http.Request) {
	appID, id, err := h.endpoint(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	e, err := store.WebhookEndpointGetForApp(r.Context(), h.s.jobs.Pool, h.s.jobs.Secrets, appID, id)
	if err != nil {
		writeError(w, r, webhookNotFound(err))
		return
	}
	writeJSON(w, http.StatusOK, newWebhookEndpointView(e, h.s.cfg.Now()))
}

func (h *webhookHandlers) patch(w http.ResponseWriter, r *http.Request) {
	appID, id, err := h.endpoint(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var req webhookRequest
	if err := h.readWebhookRequest(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	if err := h.check(r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	change := &store.WebhookEndpointChange{URL: req.URL, Description: req.Description, Enabled: req.Enabled}
	if req.EventTypes != nil {
		change.EventTypes = *req.EventTypes
	}
	e, err := store.WebhookEndpointPatch(r.Context(), h.s.jobs.Pool, h.s.jobs.Secrets, appID, id, change)
	if err != nil {
		writeError(w, r, webhookNotFound(err))
		return
	}
	writeJSON(w, http.StatusOK, newWebhookEndpointView(e, h.s.cfg.Now()))
}

func (h *webhookHandlers) delete(w http.ResponseWriter, r *http.Request) {
	appID, id, err := h.endpoint(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := store.WebhookEndpointDelete(r.Context(), h.s.jobs.Pool, appID, id); err != nil {
		writeError(w, r, webhookNotFound(err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// rotate gives the endpoint a new secret, shown once; the old one keeps
// signing for overlap_seconds (default the route's RotationOverlap, at
// most 7 days; 0 stops it at once).
func (h *webhookHandlers) rotate(w http.ResponseWriter, r *http.Request) {
	appID, id, err := h.endpoint(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var req struct {
		OverlapSeconds *int64 `json:"overlap_seconds"`
	}
	if r.ContentLength != 0 {
		if err := h.readWebhookRequest(w, r, &req); err != nil {
			writeError(w, r, err)
			return
		}
	}
	overlap := h.deps.RotationOverlap
	if req.OverlapSeconds != nil {
		if *req.OverlapSeconds < 0 || time.Duration(*req.OverlapSeconds)*time.Second > webhookMaxOverlap {
			writeError(w, r, invalidWebhook("overlap_seconds", "overlap_seconds is between 0 and 604800 (7 days)"))
			return
		}
		overlap = time.Duration(*req.OverlapSeconds) * time.Second
	}
	e, err := store.WebhookEndpointRotate(r.Context(), h.s.jobs.Pool, h.s.jobs.Secrets, appID, id, overlap)
	if err != nil {
		writeError(w, r, webhookNotFound(err))
		return
	}
	v := newWebhookEndpointView(e, h.s.cfg.Now())
	v.Secret = e.Secret
	writeJSON(w, http.StatusOK, v)
}
