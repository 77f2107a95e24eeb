package httpapi

import (
	"cmp"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/gamepipe/gamepipe/internal/kinetix"
	"github.com/gamepipe/gamepipe/internal/store"
)

// KinetixRouteDeps configures the Kinetix pass-through routes (GET
// /v1/kinetix/plan and /v1/kinetix/qr); nil leaves them unregistered. The
// emote routes themselves need only JobDeps.
type KinetixRouteDeps struct {
	// BaseURL is the Kinetix API. Required.
	BaseURL string
	// APIKey is the x-api-key for apps without a key of their own.
	APIKey string
	// HTTPClient makes the upstream requests. Defaults to the kinetix
	// client's pooled one.
	HTTPClient *http.Client
	// Timeout bounds one upstream call. Defaults to 10s.
	Timeout time.Duration
	// GameAPIKey is the x-api-key of POST /v1/plans, which takes the game's
	// key rather than a virtual world's. Empty sends the virtual world's
	// key (the app's, or APIKey).
	GameAPIKey string
}

// emoteAPI serves the emote routes (docs/upstreams-kinetix.md, "gamepipe's
// emote API").
type emoteAPI struct {
	s       *Server
	kinetix *kinetix.Client // nil without KinetixRouteDeps
	apiKey  string
}

// emoteRoutes registers /v1/emotes and, with KinetixRouteDeps, the
// /v1/kinetix pass-through routes. Every route takes the app's secret key.
func (s *Server) emoteRoutes(mux *http.ServeMux) {
	a := &emoteAPI{s: s}
	// Video uploads may take minutes: they get an upload's timeouts.
	videoLimit := s.jobs.MaxVideoBytes + emoteFormOverhead
	mux.HandleFunc("POST /v1/emotes", s.rateLimited(s.longUpload(videoLimit, a.handleCreate)))
	mux.HandleFunc("GET /v1/emotes", s.rateLimited(a.handleList))
	mux.HandleFunc("GET /v1/emotes/{id}", s.rateLimited(a.handleGet))
	mux.HandleFunc("DELETE /v1/emotes/{id}", s.rateLimited(a.handleCancel))
	mux.HandleFunc("POST /v1/emotes/{id}/validate", s.rateLimited(a.handleValidate))
	mux.HandleFunc("POST /v1/emotes/{id}/retake", s.rateLimited(s.longUpload(videoLimit, a.handleRetake)))
	mux.HandleFunc("PUT /v1/emotes/{id}/video", s.rateLimited(s.longUpload(videoLimit, a.handleVideo)))

	kd := s.jobs.Kinetix
	if kd == nil {
		return
	}
	c, err := kinetix.New(&kinetix.Config{BaseURL: kd.BaseURL, APIKey: kd.APIKey, HTTPClient: kd.HTTPClient,
		Timeout: cmp.Or(kd.Timeout, 10*time.Second)})
	if err != nil {
		s.logger.Error().Err(err).Msg("httpapi: Kinetix pass-through routes disabled")
		return
	}
	a.kinetix, a.apiKey = c.WithGameAPIKey(kd.GameAPIKey), kd.APIKey
	mux.HandleFunc("GET /v1/kinetix/plan", s.rateLimited(a.handlePlan))
	mux.HandleFunc("GET /v1/kinetix/qr", s.rateLimited(a.handleQR))
}

// errEmoteNotFound answers unknown emotes and other apps' emotes alike.
var errEmoteNotFound = newError(http.StatusNotFound, "not_found", "no such emote")

// emoteID reads the {id} path value; a malformed id is not found.
func emoteID(r *http.Request) (uuid.UUID, error) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return uuid.Nil, errEmoteNotFound
	}
	return id, nil
}

// mapEmoteStoreErr turns store.ErrNotFound into the 404.
func mapEmoteStoreErr(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return errEmoteNotFound
	}
	return err
}

// viewEmote is the emote as a job object; its result is the upstream's
// emote, as stored.
func viewEmote(e *store.Emote) *jobView { return e.Object() }
