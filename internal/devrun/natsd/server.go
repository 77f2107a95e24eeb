// Package natsd runs the nats-server pinned in go.mod in-process, with
// JetStream on and its file store in a directory of the caller's choosing.
// It is what `make run` starts when the machine's NATS is missing or too old
// (Debian ships 2.9.x; gamepipe needs eventstream.MinServerVersion), so the
// local stack always runs against the server version gamepipe is tested with.
package natsd

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Version is the nats-server version natsd runs: the nats-server/v2 module
// pinned in go.mod.
const Version = server.VERSION

// readyTimeout bounds how long Start waits for the client listener.
const readyTimeout = 10 * time.Second

// Server is one in-process nats-server with JetStream.
type Server struct {
	cfg *Config
	srv *server.Server
	log *logger
	// started is closed when srv.Start has returned: Shutdown must not race
	// with it, or JetStream may come up after the shutdown.
	started  chan struct{}
	starting atomic.Bool
}

// New validates cfg and builds a server that logs to logw. It does not listen
// until Start.
func New(cfg *Config, logw io.Writer) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts := &server.Options{
		ServerName:   cmp.Or(cfg.ServerName, "gamepipe-natsd"),
		Host:         cfg.Host,
		Port:         cfg.Port,
		JetStream:    true,
		StoreDir:     cfg.StoreDir,
		SyncInterval: cfg.SyncInterval,
		SyncAlways:   cfg.SyncAlways,
		Debug:        cfg.Debug,
		// The caller owns signals: cmd/natsd stops on SIGINT/SIGTERM through
		// its context, and nats-server's own handlers would race with it.
		NoSigs: true,
		// With users, no client connects without a password.
		Users: cfg.Users,
	}
	if cfg.ClusterPort != 0 {
		opts.Cluster = server.ClusterOpts{Name: cmp.Or(cfg.ClusterName, "gamepipe"), Host: cfg.Host, Port: cfg.ClusterPort}
		for _, r := range cfg.Routes {
			u, err := url.Parse(r)
			if err != nil {
				return nil, fmt.Errorf("natsd: route %q: %w", r, err)
			}
			opts.Routes = append(opts.Routes, u)
		}
	}
	if cfg.MonitorPort != 0 {
		opts.HTTPHost = cfg.Host
		opts.HTTPPort = cfg.MonitorPort
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("error configuring nats-server: %w", err)
	}
	lg := newLogger(logw)
	srv.SetLoggerV2(lg, cfg.Debug, false, false)
	return &Server{cfg: cfg, srv: srv, log: lg, started: make(chan struct{})}, nil
}

// Start starts the server and returns once it accepts client connections,
// or with an error if it failed (a port in use, an unusable store directory)
// or did not become ready in time. On error the server is already stopped.
func (s *Server) Start(ctx context.Context) error {
	s.starting.Store(true)
	go func() {
		defer close(s.started)
		s.srv.Start()
	}()

	ready := make(chan bool, 1)
	go func() { ready <- s.srv.ReadyForConnections(readyTimeout) }()
	var err error
	select {
	case ok := <-ready:
		// A fatal error may be what kept it from becoming ready, or may have
		// come with a listener that is gone already.
		select {
		case err = <-s.log.fatal:
		default:
			if !ok {
				err = fmt.Errorf("nats-server not ready for connections after %s", readyTimeout)
			}
		}
	case err = <-s.log.fatal:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		s.Stop()
		return fmt.Errorf("error starting nats-server %s on %s: %w", Version, net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port)), err)
	}
	return nil
}

// Stop shuts the server down and waits until it has: JetStream flushes its
// stores, clients are disconnected. It is safe to call more than once, and
// after a failed Start.
func (s *Server) Stop() {
	if s.starting.Load() {
		select {
		case <-s.started:
		case <-time.After(readyTimeout):
			// Start is stuck; shut down what there is rather than hang.
		}
	}
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
}

// ClientURL is the URL clients connect to, such as nats://127.0.0.1:4223.
func (s *Server) ClientURL() string { return s.srv.ClientURL() }

// Fatal receives the error the server reported as fatal after Start
// returned; the server is no longer serving once it has.
func (s *Server) Fatal() <-chan error { return s.log.fatal }

// Run starts a server with cfg, logging to logw, and serves until ctx is done,
// then shuts it down gracefully. It returns an error only if the server could
// not start or failed while running; a stop requested while it was starting
// is no error.
func Run(ctx context.Context, cfg *Config, logw io.Writer) error {
	s, err := New(cfg, logw)
	if err != nil {
		return err
	}
	if err := s.Start(ctx); err != nil {
		if ctx.Err() != nil {
			return nil // asked to stop while starting
		}
		return err
	}
	mode := "every " + cfg.SyncInterval.String()
	if cfg.SyncAlways {
		mode = "always"
	}
	s.log.Noticef("natsd: nats-server %s ready at %s, JetStream store %s, fsync %s", Version, s.ClientURL(), cfg.StoreDir, mode)

	select {
	case <-ctx.Done():
		s.log.Noticef("natsd: shutting down")
		s.Stop()
		return nil
	case err := <-s.Fatal():
		s.Stop()
		return fmt.Errorf("nats-server failed: %w", err)
	}
}

// logger writes the server's log lines to an io.Writer, one whole line per
// write. Fatalf does not exit the process as nats-server's own logger does:
// it hands the error to whoever started the server, which shuts it down.
type logger struct {
	mu    sync.Mutex
	w     io.Writer
	fatal chan error
	once  sync.Once
}

func newLogger(w io.Writer) *logger {
	return &logger{w: w, fatal: make(chan error, 1)}
}

func (l *logger) write(level, format string, v ...any) {
	line := time.Now().Format("15:04:05.000") + " " + level + " " + fmt.Sprintf(format, v...) + "\n"
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = io.WriteString(l.w, line)
}

func (l *logger) Noticef(format string, v ...any) { l.write("INF", format, v...) }
func (l *logger) Warnf(format string, v ...any)   { l.write("WRN", format, v...) }
func (l *logger) Errorf(format string, v ...any)  { l.write("ERR", format, v...) }
func (l *logger) Debugf(format string, v ...any)  { l.write("DBG", format, v...) }
func (l *logger) Tracef(format string, v ...any)  { l.write("TRC", format, v...) }

func (l *logger) Fatalf(format string, v ...any) {
	l.write("FTL", format, v...)
	l.once.Do(func() { l.fatal <- errors.New(fmt.Sprintf(format, v...)) })
}
