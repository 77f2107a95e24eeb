package generaitivsim

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"log"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a Server.
type Config struct {
	// GenerationTime is how long one generation takes from /consumer/gen to
	// its completion. Defaults to 3s.
	GenerationTime time.Duration
	// Keys, when set, are the only Bearer keys accepted; otherwise any
	// non-empty key is.
	Keys []string
	// GenRate is /consumer/gen's sustained rate per key, per second, past
	// which it answers 429. Defaults to 10.
	GenRate float64
	// GenBurst is the burst that rate allows. Defaults to 20.
	GenBurst int
	// PaymentRequired answers every generation with 402, as the document
	// says unsubscribed requests will be once fees are in place.
	PaymentRequired bool
	// WebhookAttempts is how many times a callback is tried while the
	// receiver does not answer 2xx. Defaults to 5.
	WebhookAttempts int
	// WebhookRetryDelay is the pause between callback attempts. Defaults to
	// 500ms.
	WebhookRetryDelay time.Duration
	// SeparateWebsocket stops ServeHTTP serving the websocket: it is then
	// served only by WebsocketHandler, on an address of its own, as the
	// document's separate websocket host has it.
	SeparateWebsocket bool
	// Variations makes answers differ from the examples the way the
	// document allows: extra fields, other status words and casing, an
	// opaque cursor (see docs/upstreams-generaitiv.md).
	Variations bool
	// Logger receives one line per notable event; nil discards them.
	Logger *log.Logger
}

// Server is the simulated Generaitiv API: an http.Handler serving the REST
// routes under /v1/, the websocket at / (any request with an Upgrade
// header and ?id=&jwt=), images under /images/ and signed uploads under
// /upload/.
type Server struct {
	cfg    Config
	secret []byte
	mux    *http.ServeMux
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	hooks  *http.Client

	mu        sync.Mutex
	faults    Faults
	users     map[string]*user // by lower-case address
	cols      map[string]*collection
	tokens    map[string]*token // by lower-case token id
	workloads map[string]*workload
	buckets   map[string]*bucket
	uploads   map[string][]byte
	stats     Stats
	genFlight atomic.Int64
}

// Stats counts what the simulator has seen.
type Stats struct {
	// GenRequests counts POST /consumer/gen calls, GenAccepted those that
	// started a workload, Gen429 and Gen402 the refused ones.
	GenRequests, GenAccepted, Gen429, Gen402 int
	// MaxGenInFlight is the most /consumer/gen calls served at once.
	MaxGenInFlight int
	// WebhooksSent counts callback POSTs (every attempt and copy).
	WebhooksSent int
	// WSConnections counts accepted websocket connections.
	WSConnections int
	// Uploads counts accepted signed PUTs; ImageDownloads counts GETs of
	// generated images.
	Uploads, ImageDownloads int
	// TokensCreated counts POST /c/virtual/token calls that created a token.
	TokensCreated int
}

// New builds a Server with the doc's example catalog. Close it when done:
// it stops pending webhook deliveries.
func New(cfg *Config) *Server {
	c := *cfg
	c.GenerationTime = cmp.Or(c.GenerationTime, 3*time.Second)
	c.GenRate = cmp.Or(c.GenRate, 10)
	c.GenBurst = cmp.Or(c.GenBurst, 20)
	c.WebhookAttempts = cmp.Or(c.WebhookAttempts, 5)
	c.WebhookRetryDelay = cmp.Or(c.WebhookRetryDelay, 500*time.Millisecond)
	s := &Server{
		cfg:       c,
		secret:    make([]byte, 32),
		users:     map[string]*user{},
		cols:      map[string]*collection{},
		tokens:    map[string]*token{},
		workloads: map[string]*workload{},
		buckets:   map[string]*bucket{},
		uploads:   map[string][]byte{},
		hooks:     &http.Client{Timeout: 10 * time.Second},
	}
	_, _ = rand.Read(s.secret)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.seed()
	s.mux = s.routes()
	return s
}

// Close stops pending webhook deliveries and waits for them to end.
func (s *Server) Close() {
	s.cancel()
	s.wg.Wait()
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// ServeHTTP implements http.Handler. Paths must have the form the
// document writes (see routes). The websocket is served here too unless
// Config.SeparateWebsocket is set; WebsocketHandler serves it alone.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Variations {
		w = &variedWriter{ResponseWriter: w}
	}
	if !s.cfg.SeparateWebsocket && isWebsocket(r) {
		s.handleWebsocket(w, r)
		return
	}
	// ServeMux would redirect a path with or without an extra trailing
	// slash to its registered form; a strict server answers 404.
	_, pattern := s.mux.Handler(r)
	if p := r.URL.Path; pattern != "/" && (strings.HasSuffix(pattern, "/{$}") != strings.HasSuffix(p, "/") || strings.Contains(p, "//")) {
		writeErr(w, http.StatusNotFound, "not_found", "no such route (check the path's trailing slash)")
		return
	}
	s.mux.ServeHTTP(w, r)
}

// WebsocketHandler serves only the websocket, at the root of its own
// address as the document has it; anything else is a 404.
func (s *Server) WebsocketHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" || !isWebsocket(r) {
			writeErr(w, http.StatusNotFound, "not_found", "this address serves the websocket only")
			return
		}
		s.handleWebsocket(w, r)
	})
}

func isWebsocket(r *http.Request) bool {
	return r.Header.Get("Upgrade") != "" && r.URL.Query().Get("id") != ""
}

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	api := func(pattern string, h func(w http.ResponseWriter, r *http.Request, caller *user)) {
		mux.HandleFunc(pattern, s.authed(h))
	}
	// Each path is registered in the form the document writes it, trailing
	// slash or not; another form is a 404, as on a strict server.
	api("GET /v1/q/latest-tokens/{$}", s.handleLatestTokens)
	api("GET /v1/q/latest-collections/{$}", s.handleLatestCollections)
	api("GET /v1/tokens/collection/{slug}/{$}", s.handleCollectionTokens)
	api("GET /v1/upload/token/{tokenId}/{fileName}/{$}", s.handleUploadURL)
	api("GET /v1/u/{address}/{$}", s.handleUser)
	api("GET /v1/u/{address}/collections/{$}", s.handleUserCollections)
	// The document shows no URL for a collection's own route: both forms.
	api("GET /v1/c/{slug}", s.handleCollection)
	api("GET /v1/c/{slug}/{$}", s.handleCollection)
	api("GET /v1/c/{address}/{tokenId}/{$}", s.handleToken)
	api("GET /v1/c/virtual/slug-from-id/{tokenId}/{$}", s.handleSlugFromID)
	api("GET /v1/c/virtual/next/{address}", s.handleNextTokenID)
	api("POST /v1/c/virtual/token/{slug}/{tokenId}/{$}", s.handleCreateToken)
	api("GET /v1/consumer/user-info/{$}", s.handleUserInfo)
	// The document names the training list both ways.
	api("GET /v1/training/owned-by/me", s.handleTrainings)
	api("GET /v1/training/owned-by-me", s.handleTrainings)
	api("POST /v1/consumer/gen", s.handleGen)
	mux.HandleFunc("PUT /upload/{tokenId}/{fileName}", s.handleUploadPut)
	mux.HandleFunc("GET /images/asset/{name}", s.handleAssetImage)
	mux.HandleFunc("GET /images/upload/{tokenId}/{fileName}", s.handleUploadedImage)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, http.StatusNotFound, "not_found", "no such route")
	})
	return mux
}

// authed checks the Bearer key and resolves its user.
func (s *Server) authed(h func(w http.ResponseWriter, r *http.Request, caller *user)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		authz := r.Header.Get("Authorization")
		key, ok := strings.CutPrefix(authz, "Bearer ")
		key = strings.TrimSpace(key)
		if !ok || key == "" || !s.keyAccepted(key) {
			writeErr(w, http.StatusUnauthorized, "unauthorized", "missing or invalid API key")
			return
		}
		h(w, r, s.userForKey(key))
	}
}

func (s *Server) keyAccepted(key string) bool {
	if len(s.cfg.Keys) == 0 {
		return true
	}
	for _, k := range s.cfg.Keys {
		if k == key {
			return true
		}
	}
	return false
}

func (s *Server) logf(format string, args ...any) {
	if s.cfg.Logger != nil {
		s.cfg.Logger.Printf(format, args...)
	}
}

// baseURL is where this request reached the simulator, for links.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	if _, ok := w.(*variedWriter); ok {
		v = varied(v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeErr writes the simulator's error body, {"error":code,"message":..}
// (the document shows no error body; this shape is the simulator's choice).
func writeErr(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"error": code, "message": msg})
}
