package natstest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Cluster is a test's JetStream cluster of in-process servers.
type Cluster struct {
	// Servers are the cluster's members, named n1, n2, ...
	Servers []*Server
}

// RunCluster starts n JetStream servers routed into one cluster on random
// loopback ports, each with its store in a temp directory, and waits until
// the cluster has a JetStream meta leader.
func RunCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	var c *Cluster
	var err error
	for range clusterStartAttempts {
		if c, err = tryCluster(t, n); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("natstest: cluster: %v", err)
	}
	nc := c.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("natstest: %v", err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := js.AccountInfo(ctx)
		cancel()
		if err == nil {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("natstest: cluster has no JetStream meta leader: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// URLs is the comma-separated list of the members' client URLs.
func (c *Cluster) URLs() string {
	urls := make([]string, len(c.Servers))
	for i, s := range c.Servers {
		urls[i] = s.ClientURL()
	}
	return strings.Join(urls, ",")
}

// Connect opens a client connection to the cluster, closed at cleanup.
func (c *Cluster) Connect(t testing.TB) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(c.URLs(), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatalf("natstest: connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// clusterStartAttempts is how many times RunCluster starts a cluster whose
// route ports were taken: freePort closes its listener before the server
// binds the port, and on a busy machine another process can take it in
// between (the member then never becomes ready).
const clusterStartAttempts = 3

// tryCluster starts n members whose routes name each other's ports, or
// shuts down those it started and says why one did not start.
func tryCluster(t testing.TB, n int) (*Cluster, error) {
	t.Helper()
	routePorts := make([]int, n)
	for i := range routePorts {
		routePorts[i] = freePort(t)
	}
	c := &Cluster{}
	for i := range n {
		var routes []*url.URL
		for j, p := range routePorts {
			if j != i {
				routes = append(routes, &url.URL{Scheme: "nats-route", Host: fmt.Sprintf("127.0.0.1:%d", p)})
			}
		}
		opts := serverOptions(t)
		opts.ServerName = fmt.Sprintf("n%d", i+1)
		opts.Cluster = server.ClusterOpts{Name: "natstest", Host: "127.0.0.1", Port: routePorts[i]}
		opts.Routes = routes
		s := &Server{Opts: opts, t: t}
		if err := s.tryStart(); err != nil {
			for _, started := range c.Servers {
				started.Shutdown()
				started.WaitForShutdown()
			}
			return nil, fmt.Errorf("member n%d (route port %d): %w", i+1, routePorts[i], err)
		}
		c.Servers = append(c.Servers, s)
	}
	return c, nil
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("natstest: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
