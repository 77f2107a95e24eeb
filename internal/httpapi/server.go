// Package httpapi is gamepipe's HTTP API: telemetry ingestion exactly as
// telemetry-ingestion-api.txt describes it, and health; the cmd layer serves
// metrics on their own address. Handlers validate, publish or enqueue, and
// answer; they do no slow work.
package httpapi

import (
	"cmp"
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

// Config configures a Server.
type Config struct {
	// Limits bounds what one ingestion request may contain.
	Limits telemetry.Limits
	// MaxBodyBytes caps a request body, after gzip decompression. Defaults
	// to 1 MiB.
	MaxBodyBytes int64
	// BodyReadTimeout bounds reading one request's body (slow senders are
	// cut off). Defaults to 10s.
	BodyReadTimeout time.Duration
	// HeaderReadTimeout bounds reading a request's headers (slowloris).
	// Defaults to 5s.
	HeaderReadTimeout time.Duration
	// RequestTimeout bounds one request's handling. Defaults to 15s.
	RequestTimeout time.Duration
	// KeyCacheTTL is how long a key lookup is cached. Defaults to 30s.
	KeyCacheTTL time.Duration
	// KeyStaleMax is how long after its last successful lookup a known key
	// is still accepted while lookups fail (Postgres unreachable). Defaults
	// to 10m.
	KeyStaleMax time.Duration
	// RateLimit configures the per-source-IP limit.
	RateLimit ratelimit.Config
	// TrustedProxies decides when X-Forwarded-For counts.
	ClientIP ratelimit.ClientIP
	// WebhookRateLimit configures the per-source-IP limit of the upstream
	// webhook receivers, kept apart from RateLimit: callbacks come in bursts
	// from the upstream's few addresses. A zero Rate defaults to 100/s with
	// a burst of 200.
	WebhookRateLimit ratelimit.Config
	// Now returns the time; tests may fix it. Defaults to time.Now.
	Now func() time.Time
	// MaxInflightBodyBytes bounds the memory of ingestion bodies being
	// read, across all requests: a body that does not fit is answered 503
	// overloaded. Defaults to 64 MiB; must be at least
	// MinInflightBodyBytes(MaxBodyBytes).
	MaxInflightBodyBytes int64
	// UploadMinRate is the slowest average rate, in bytes per second, that a
	// model or video upload may keep once UploadRateGrace has passed; a
	// slower one is cut off. Defaults to 64 KiB/s; negative: no floor.
	UploadMinRate int64
	// UploadRateGrace is how long an upload may take before UploadMinRate
	// applies. Defaults to 10s.
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
	handler   http.Handler
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
	c.MaxBodyBytes = cmp.Or(c.MaxBodyBytes, 1<<20)
	c.BodyReadTimeout = cmp.Or(c.BodyReadTimeout, 10*time.Second)
	c.RequestTimeout = cmp.Or(c.RequestTimeout, 15*time.Second)
	c.HeaderReadTimeout = cmp.Or(c.HeaderReadTimeout, 5*time.Second)
	c.KeyCacheTTL = cmp.Or(c.KeyCacheTTL, 30*time.Second)
	c.KeyStaleMax = cmp.Or(c.KeyStaleMax, 10*time.Minute)
	c.Limits = c.Limits.WithDefaults()
	c.MaxInflightBodyBytes = cmp.Or(c.MaxInflightBodyBytes, 64<<20)
	c.UploadMinRate = cmp.Or(c.UploadMinRate, 64<<10)
	c.UploadRateGrace = cmp.Or(c.UploadRateGrace, 10*time.Second)
	if c.Now == nil {
		c.Now = time.Now
	}
	if deps.Publisher == nil || deps.KeyLookup == nil {
		return nil, errors.New("httpapi: Publisher and KeyLookup are required")
	}
	if c.MaxInflightBodyBytes < MinInflightBodyBytes(c.MaxBodyBytes) {
		return nil, fmt.Errorf("httpapi: MaxInflightBodyBytes (%d) must be at least %d for MaxBodyBytes %d",
			c.MaxInflightBodyBytes, MinInflightBodyBytes(c.MaxBodyBytes), c.MaxBodyBytes)
	}
	if err := c.RateLimit.Validate(); err != nil {
		return nil, err
	}
	if c.WebhookRateLimit.Rate == 0 {
		c.WebhookRateLimit.Rate, c.WebhookRateLimit.Burst = 100, cmp.Or(c.WebhookRateLimit.Burst, 200)
	}
	if err := c.WebhookRateLimit.Validate(); err != nil {
		return nil, fmt.Errorf("httpapi: WebhookRateLimit: %w", err)
	}
	m, err := newAPIMetrics(deps.Metrics)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:       c,
		logger:    deps.Logger,
		metrics:   m,
		publisher: deps.Publisher,
		auth:      newAuthenticator(deps.KeyLookup, c.KeyCacheTTL, c.KeyStaleMax, c.Now),
		limiter:   ratelimit.New(c.RateLimit),
		ready:     deps.Ready,
		flush:     deps.FlushExports,
		jobs:      deps.Jobs,
		tooLarge: &APIError{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large",
			Message: "request body exceeds " + strconv.FormatInt(c.MaxBodyBytes, 10) + " bytes"},
		bodies: newBodyPool(c.MaxBodyBytes, c.MaxInflightBodyBytes),
	}
	s.webhookLimiter = ratelimit.New(c.WebhookRateLimit)
	s.handler = s.observe(s.routes())
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	ingest := s.rateLimited(s.handleIngest)
	for _, p := range []string{"/api/events", "/api/player", "/api/funnel", "/api/realtime"} {
		mux.HandleFunc("POST "+p, ingest)
	}
	mux.HandleFunc("POST /api/sql/select", s.rateLimited(s.handleSQLSelect))
	mux.HandleFunc("POST /api/export", s.rateLimited(s.handleExport))
	if s.jobs != nil {
		s.modelRoutes(mux)
		s.emoteRoutes(mux)
		s.generationRoutes(mux)
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
