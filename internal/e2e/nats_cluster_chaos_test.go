//go:build chaos

package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/exportercmd"
)

func init() {
	subprocesses["GAMEPIPE_E2E_EXPORTER"] = func(ctx context.Context) error {
		return exportercmd.Run(ctx, nil, os.Getenv, os.Stdout, os.Stderr)
	}
}

// subprocess is this test binary run in one of its other roles (TestMain),
// so that a test can SIGKILL it and start it again with the same setup.
type subprocess struct {
	t    *testing.T
	name string
	env  []string
	log  string
	cmd  *exec.Cmd
	// done is closed when the process of the last start has exited.
	done chan struct{}
}

func newSubprocess(t *testing.T, name string, env ...string) *subprocess {
	t.Helper()
	p := &subprocess{t: t, name: name, env: env, log: filepath.Join(t.TempDir(), name+".log")}
	t.Cleanup(func() {
		if p.cmd != nil {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(15 * time.Second):
				_ = p.cmd.Process.Kill()
				<-p.done
			}
		}
		if t.Failed() {
			if b, err := os.ReadFile(p.log); err == nil {
				lines := strings.Split(string(b), "\n")
				t.Logf("%s log, last lines:\n%s", name, strings.Join(lines[max(0, len(lines)-30):], "\n"))
			}
		}
	})
	return p
}

func (p *subprocess) start() {
	p.t.Helper()
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	require.NoError(p.t, err)
	p.cmd = exec.Command(os.Args[0], "-test.run=^$")
	p.cmd.Env = append(os.Environ(), p.env...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	require.NoError(p.t, p.cmd.Start())
	p.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); _ = f.Close(); close(done) }(p.cmd, p.done)
}

func (p *subprocess) kill() {
	p.t.Helper()
	require.NoError(p.t, p.cmd.Process.Signal(syscall.SIGKILL))
	<-p.done
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// natsCluster is three nats-server subprocesses routed into one cluster,
// each with a fixed port and store so it comes back as the same member.
type natsCluster struct {
	names []string
	ports []int
	nodes []*subprocess
}

func startNATSCluster(t *testing.T) *natsCluster {
	t.Helper()
	c := &natsCluster{}
	var routes []string
	clusterPorts := make([]int, 3)
	for i := range clusterPorts {
		clusterPorts[i] = freeTCPPort(t)
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", clusterPorts[i]))
	}
	for i := range 3 {
		name, port := fmt.Sprintf("n%d", i+1), freeTCPPort(t)
		c.names, c.ports = append(c.names, name), append(c.ports, port)
		c.nodes = append(c.nodes, newSubprocess(t, "nats-"+name,
			"GAMEPIPE_E2E_NATSD=1", fmt.Sprintf("GAMEPIPE_E2E_NATSD_PORT=%d", port), "GAMEPIPE_E2E_NATSD_DIR="+t.TempDir(),
			"GAMEPIPE_E2E_NATSD_NAME="+name, fmt.Sprintf("GAMEPIPE_E2E_NATSD_CLUSTER_PORT=%d", clusterPorts[i]),
			"GAMEPIPE_E2E_NATSD_ROUTES="+strings.Join(routes, ",")))
	}
	for _, n := range c.nodes {
		n.start()
	}
	for _, p := range c.ports {
		require.Eventually(t, func() bool {
			conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p), time.Second)
			if err == nil {
				conn.Close()
			}
			return err == nil
		}, time.Minute, 50*time.Millisecond, "nats subprocess on port %d", p)
	}
	return c
}

func (c *natsCluster) urls() string {
	var out []string
	for _, p := range c.ports {
		out = append(out, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	return strings.Join(out, ",")
}

func (c *natsCluster) node(name string) *subprocess {
	for i, n := range c.names {
		if n == name {
			return c.nodes[i]
		}
	}
	return nil
}

// jsTry runs f with a short deadline of its own: a JetStream API request
// sent while the cluster has no leader can go unanswered.
func jsTry[T any](f func(ctx context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return f(ctx)
}

// TestNATSClusterChaos is the scale-out proof (docs/scaling.md): three
// nats-servers with TELEMETRY and its consumers at R3, two worker
// processes and an exporter process, the api in the test. About 20,000
// events with unique ids are sent by clients that retry any non-2xx for up
// to 30s; at a quarter the stream's leader is SIGKILLed and started again
// once another leads; then a worker kills itself between a sink commit
// and its acks and is started again. Every event answered 200 is in
// Postgres exactly once, the leader changed, both consumers end with
// nothing pending or unacknowledged, the sink's consumer redelivered
// messages, and nothing was dead lettered. Run it with `make chaos`
// (build tag chaos).
func TestNATSClusterChaos(t *testing.T) {
	l := newClusterLoad(t)
	var killedLeader, newLeader string
	killLeader := func() {
		killedLeader = l.awaitStreamLeader()
		node := l.cluster.node(killedLeader)
		node.kill()
		t.Logf("killed the stream leader %s at %d accepted events", killedLeader, l.accepted.Load())
		require.Eventually(t, func() bool {
			newLeader = l.streamLeader()
			return newLeader != "" && newLeader != killedLeader
		}, 2*time.Minute, 50*time.Millisecond, "a new stream leader is elected")
		t.Logf("new stream leader %s", newLeader)
		node.start()
	}
	// One failure at a time: the worker is killed once the stream has
	// its new leader.
	l.drive([]chaosStep{{at: 5_000, run: killLeader}, {at: 10_000, run: l.killWorkerAfterCommit}}, 10_000)

	require.NotEmpty(t, killedLeader)
	require.NotEqual(t, killedLeader, newLeader, "the stream leader changed")
	l.requireSound()
}

// TestNATSClusterRollingRestartChaos restarts the three nats-servers one
// by one (SIGTERM, start again, wait until it is a current member of the
// stream's and both consumers' groups) under the same load, then kills a
// worker between a sink commit and its acks, with the same assertions as
// TestNATSClusterChaos.
func TestNATSClusterRollingRestartChaos(t *testing.T) {
	l := newClusterLoad(t)
	var leaders []string // the stream's leader before and after each restart
	restart := func(name string) func() {
		return func() {
			leaders = append(leaders, l.awaitStreamLeader())
			node := l.cluster.node(name)
			node.stop()
			t.Logf("stopped %s (stream leader %s) at %d accepted events", name, leaders[len(leaders)-1], l.accepted.Load())
			require.Eventually(t, func() bool {
				leader := l.streamLeader()
				return leader != "" && leader != name
			}, 2*time.Minute, 50*time.Millisecond, "the stream has a leader other than the stopped %s", name)
			node.start()
			l.awaitMember(name)
			leaders = append(leaders, l.awaitStreamLeader())
			t.Logf("%s is back; stream leader %s", name, leaders[len(leaders)-1])
		}
	}
	var steps []chaosStep
	for i, name := range l.cluster.names {
		steps = append(steps, chaosStep{at: int64(4_000 * (i + 1)), run: restart(name)})
	}
	steps = append(steps, chaosStep{at: 16_000, run: l.killWorkerAfterCommit})
	l.drive(steps, 4_000)

	changed := false
	for i := 1; i < len(leaders); i++ {
		changed = changed || leaders[i] != leaders[i-1]
	}
	require.True(t, changed, "the stream leader changed: %v", leaders)
	l.requireSound()
}
