package benchrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// sim is one cmd/upstreamsim process: the Kinetix and Generaitiv
// simulators on their own free ports, configured by its environment.
type sim struct {
	proc          *child
	kinetixURL    string // http://host:port
	generaitivURL string // http://host:port/v1/
}

func (sm *sim) close() {
	if sm != nil {
		sm.proc.stop(stopTimeout)
	}
}

// startSim starts (once per name) an upstreamsim with env on top of the
// stack's, and waits until both simulators accept connections.
func (s *stack) startSim(ctx context.Context, name string, env map[string]string) (*sim, error) {
	if sm := s.sims[name]; sm != nil && !sm.proc.exited() {
		return sm, nil
	}
	if _, err := os.Stat(s.bin("upstreamsim")); err != nil {
		return nil, errNoSim
	}
	kAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	gAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	set := map[string]string{"KINETIX_SIM_ADDR": kAddr, "GENERAITIV_SIM_ADDR": gAddr, "GENERAITIV_SIM_WS_ADDR": gAddr}
	for k, v := range env {
		set[k] = v
	}
	proc, err := startChild(name, s.bin("upstreamsim"), nil, s.env(set), s.logDir)
	if err != nil {
		return nil, err
	}
	sm := &sim{proc: proc, kinetixURL: "http://" + kAddr, generaitivURL: "http://" + gAddr + "/v1/"}
	for _, addr := range []string{kAddr, gAddr} {
		if err := waitListening(ctx, addr, proc); err != nil {
			proc.stop(stopTimeout)
			return nil, err
		}
	}
	if s.sims == nil {
		s.sims = map[string]*sim{}
	}
	s.sims[name] = sm
	fmt.Fprintf(s.log, "bench: %s (pid %d): kinetix %s, generaitiv %s\n", name, proc.pid(), sm.kinetixURL, sm.generaitivURL)
	return sm, nil
}

// restartWorker stops the worker, if one runs, and starts it again with
// env on top of its environment.
func (s *stack) restartWorker(ctx context.Context, env map[string]string) error {
	s.stopWorker()
	s.workerEnv = env
	return s.startWorker(ctx)
}

// stopWorker stops the worker, if one runs.
func (s *stack) stopWorker() {
	s.worker.stop(stopTimeout)
	s.worker = nil
}

// waitListening waits until addr accepts TCP connections, the child exits,
// or 30 s pass.
func waitListening(ctx context.Context, addr string, c *child) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		if c.exited() {
			return c.exitError()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not listening on %s after 30s (see %s)", c.name, addr, c.logPath)
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

// callback is one webhook request as the simulator sent it.
type callback struct {
	uri  string // path and query: /webhooks/generaitiv/{id}?token=...
	body []byte
}

// callbackCatcher stands in for the api at PUBLIC_BASE_URL: it answers
// every webhook 200 and keeps it, so the bench can later replay the
// callbacks, with the tokens the generate jobs made, to the real api.
type callbackCatcher struct {
	url string
	srv *http.Server

	mu    sync.Mutex
	calls []callback
	seen  map[string]bool
}

func startCatcher() (*callbackCatcher, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("error listening for webhooks: %w", err)
	}
	c := &callbackCatcher{url: "http://" + ln.Addr().String(), seen: map[string]bool{}}
	c.srv = &http.Server{Handler: c, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = c.srv.Serve(ln) }()
	return c, nil
}

func (c *callbackCatcher) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil || r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/webhooks/") {
		http.Error(w, "no", http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	if !c.seen[r.URL.Path] { // the simulator's retries and duplicates once
		c.seen[r.URL.Path] = true
		c.calls = append(c.calls, callback{uri: r.URL.RequestURI(), body: body})
	}
	c.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// take returns the callbacks caught so far and forgets them.
func (c *callbackCatcher) take() []callback {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = nil
	return out
}

func (c *callbackCatcher) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.calls)
}

func (c *callbackCatcher) close() {
	if c != nil {
		_ = c.srv.Close()
	}
}

// getenv reads name from the environment the bench passes to its children.
func (c *Config) getenv(name string) string {
	for _, kv := range c.Env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}

// envInt is a positive integer setting of the children's environment.
func (c *Config) envInt(name string, def int) int {
	if n, err := strconv.Atoi(c.getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// envDuration is a duration setting of the children's environment.
func (c *Config) envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(c.getenv(name)); err == nil && d > 0 {
		return d
	}
	return def
}

// fastSimEnv is the simulators of the emote-jobs and webhook scenarios:
// processes and generations done at once, no upstream rate limit.
var fastSimEnv = map[string]string{
	"KINETIX_SIM_PROCESS_SECONDS": "0.001", // the smallest it takes is any positive number
	"GENERAITIV_SIM_SECONDS":      "0.001",
	"GENERAITIV_SIM_RATE":         "1000000",
}

// appInFlight is the per-app cap on running jobs the job scenarios give
// the worker: the bench drives everything from one app, and the rows
// measure the queues' throughput, not the share one app may take of them.
const appInFlight = "100000"

// jobWorkerEnv points the worker at sm (and webhooks at publicURL, if
// set), with the Generaitiv client's own rate limit and the per-app caps
// on running jobs (APP_KINETIX_IN_FLIGHT, APP_GENERAITIV_IN_FLIGHT) out of
// the way, unless the caller set those caps.
func (s *stack) jobWorkerEnv(sm *sim, publicURL string) map[string]string {
	env := map[string]string{
		"KINETIX_BASE_URL":      sm.kinetixURL,
		"GENERAITIV_BASE_URL":   sm.generaitivURL,
		"GENERAITIV_RATE_LIMIT": "1000000",
	}
	for _, k := range []string{"APP_KINETIX_IN_FLIGHT", "APP_GENERAITIV_IN_FLIGHT"} {
		if s.cfg.getenv(k) == "" {
			env[k] = appInFlight
		}
	}
	if publicURL != "" {
		env["PUBLIC_BASE_URL"] = publicURL
	}
	return env
}

var errNoSim = errors.New("bin/upstreamsim is missing: run make build")

// clearTelemetry stops the worker and empties the telemetry tables, the
// players and the dashboard's rollups that the telemetry scenarios filled.
// A job scenario starts a worker, whose dashboard rollup (at start, then
// every 15 minutes) would otherwise catch up on those millions of rows
// while the jobs are measured: attributing levels rewrites every
// trajectory, hundreds of MB of WAL per second (bench/README.md, "The
// rows").
func (b *Bench) clearTelemetry(ctx context.Context) error {
	b.stack.stopWorker()
	_, err := b.stack.pool.Exec(ctx, `DO $$
DECLARE tables text;
BEGIN
	SELECT string_agg(quote_ident(tablename), ', ') INTO tables FROM pg_tables
	WHERE schemaname = current_schema()
		AND (tablename IN ('player_events', 'funnel_steps', 'gameplay_events', 'trajectories', 'players')
			OR tablename LIKE 'dashboard\_%');
	EXECUTE 'TRUNCATE ' || tables;
	DELETE FROM river_job WHERE kind = 'dashboard_rollup' AND finalized_at IS NULL;
END $$`)
	if err != nil {
		return fmt.Errorf("error clearing the telemetry of the earlier scenarios: %w", err)
	}
	return nil
}
