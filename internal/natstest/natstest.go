// Package natstest runs an in-process NATS server with JetStream for one
// test: a random port, a temp store directory, shut down at cleanup. It is
// imported only from _test.go files.
package natstest

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Server is a test's JetStream server.
type Server struct {
	*server.Server
	// Opts are the options it was started with; Restart reuses them.
	Opts *server.Options
	t    testing.TB
}

// Run starts a JetStream server on a random loopback port with its store in
// t.TempDir(). Never the machine's 4222.
func Run(t testing.TB) *Server {
	t.Helper()
	return RunWith(t, nil)
}

// RunWith is Run with the server's options adjusted by configure (users
// and their permissions, say) before it starts.
func RunWith(t testing.TB, configure func(*server.Options)) *Server {
	t.Helper()
	opts := serverOptions(t)
	if configure != nil {
		configure(opts)
	}
	s := &Server{Opts: opts, t: t}
	s.start()
	return s
}

// serverOptions are a test server's: loopback, a random client port,
// JetStream with its store in a temp directory, quiet.
func serverOptions(t testing.TB) *server.Options {
	return &server.Options{
		Host:      "127.0.0.1",
		Port:      -1,
		JetStream: true,
		StoreDir:  t.TempDir(),
		NoLog:     true,
		NoSigs:    true,
	}
}

func (s *Server) start() {
	s.t.Helper()
	if err := s.tryStart(); err != nil {
		s.t.Fatalf("natstest: %v", err)
	}
}

// tryStart starts the server, or says why it did not become ready (a
// listener that could not bind its port, say); a server that did not is
// shut down.
func (s *Server) tryStart() error {
	srv, err := server.NewServer(s.Opts)
	if err != nil {
		return err
	}
	go srv.Start()
	// Far past an in-process start, on a machine busy with other tests.
	if !srv.ReadyForConnections(time.Minute) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return errors.New("server not ready")
	}
	// Pin the port so a restart comes back on the same address.
	s.Opts.Port = srv.Addr().(*net.TCPAddr).Port
	s.Server = srv
	s.t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	return nil
}

// Restart shuts the server down and starts it again on the same port and
// store directory.
func (s *Server) Restart() {
	s.t.Helper()
	s.Shutdown()
	s.WaitForShutdown()
	s.start()
}

// Connect opens a client connection closed at cleanup.
func (s *Server) Connect(t testing.TB) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatalf("natstest: connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}
