package benchrun

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gamepipe/gamepipe/internal/demoapp"
	"github.com/gamepipe/gamepipe/internal/eventstream"
)

// stopTimeout is how long a child gets to stop after SIGTERM.
const stopTimeout = 20 * time.Second

// stack is the bench's private gamepipe: the pinned nats-server on a free
// port with its own store at one fsync setting (useSync restarts it at
// another), a fresh database, the api, and the worker when a scenario
// starts it. Nothing of the developer's own stack (make run) is
// touched: other ports, another database, another DATA_DIR.
type stack struct {
	cfg    *Config
	log    io.Writer
	runDir string
	logDir string
	apiBin string
	wrkBin string

	// sync is natsd's fsync setting (NATSD_SYNC_INTERVAL), natsStore its
	// JetStream store.
	sync       string
	natsStore  string
	natsURL    string
	dbURL      string
	apiURL     string
	workerURL  string
	pprofAPI   string // host:port of the api's pprof server, when profiling
	pprofWrk   string
	app        *demoapp.App
	natsd, api *child
	// apiPeak is the highest VmHWM of the api processes stopped so far:
	// the api is restarted with natsd.
	apiPeak int64
	worker  *child
	// minimal is the minimal ingest server while the single-event
	// scenario runs, at minimalURL.
	minimal    *child
	minimalURL string
	// workerEnv is set on top of the worker's environment: the job
	// scenarios point it at their simulators (restartWorker).
	workerEnv map[string]string
	// sims are the upstream simulators the job scenarios started, by name.
	sims map[string]*sim

	nc   *nats.Conn
	js   jetstream.JetStream
	pool *pgxpool.Pool

	natsVersion string
	pgVersion   string
}

// startStack starts natsd at fsync setting sync, creates and migrates the
// database, creates the bench app and starts the api.
func startStack(ctx context.Context, cfg *Config, apiBin, workerBin, sync string, log io.Writer) (s *stack, err error) {
	s = &stack{cfg: cfg, log: log, apiBin: apiBin, wrkBin: workerBin, sync: sync, logDir: filepath.Join(cfg.OutDir, "logs")}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if err := os.RemoveAll(s.logDir); err != nil {
		return nil, fmt.Errorf("error clearing %s: %w", s.logDir, err)
	}
	if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("error creating %s: %w", cfg.OutDir, err)
	}
	if s.runDir, err = os.MkdirTemp(cfg.OutDir, "run-"); err != nil {
		return nil, fmt.Errorf("error creating the run directory: %w", err)
	}
	if err := s.startNATS(ctx); err != nil {
		return nil, err
	}
	if err := s.createDatabase(ctx); err != nil {
		return nil, err
	}
	if err := s.startAPI(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *stack) bin(name string) string { return filepath.Join(s.cfg.BinDir, name) }

// env is the children's environment: the bench's on top of the caller's.
func (s *stack) env(set map[string]string) []string {
	base := map[string]string{
		"DATABASE_URL": s.dbURL,
		"NATS_URL":     s.natsURL,
		"DATA_DIR":     filepath.Join(s.runDir, "data"),
		"LOG_FORMAT":   "json",
	}
	for k, v := range set {
		base[k] = v
	}
	var env []string
	for _, kv := range s.cfg.Env {
		k, _, _ := strings.Cut(kv, "=")
		if _, ours := base[k]; !ours {
			env = append(env, kv)
		}
	}
	for k, v := range base {
		env = append(env, k+"="+v)
	}
	return env
}

// startNATS starts natsd at s.sync with an empty store and connects to it.
func (s *stack) startNATS(ctx context.Context) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	s.natsURL = "nats://127.0.0.1:" + strconv.Itoa(port)
	s.natsStore = filepath.Join(s.runDir, "nats-"+s.sync)
	s.natsd, err = startChild("natsd", s.bin("natsd"), nil, s.env(map[string]string{
		"NATSD_PORT":          strconv.Itoa(port),
		"NATSD_STORE_DIR":     s.natsStore,
		"NATSD_SYNC_INTERVAL": s.sync,
	}), s.logDir)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		nc, err := nats.Connect(s.natsURL, nats.Name("gamepipe-bench"), nats.Timeout(time.Second), nats.MaxReconnects(-1))
		if err == nil {
			s.nc = nc
			break
		}
		if s.natsd.exited() {
			return s.natsd.exitError()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("natsd not ready at %s after 30s: %w", s.natsURL, err)
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	s.natsVersion = s.nc.ConnectedServerVersion()
	s.js, err = jetstream.New(s.nc)
	if err != nil {
		return fmt.Errorf("error creating a jetstream context: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := eventstream.CheckServer(cctx, s.nc); err != nil {
		return err
	}
	fmt.Fprintf(s.log, "bench: nats-server %s at %s, fsync %s (store in %s)\n", s.natsVersion, s.natsURL, s.sync, s.natsStore)
	return nil
}

// useSync makes natsd run at fsync setting sync: unless it already does, it
// stops the worker (a scenario that needs it starts it again) and the api,
// stops natsd and removes its store, then starts natsd at sync with an
// empty store and the api against it (which creates its streams).
func (s *stack) useSync(ctx context.Context, sync string) error {
	if sync == s.sync {
		return nil
	}
	s.stopWorker()
	s.stopAPI()
	s.nc.Close()
	s.natsd.stop(stopTimeout)
	if err := os.RemoveAll(s.natsStore); err != nil {
		return fmt.Errorf("error removing natsd's store %s: %w", s.natsStore, err)
	}
	s.sync = sync
	if err := s.startNATS(ctx); err != nil {
		return err
	}
	return s.startAPI(ctx)
}

// createDatabase drops and creates the bench database, migrates it with
// `gamepipe migrate` and creates the bench app.
func (s *stack) createDatabase(ctx context.Context) error {
	admin, err := pgx.Connect(ctx, s.cfg.AdminURL)
	if err != nil {
		return fmt.Errorf("error connecting to Postgres (PG_ADMIN_URL): %w", err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	ident := pgx.Identifier{s.cfg.DBName}.Sanitize()
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("error dropping %s: %w", s.cfg.DBName, err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return fmt.Errorf("error creating %s: %w", s.cfg.DBName, err)
	}
	if err := admin.QueryRow(ctx, "SHOW server_version").Scan(&s.pgVersion); err != nil {
		return fmt.Errorf("error reading the Postgres version: %w", err)
	}
	s.dbURL = s.cfg.databaseURL()

	if _, err := s.runOnce(ctx, "migrate"); err != nil {
		return err
	}
	out, err := s.runOnce(ctx, "apps", "create", "--name", "bench", "--json")
	if err != nil {
		return err
	}
	if s.app, err = demoapp.Parse(out); err != nil {
		return fmt.Errorf("error reading the bench app: %w", err)
	}
	s.pool, err = pgxpool.New(ctx, s.dbURL)
	if err != nil {
		return fmt.Errorf("error connecting to %s: %w", s.cfg.DBName, err)
	}
	fmt.Fprintf(s.log, "bench: database %s (PostgreSQL %s) migrated, app %s\n", s.cfg.DBName, s.pgVersion, s.app.AppID)
	return nil
}

// runOnce runs `gamepipe args...` and returns its standard output.
func (s *stack) runOnce(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, s.bin("gamepipe"), args...)
	cmd.Env = s.env(nil)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("gamepipe %s failed: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

func (s *stack) startAPI(ctx context.Context) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	s.apiURL = "http://" + addr
	// The webhook scenario sends every callback from this one address:
	// its per-source limit would measure the limit, not the receiver.
	set := map[string]string{"HTTP_ADDR": addr, "WEBHOOK_RATE_LIMIT_RPS": "1000000", "WEBHOOK_RATE_LIMIT_BURST": "1000000"}
	if set["METRICS_ADDR"], err = freeAddr(); err != nil {
		return err
	}
	if s.cfg.Profile {
		if s.pprofAPI, err = freeAddr(); err != nil {
			return err
		}
		set[pprofEnv] = s.pprofAPI
	}
	if s.api, err = startChild("api", s.apiBin, nil, s.env(set), s.logDir); err != nil {
		return err
	}
	if err := waitReady(ctx, s.apiURL+"/readyz", s.api); err != nil {
		return err
	}
	fmt.Fprintf(s.log, "bench: api at %s (pid %d, RATE_LIMIT_RPS %g)\n", s.apiURL, s.api.pid(), s.cfg.RateLimit)
	return nil
}

// stopAPI stops the api, keeping its peak resident set in apiPeak.
func (s *stack) stopAPI() {
	if peak, _, err := s.api.memory(); err == nil {
		s.apiPeak = max(s.apiPeak, peak)
	}
	s.api.stop(stopTimeout)
}

// apiMemory is the highest VmHWM of every api process of the run, and the
// running one's VmRSS.
func (s *stack) apiMemory() (peak, current int64, err error) {
	peak, current, err = s.api.memory()
	return max(peak, s.apiPeak), current, err
}

// startWorker starts the worker and waits until it is ready: its sink is
// running.
func (s *stack) startWorker(ctx context.Context) error {
	if s.worker != nil && !s.worker.exited() {
		return nil
	}
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	s.workerURL = "http://" + addr
	set := map[string]string{"WORKER_HTTP_ADDR": addr}
	for k, v := range s.workerEnv {
		set[k] = v
	}
	if s.cfg.Profile {
		if s.pprofWrk, err = freeAddr(); err != nil {
			return err
		}
		set[pprofEnv] = s.pprofWrk
	}
	if s.worker, err = startChild("worker", s.wrkBin, nil, s.env(set), s.logDir); err != nil {
		return err
	}
	if err := waitReady(ctx, s.workerURL+"/readyz", s.worker); err != nil {
		return err
	}
	fmt.Fprintf(s.log, "bench: worker ready (pid %d)\n", s.worker.pid())
	return nil
}

// alive returns an error if a child that should be running has exited.
func (s *stack) alive() error {
	for _, c := range []*child{s.natsd, s.api, s.worker} {
		if c != nil && c.exited() {
			return c.exitError()
		}
	}
	return nil
}

// close stops everything the stack started, natsd last, and removes the
// run directory (the JetStream store and DATA_DIR); the logs stay.
func (s *stack) close() {
	s.worker.stop(stopTimeout)
	s.api.stop(stopTimeout)
	s.minimal.stop(stopTimeout)
	for _, sm := range s.sims {
		sm.close()
	}
	if s.nc != nil {
		s.nc.Close()
	}
	if s.pool != nil {
		s.pool.Close()
	}
	s.natsd.stop(stopTimeout)
	if s.runDir != "" {
		_ = os.RemoveAll(s.runDir)
	}
}

// waitReady polls url until it answers 200, the child exits, or a minute
// passes.
func waitReady(ctx context.Context, url string, c *child) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := client.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if c.exited() {
			return c.exitError()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready at %s after a minute (see %s)", c.name, url, c.logPath)
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("error finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func freeAddr() (string, error) {
	port, err := freePort()
	if err != nil {
		return "", err
	}
	return "127.0.0.1:" + strconv.Itoa(port), nil
}

// sleepCtx waits d, or returns ctx's error if it ends first.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
