package dashboard

import (
	"cmp"
	"errors"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/gamepipe/gamepipe/internal/blob"
	"github.com/gamepipe/gamepipe/internal/ratelimit"
)

// Config configures a Handler.
type Config struct {
	// QueryTimeout is the statement timeout of every dashboard query; a
	// query that hits it answers 503 asking for a narrower range. Defaults
	// to 10s.
	QueryTimeout time.Duration
	// SessionTTL is how long a sign-in lasts. Defaults to 12h.
	SessionTTL time.Duration
	// SecureCookie marks the session cookie Secure (the api is served over
	// https, PUBLIC_BASE_URL).
	SecureCookie bool
	// SignInLimit bounds sign-in attempts per source address. Defaults to
	// a burst of 10, then one every 6 seconds.
	SignInLimit ratelimit.Config
	// ClientIP decides a request's source address.
	ClientIP ratelimit.ClientIP
	// Now returns the time; tests may fix it. Defaults to time.Now.
	Now func() time.Time
}

// Deps are a Handler's collaborators.
type Deps struct {
	Logger zerolog.Logger
	// DB holds sessions and keys (the primary).
	DB *pgxpool.Pool
	// Read runs the telemetry queries (DATABASE_READ_URL); defaults to DB.
	Read *pgxpool.Pool
	// Blob holds the level models' files; without it GET
	// /dashboard/api/models/{id}/file answers 503.
	Blob blob.Store
}

// Handler serves the dashboard's routes.
type Handler struct {
	cfg     Config
	logger  zerolog.Logger
	db      *pgxpool.Pool
	read    *pgxpool.Pool
	blob    blob.Store
	limiter *ratelimit.Limiter
	csrf    *http.CrossOriginProtection
}

// Limits of what one request may ask for.
const (
	// maxRange is the longest time range a view covers.
	maxRange = 400 * 24 * time.Hour
	// defaultRange is the range of a request that names none.
	defaultRange = 7 * 24 * time.Hour
)

// New validates the configuration and builds a Handler.
func New(cfg *Config, deps *Deps) (*Handler, error) {
	c := *cfg
	c.QueryTimeout = cmp.Or(c.QueryTimeout, 10*time.Second)
	c.SessionTTL = cmp.Or(c.SessionTTL, 12*time.Hour)
	if c.SignInLimit == (ratelimit.Config{}) {
		c.SignInLimit = ratelimit.Config{Rate: 1.0 / 6, Burst: 10, MaxKeys: 10_000}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if deps.DB == nil {
		return nil, errors.New("dashboard: DB is required")
	}
	if err := c.SignInLimit.Validate(); err != nil {
		return nil, err
	}
	return &Handler{
		cfg:     c,
		logger:  deps.Logger,
		db:      deps.DB,
		read:    cmp.Or(deps.Read, deps.DB),
		blob:    deps.Blob,
		limiter: ratelimit.New(c.SignInLimit),
		csrf:    http.NewCrossOriginProtection(),
	}, nil
}

// Register adds the dashboard's routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle("GET /dashboard/analytics", h.page(http.HandlerFunc(h.serveIndex)))
	mux.Handle("GET /dashboard/analytics/", h.page(h.assets()))
	mux.HandleFunc("POST /dashboard/signin", h.handleSignIn)
	mux.HandleFunc("POST /dashboard/signout", h.handleSignOut)
	mux.HandleFunc("GET /dashboard/api/session", h.handleSession)
	mux.HandleFunc("GET /dashboard/api/overview", h.api(h.viewOverview))
	mux.HandleFunc("GET /dashboard/api/funnel", h.api(h.viewFunnel))
	mux.HandleFunc("GET /dashboard/api/funnel/steps", h.api(h.viewFunnelSteps))
	mux.HandleFunc("GET /dashboard/api/retention", h.api(h.viewRetention))
	mux.HandleFunc("GET /dashboard/api/funnels", h.handleListFunnels)
	mux.HandleFunc("POST /dashboard/api/funnels", h.handleSaveFunnel)
	mux.HandleFunc("GET /dashboard/api/funnels/{name}", h.handleGetFunnel)
	mux.HandleFunc("DELETE /dashboard/api/funnels/{name}", h.handleDeleteFunnel)
	mux.HandleFunc("GET /dashboard/api/performance", h.api(h.viewPerformance))
	mux.HandleFunc("GET /dashboard/api/events", h.api(h.viewEvents))
	mux.HandleFunc("GET /dashboard/api/player", h.api(h.viewPlayer))
	mux.HandleFunc("GET /dashboard/api/jobs", h.api(h.viewJobs))
	mux.HandleFunc("GET /dashboard/api/levels", h.api(h.viewLevels))
	mux.HandleFunc("GET /dashboard/api/levels/{ref}/heatmap", h.levelAPI(h.viewHeatmap))
	mux.HandleFunc("GET /dashboard/api/levels/{ref}/sessions", h.levelAPI(h.viewLevelSessions))
	mux.HandleFunc("GET /dashboard/api/levels/{ref}/paths", h.levelAPI(h.viewLevelPaths))
	mux.HandleFunc("GET /dashboard/api/levels/{ref}/events", h.levelAPI(h.viewLevelEvents))
	mux.HandleFunc("GET /dashboard/api/models/{id}/file", h.handleModelFile)
	mux.HandleFunc("PUT /dashboard/api/models/{id}/alignment", h.handleModelAlignment)
}

// contentSecurityPolicy lets a page load only the api's own scripts,
// styles and images, and be framed by nobody.
const contentSecurityPolicy = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"

// securityHeaders are set on every dashboard response.
func securityHeaders(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", contentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("X-Frame-Options", "DENY")
}

// page wraps a page or asset route.
func (h *Handler) page(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w)
		next.ServeHTTP(w, r)
	})
}
