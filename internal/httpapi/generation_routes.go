package httpapi

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/riverqueue/river"

	"github.com/gamepipe/gamepipe/internal/blob"
	"github.com/gamepipe/gamepipe/internal/jobs"
	"github.com/gamepipe/gamepipe/internal/store"
)

// GeneraitivRouteDeps configures the generation routes and the Generaitiv
// webhook receiver.
type GeneraitivRouteDeps struct {
	// Deadline is how long a generation may wait for its completion before
	// generaitiv_deadline marks it timed_out. Defaults to 10m.
	Deadline time.Duration
	// PublicBaseURL, when set, makes image URLs in responses absolute.
	PublicBaseURL string
	// MaxBodyBytes caps a POST /v1/generations body. Defaults to 64 KiB.
	MaxBodyBytes int64
	// MaxWebhookBytes caps a callback body (413 past it). Defaults to
	// 16 KiB; the document's callbacks are a few hundred bytes.
	MaxWebhookBytes int64
	// NATS, when set, wakes the events streams as soon as a notification
	// for their generation is published (one subscription per process);
	// without it the streams rely on the poll.
	NATS *nats.Conn
	// EventsPollInterval is how often the process reads the state of every
	// generation with an open events stream, in one query. Defaults to
	// 500ms, or 2s when NATS is set.
	EventsPollInterval time.Duration
	// MaxEventStreamsPerApp caps an app's open events streams in this
	// process (429 past it). Defaults to 100.
	MaxEventStreamsPerApp int
	// BeforeCommit, when set, runs inside the create transaction after the
	// row and its jobs are inserted; an error rolls everything back. For
	// tests (docs/reliability.md #21).
	BeforeCommit func(ctx context.Context, id uuid.UUID) error
}

func (d *GeneraitivRouteDeps) withDefaults() *GeneraitivRouteDeps {
	c := *d
	c.Deadline = cmp.Or(c.Deadline, 10*time.Minute)
	c.MaxBodyBytes = cmp.Or(c.MaxBodyBytes, 64<<10)
	c.MaxWebhookBytes = cmp.Or(c.MaxWebhookBytes, 16<<10)
	c.MaxEventStreamsPerApp = cmp.Or(c.MaxEventStreamsPerApp, 100)
	if c.EventsPollInterval == 0 {
		c.EventsPollInterval = 500 * time.Millisecond
		if c.NATS != nil {
			c.EventsPollInterval = 2 * time.Second
		}
	}
	c.PublicBaseURL = strings.TrimRight(c.PublicBaseURL, "/")
	return &c
}

// generationRoutes registers /v1/generations and the Generaitiv webhook.
func (s *Server) generationRoutes(mux *http.ServeMux) {
	if s.jobs.Generaitiv == nil {
		return
	}
	gen := &generationHandlers{s: s, deps: s.jobs.Generaitiv.withDefaults()}
	gen.watch = newSSEWatch(s.logger, gen.deps.NATS, s.jobs.Pool, gen.deps.EventsPollInterval, gen.deps.MaxEventStreamsPerApp, generationKind)
	mux.HandleFunc("POST /v1/generations", s.rateLimited(gen.create))
	mux.HandleFunc("GET /v1/generations", s.rateLimited(gen.list))
	mux.HandleFunc("GET /v1/generations/{id}", s.rateLimited(gen.get))
	mux.HandleFunc("GET /v1/generations/{id}/image", s.rateLimited(gen.image))
	mux.HandleFunc("GET /v1/generations/{id}/events", s.rateLimited(gen.events))
	mux.HandleFunc("DELETE /v1/generations/{id}", s.rateLimited(gen.cancel))
	// Limited per source by its own, higher limit: callbacks come in
	// bursts from the upstream's few addresses.
	mux.HandleFunc("POST /webhooks/generaitiv/{id}", s.webhookLimited(gen.webhook))
}

// generationHandlers serve the generation routes.
type generationHandlers struct {
	s     *Server
	deps  *GeneraitivRouteDeps
	watch *sseWatch[store.GenerationState]
}

// create inserts the row, its generaitiv_generate job and its
// generaitiv_deadline job (scheduled at the deadline) in one transaction:
// 202 with the queued generation (createJob, which also handles the
// Idempotency-Key).
func (h *generationHandlers) create(w http.ResponseWriter, r *http.Request) {
	key, err := h.s.auth.secretApp(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	idemKey, err := idempotencyKey(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	// The image comes later; refused while the app is at its quota.
	if err := h.s.checkStorageQuota(r.Context(), key.AppID, 0); err != nil {
		writeError(w, r, err)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.deps.MaxBodyBytes))
	if err != nil {
		writeError(w, r, bodyError(err, newError(http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the body exceeds %d bytes", h.deps.MaxBodyBytes))))
		return
	}
	req, apiErr := parseGenerationRequest(body)
	if apiErr != nil {
		writeError(w, r, apiErr)
		return
	}
	input, _ := json.Marshal(req.Input)
	var publish json.RawMessage
	if req.Publish != nil {
		publish, _ = json.Marshal(req.Publish)
	}
	ctx := r.Context()
	h.s.createJob(w, r, &jobCreate{
		AppID: key.AppID, Route: "POST /v1/generations", Key: idemKey, Path: "/v1/generations/",
		RequestHash: func() []byte {
			canonical, _ := json.Marshal(req)
			hash := sha256.Sum256(canonical)
			return hash[:]
		},
		Insert: func(tx pgx.Tx) (*jobView, error) {
			g := &store.Generation{ID: uuid.New(), AppID: key.AppID, Model: req.Model, Input: input, Publish: publish,
				DeadlineAt: h.s.cfg.Now().Add(h.deps.Deadline)}
			if err := store.GenerationInsert(ctx, tx, g); err != nil {
				return nil, err
			}
			if _, err := h.s.jobs.River.InsertManyTx(ctx, tx, []river.InsertManyParams{
				{Args: jobs.GeneraitivGenerateArgs{GenerationID: g.ID}},
				{Args: jobs.GeneraitivDeadlineArgs{GenerationID: g.ID}, InsertOpts: &river.InsertOpts{ScheduledAt: g.DeadlineAt}},
			}); err != nil {
				return nil, fmt.Errorf("error inserting jobs of generation %s: %w", g.ID, err)
			}
			if h.deps.BeforeCommit != nil {
				if err := h.deps.BeforeCommit(ctx, g.ID); err != nil {
					return nil, err
				}
			}
			return newGenerationView(g, h.deps.PublicBaseURL), nil
		},
	})
}

// lookup authenticates and returns the app's generation named by the path;
// another app's is 404.
func (h *generationHandlers) lookup(r *http.Request) (*store.Generation, error) {
	key, err := h.s.auth.secretApp(r)
	if err != nil {
		return nil, err
	}
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return nil, errGenerationNotFound
	}
	g, err := store.GenerationGetForApp(r.Context(), h.s.jobs.Pool, key.AppID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errGenerationNotFound
	}
	return g, err
}

var errGenerationNotFound = newError(http.StatusNotFound, "not_found", "no such generation")

func (h *generationHandlers) get(w http.ResponseWriter, r *http.Request) {
	g, err := h.lookup(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newGenerationView(g, h.deps.PublicBaseURL))
}

// image serves the stored image through blob.Serve: ranges, conditional
// requests, and the time it was stored as Last-Modified.
func (h *generationHandlers) image(w http.ResponseWriter, r *http.Request) {
	g, err := h.lookup(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if g.ImageKey == "" {
		writeError(w, r, newError(http.StatusNotFound, "image_not_ready", "the generation has no stored image (yet); its status is "+string(g.Status)))
		return
	}
	var stored time.Time
	if g.FinishedAt != nil {
		stored = *g.FinishedAt
	}
	if err := blob.Serve(w, r, h.s.jobs.Blob, g.ImageKey, &blob.ServeConfig{
		ContentType: g.ImageContentType, CacheControl: "private, max-age=31536000, immutable",
		ModTime: stored, Window: h.s.transferWindow(g.ImageSize),
	}); err != nil {
		// A row without its blob is data loss, not a client error.
		writeError(w, r, fmt.Errorf("error serving image of generation %s: %w", g.ID, err))
	}
}

// cancel moves a generation that still waits for the upstream to
// canceled, with the generaitiv_finalize job that announces it, in one
// transaction. Generaitiv has no cancel route: the upstream finishes the
// work and its completion is recorded as late. Canceling a canceled
// generation answers it again; one that is finalizing or ended is 409.
func (h *generationHandlers) cancel(w http.ResponseWriter, r *http.Request) {
	g, err := h.lookup(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	now := h.s.cfg.Now()
	errNotCancellable := newError(http.StatusConflict, "not_cancellable", "the generation can no longer be canceled")
	g, err = store.GenerationUpdate(r.Context(), h.s.jobs.Pool, g.ID, func(tx pgx.Tx, g *store.Generation) error {
		switch {
		case g.Status == store.JobCanceled:
			return store.ErrUnchanged
		case !store.GenerationAwaitingCompletion(g.Status):
			errNotCancellable.Message += "; its status is " + string(g.Status)
			return errNotCancellable
		}
		g.Status, g.FinishedAt = store.JobCanceled, &now
		g.ErrorCode, g.ErrorMessage = "canceled", "canceled at the app's request"
		_, err := h.s.jobs.River.InsertTx(r.Context(), tx, jobs.GeneraitivFinalizeArgs{GenerationID: g.ID}, nil)
		return err
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newGenerationView(g, h.deps.PublicBaseURL))
}
