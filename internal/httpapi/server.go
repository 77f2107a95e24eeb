// Package httpapi is gamepipe's HTTP API: telemetry ingestion
// (docs/telemetry.md), the export flush trigger, level model uploads
// (docs/models.md), Kinetix emotes and Generaitiv generations for game
// servers with their events stream, the Generaitiv webhook receiver
// (docs/upstreams-*.md), and /healthz and /readyz (package health). The cmd
// layer serves its metrics on their own address. Handlers validate, publish
// or enqueue (a job in the same transaction as its row), and answer; they do
// no slow work.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/gamepipe/gamepipe/internal/auth"
	"github.com/gamepipe/gamepipe/internal/blob"
	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/health"
	"github.com/gamepipe/gamepipe/internal/ratelimit"
	"github.com/gamepipe/gamepipe/internal/telemetry"
)

// Publisher is what the API needs from JetStream.
type Publisher interface {
	Publish(ctx context.Context, msgs []eventstream.Message) (*eventstream.Result, error)
}

// Config configures a Server. It holds no defaults: internal/config owns
// them (README.md, configuration), and New refuses a value it cannot run
// with, so a test passes what it needs (testConfig in the tests starts from
// the production values).
type Config struct {
	// Limits bounds what one ingestion request may contain; a zero field
	// takes the ingestion document's limit (telemetry.Limits.WithDefaults).
	Limits telemetry.Limits
	// MaxBodyBytes caps a request body, after gzip decompression. Positive.
	MaxBodyBytes int64
	// BodyReadTimeout bounds reading one request's body (slow senders are
	// cut off). Positive.
	BodyReadTimeout time.Duration
	// HeaderReadTimeout bounds reading a request's headers (slowloris).
	// Positive.
	HeaderReadTimeout time.Duration
	// RequestTimeout bounds one request's handling. Positive.
	RequestTimeout time.Duration
	// KeyCacheTTL is how long a key lookup is cached. Positive.
	KeyCacheTTL time.Duration
	// KeyStaleMax is how long after its last successful lookup a known key
	// is still accepted while lookups fail (Postgres unreachable); 0: not
	// at all.
	KeyStaleMax time.Duration
	// RateLimit configures the per-source-IP limit.
	RateLimit ratelimit.Config
	// ClientIP decides when X-Forwarded-For counts.
	ClientIP ratelimit.ClientIP
	// WebhookRateLimit configures the per-source-IP limit of the upstream
	// webhook receivers, kept apart from RateLimit: callbacks come in bursts
	// from the upstream's few addresses.
	WebhookRateLimit ratelimit.Config
	// Now returns the time; tests may fix it. Nil is time.Now.
	Now func() time.Time
	// MaxInflightBodyBytes bounds the memory of ingestion bodies being
	// read, across all requests: a body that does not fit is answered 503
	// overloaded. At least MinInflightBodyBytes(MaxBodyBytes).
	MaxInflightBodyBytes int64
	// UploadMinRate is the slowest average rate, in bytes per second, that a
	// model or video upload may keep once UploadRateGrace has passed; a
	// slower one is cut off. Zero or negative: no floor.
	UploadMinRate int64
	// UploadRateGrace is how long an upload may take before UploadMinRate
	// applies. Not negative.
	UploadRateGrace time.Duration
}

// Deps are the Server's collaborators, built by the cmd layer.
type Deps struct {
	Logger zerolog.Logger
	// Metrics receives the api's collectors; nil leaves them unregistered.
	Metrics   prometheus.Registerer
	Publisher Publisher
	KeyLookup KeyLookup
	// Ready are the readiness checks of GET /readyz (Postgres, NATS).
	Ready []health.Check
	// FlushExports asks every exporter to flush its buffers now and returns
	// how many answered (POST /api/export). Nil disables the route (503).
	FlushExports func(ctx context.Context) (exporters int, err error)
	// Jobs serves the game-server job APIs (emotes, generations, models);
	// nil leaves those routes unregistered.
	Jobs *JobDeps
	// Dashboard registers the /dashboard routes (internal/dashboard); nil
	// leaves them out.
	Dashboard interface{ Register(mux *http.ServeMux) }
	// Rejections counts each app's refused telemetry events for the
	// dashboard; nil counts them in the metric alone. The caller runs and
	// flushes it.
	Rejections *Rejections
}

// JobDeps are what the job APIs need: the pool for domain rows, River for
// inserting jobs in the same transaction, blob storage for uploads.
type JobDeps struct {
	Pool  *pgxpool.Pool
	River *river.Client[pgx.Tx]
	Blob  blob.Store
	// MaxVideoBytes caps an emote's uploaded video.
	MaxVideoBytes int64
	// MaxModelBytes caps an uploaded level model.
	MaxModelBytes int64
	// StorageQuotaBytes caps what one app keeps stored (models, emote
	// videos, generated images); 0 is no quota.
	StorageQuotaBytes int64
	// Kinetix and Generaitiv configure the routes of those issues.
	Kinetix    *KinetixRouteDeps
	Generaitiv *GeneraitivRouteDeps
	// Secrets opens the apps' sealed upstream keys; nil when no secrets
	// key is configured.
	Secrets *auth.SecretBox
	// Webhooks configures /v1/webhooks; nil takes the defaults.
	Webhooks *WebhookRouteDeps
}

// Server is the API's http.Handler.
type Server struct {
	cfg       Config
	logger    zerolog.Logger
	metrics   *apiMetrics
	publisher Publisher
	auth      *authenticator
	limiter   *ratelimit.Limiter
	ready     []health.Check
	flush     func(ctx context.Context) (int, error)
	jobs      *JobDeps
	dashboard interface{ Register(mux *http.ServeMux) }
	// rejections counts refused events per app; nil: the metric alone.
	rejections *Rejections
	handler    http.Handler
	// tooLarge answers a body over cfg.MaxBodyBytes.
	tooLarge *APIError
	// webhookLimiter limits the webhook receivers per source.
	webhookLimiter *ratelimit.Limiter
	// bodies holds ingestion bodies being read, within
	// cfg.MaxInflightBodyBytes.
	bodies *bodyPool
}

// New validates the configuration and builds the routes.
func New(cfg *Config, deps *Deps) (*Server, error) {
	c := *cfg
	c.Limits = c.Limits.WithDefaults()
	if c.Now == nil {
		c.Now = time.Now
	}
	if deps.Publisher == nil || deps.KeyLookup == nil {
		return nil, errors.New("httpapi: Publisher and KeyLookup are required")
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	m, err := newAPIMetrics(deps.Metrics)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:        c,
		logger:     deps.Logger,
		metrics:    m,
		publisher:  deps.Publisher,
		auth:       newAuthenticator(deps.KeyLookup, c.KeyCacheTTL, c.KeyStaleMax, c.Now),
		limiter:    ratelimit.New(c.RateLimit),
		ready:      deps.Ready,
		flush:      deps.FlushExports,
		jobs:       deps.Jobs,
		dashboard:  deps.Dashboard,
		rejections: deps.Rejections,
		tooLarge: &APIError{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large",
			Message: "request body exceeds " + strconv.FormatInt(c.MaxBodyBytes, 10) + " bytes"},
		bodies: newBodyPool(c.MaxBodyBytes, c.MaxInflightBodyBytes),
	}
	s.webhookLimiter = ratelimit.New(c.WebhookRateLimit)
	s.handler = s.observe(s.routes())
	return s, nil
}

// validate refuses a configuration the server cannot run with.
func (c *Config) validate() error {
	var errs []error
	positive := func(name string, v int64) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("httpapi: %s must be positive, got %d", name, v))
		}
	}
	positive("MaxBodyBytes", c.MaxBodyBytes)
	positive("BodyReadTimeout", int64(c.BodyReadTimeout))
	positive("HeaderReadTimeout", int64(c.HeaderReadTimeout))
	positive("RequestTimeout", int64(c.RequestTimeout))
	positive("KeyCacheTTL", int64(c.KeyCacheTTL))
	if c.KeyStaleMax < 0 || c.UploadRateGrace < 0 {
		errs = append(errs, errors.New("httpapi: KeyStaleMax and UploadRateGrace must not be negative"))
	}
	if c.MaxInflightBodyBytes < MinInflightBodyBytes(c.MaxBodyBytes) {
		errs = append(errs, fmt.Errorf("httpapi: MaxInflightBodyBytes (%d) must be at least %d for MaxBodyBytes %d",
			c.MaxInflightBodyBytes, MinInflightBodyBytes(c.MaxBodyBytes), c.MaxBodyBytes))
	}
	if c.RateLimit.Rate <= 0 || c.WebhookRateLimit.Rate <= 0 {
		errs = append(errs, errors.New("httpapi: RateLimit.Rate and WebhookRateLimit.Rate must be positive"))
	}
	if err := c.RateLimit.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.WebhookRateLimit.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("httpapi: WebhookRateLimit: %w", err))
	}
	return errors.Join(errs...)
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	ingest := s.ingestLimited(s.handleIngest)
	for _, p := range []string{"/api/events", "/api/player", "/api/funnel", "/api/realtime"} {
		mux.HandleFunc("POST "+p, ingest)
	}
	mux.HandleFunc("POST /api/sql/select", s.rateLimited(s.handleSQLSelect))
	mux.HandleFunc("POST /api/export", s.rateLimited(s.handleExport))
	if s.jobs != nil {
		s.modelRoutes(mux)
		s.emoteRoutes(mux)
		s.generationRoutes(mux)
		s.webhookRoutes(mux)
	}
	if s.dashboard != nil {
		s.dashboard.Register(mux)
	}
	health.Register(mux, s.logger, s.ready...)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { writeError(w, r, errNotFound) })
	return mux
}

// HTTPServer wraps the handler in an http.Server with timeouts that stop
// slow clients (slowloris) from holding connections.
func (s *Server) HTTPServer(addr string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           s,
		ReadHeaderTimeout: s.cfg.HeaderReadTimeout,
		ReadTimeout:       s.cfg.BodyReadTimeout + 5*time.Second,
		WriteTimeout:      s.cfg.RequestTimeout + 5*time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    32 << 10,
	}
}
