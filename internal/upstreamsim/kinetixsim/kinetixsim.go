// Package kinetixsim simulates the Kinetix user-generated-emote API
// (Kinetix's UGC emote API routes) for tests, the local stack and benchmarks: every
// route with its headers and bodies, x-api-key checks, process tokens that
// are usable once and for TokenTTL, processes that move through their
// statuses over ProcessDuration, a validation flow switched on per key, and
// fault injection (latency, 429 with Retry-After, 5xx, timeouts, failing or
// never-ending processes) with counters a test can read. Every documented
// header is checked (Content-Type included), GameAPIKeys can be told from
// VirtualWorldKeys, and a variations mode answers the way a real service
// may where the document is silent.
//
// Where the document is silent (response bodies, status names, error codes)
// the choices are written down in docs/upstreams-kinetix.md; the client in
// internal/kinetix follows the same page. This package imports only the
// standard library and a QR encoder, never the client.
package kinetixsim

import (
	"cmp"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Config configures a Server.
type Config struct {
	// Keys lists the accepted x-api-key values. Empty accepts any non-empty
	// key. Each key is its own virtual world: tokens and processes are not
	// visible with another key.
	Keys []string
	// ValidationKeys lists the keys whose processes use the validation flow
	// (they end in awaiting_validation until validated or retaken). "*"
	// turns it on for every key.
	ValidationKeys []string
	// ProcessDuration is how long a process takes from creation to its end
	// state. Defaults to 3s.
	ProcessDuration time.Duration
	// TokenTTL is how long a process token is usable. Defaults to 5 minutes.
	TokenTTL time.Duration
	// MaxVideoBytes caps an uploaded video (413 past it). Defaults to 512 MiB.
	MaxVideoBytes int64
	// Latency delays every request. Zero means none.
	Latency time.Duration
	// Faults are injected from the start; AddFault adds more.
	Faults []Fault
	// Now returns the time; tests may move it. Defaults to time.Now.
	Now func() time.Time
	// GameKeys, when set, are the GameAPIKeys: POST /v1/plans takes only
	// these, and the other routes (which take a VirtualWorldKey) refuse
	// them. Empty: any accepted key works on every route.
	GameKeys []string
	// DefaultWorldKey is the key of "virtual world 1", the world a QR code
	// is made for when the request names none. Defaults to the first of
	// Keys, or "virtual-world-1".
	DefaultWorldKey string
	// Variations makes answers differ from our own choices the way the
	// document allows: extra fields, other status words and casing, error
	// codes in another form or missing, a QR code as JSON with a URL
	// (docs/upstreams-kinetix.md).
	Variations bool
}

// Server is the simulator, an http.Handler.
type Server struct {
	cfg Config
	mux *http.ServeMux

	mu         sync.Mutex
	tokens     map[string]*token
	processes  map[string]*process
	validation map[string]bool
	faults     []*Fault
	stats      Stats
	// lastDevToken is the latest QR code's token and world key.
	lastDevToken [2]string
}

// New returns a simulator.
func New(cfg *Config) *Server {
	c := Config{}
	if cfg != nil {
		c = *cfg
	}
	c.ProcessDuration = cmp.Or(c.ProcessDuration, 3*time.Second)
	c.TokenTTL = cmp.Or(c.TokenTTL, 5*time.Minute)
	c.MaxVideoBytes = cmp.Or(c.MaxVideoBytes, 512<<20)
	if c.DefaultWorldKey == "" {
		c.DefaultWorldKey = "virtual-world-1"
		if len(c.Keys) > 0 {
			c.DefaultWorldKey = c.Keys[0]
		}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	s := &Server{
		cfg:        c,
		mux:        http.NewServeMux(),
		tokens:     make(map[string]*token),
		processes:  make(map[string]*process),
		validation: make(map[string]bool),
		stats:      Stats{Requests: make(map[string]int)},
	}
	for _, k := range c.ValidationKeys {
		s.validation[k] = true
	}
	for _, f := range c.Faults {
		s.AddFault(f)
	}
	s.mux.HandleFunc("POST /v1/plans", s.handlePlans)
	s.mux.HandleFunc("GET /v1/process/token", s.handleToken)
	s.mux.HandleFunc("POST /v1/process", s.handleCreate)
	s.mux.HandleFunc("GET /v1/process/{uuid}", s.handleProcess)
	s.mux.HandleFunc("POST /v1/process/{uuid}/validate", s.handleValidate)
	s.mux.HandleFunc("POST /v1/process/{uuid}/retake", s.handleRetake)
	s.mux.HandleFunc("GET /v1/process/token/{token}", s.handleTokenStatus)
	s.mux.HandleFunc("GET /v1/process/dev-token", s.handleDevToken)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such route")
	})
	return s
}

// ServeHTTP counts the request, applies latency and faults, checks the
// x-api-key and the Content-Type, and serves the route.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, route := s.mux.Handler(r)
	s.begin(route)
	defer s.end()

	if s.cfg.Variations {
		w = &variedWriter{ResponseWriter: w}
	}
	if !s.inject(w, r, route) {
		return
	}
	if route != "" && (!s.authorized(w, r, route) || !contentTypeOK(w, r, route)) {
		return
	}
	s.mux.ServeHTTP(w, r)
}

// authorized checks x-api-key: present, listed when Keys is set, and of
// the kind the route takes (a GameAPIKey for POST /v1/plans, a
// VirtualWorldKey elsewhere) when GameKeys is set.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request, route string) bool {
	key := r.Header.Get("X-Api-Key")
	isGame := slices.Contains(s.cfg.GameKeys, key)
	switch {
	case key == "":
		writeError(w, http.StatusUnauthorized, "missing_api_key", "the x-api-key header is required")
		return false
	case len(s.cfg.GameKeys) > 0 && route == "POST /v1/plans":
		if !isGame {
			writeError(w, http.StatusUnauthorized, "invalid_api_key", "POST /v1/plans takes a GameAPIKey as x-api-key")
		}
		return isGame
	case isGame:
		writeError(w, http.StatusUnauthorized, "invalid_api_key", "this route takes a VirtualWorldKey as x-api-key, not a GameAPIKey")
		return false
	case len(s.cfg.Keys) > 0 && !slices.Contains(s.cfg.Keys, key):
		writeError(w, http.StatusUnauthorized, "invalid_api_key", "the x-api-key is not a known virtual world key")
		return false
	}
	return true
}

// contentTypeOK checks the Content-Type the document marks required on
// every route: application/json, except on POST /v1/process, whose body
// carries the video file and so is multipart/form-data (the document says
// application/json there too, which cannot carry a file).
func contentTypeOK(w http.ResponseWriter, r *http.Request, route string) bool {
	want := "application/json"
	if route == "POST /v1/process" {
		want = "multipart/form-data"
	}
	got, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if got != want {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type",
			fmt.Sprintf("Content-Type must be %s, got %q", want, r.Header.Get("Content-Type")))
		return false
	}
	return true
}

// SetValidationFlow switches the validation flow on or off for a key's
// processes created from now on.
func (s *Server) SetValidationFlow(key string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.validation[key] = on
}

func (s *Server) validationFlow(key string) bool {
	return s.validation[key] || s.validation["*"]
}

func (s *Server) now() time.Time { return s.cfg.Now() }

// errorBody is every error response: {"error": code, "message": text}.
type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	if _, ok := w.(*variedWriter); ok {
		writeJSON(w, status, variedError(status, code, msg))
		return
	}
	writeJSON(w, status, errorBody{Error: code, Message: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	if _, ok := w.(*variedWriter); ok {
		v = varied(v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
