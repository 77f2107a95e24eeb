//go:build chaos

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/exportercmd"
	"github.com/gamepipe/gamepipe/internal/workercmd"
)

func init() {
	subprocesses["GAMEPIPE_E2E_WORKER"] = func(ctx context.Context) error {
		return workercmd.Run(ctx, os.Getenv, os.Stderr)
	}
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
// to 30s; at a quarter the stream's leader is SIGKILLed, at half a worker,
// and both are started again. Every event answered 200 is in Postgres
// exactly once, the leader changed, both consumers end with nothing pending
// or unacknowledged, some messages were redelivered, and nothing was dead
// lettered. Run it with `make chaos` (build tag chaos).
func TestNATSClusterChaos(t *testing.T) {
	db := dbtest.NewSchema(t)
	cluster := startNATSCluster(t)

	nc, err := nats.Connect(cluster.urls(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, err := jsTry(func(ctx context.Context) (jetstream.Stream, error) {
			return eventstream.EnsureStream(ctx, js, &eventstream.StreamConfig{Replicas: 3})
		})
		return err == nil
	}, 2*time.Minute, 200*time.Millisecond, "the cluster takes the R3 stream once it has a leader")

	s := newStack(t, &stackOpts{natsURL: cluster.urls(), db: db, noSink: true, stream: &eventstream.StreamConfig{Replicas: 3}})
	app := s.app.AppID.String()

	common := []string{"DATABASE_URL=" + db.URL, "NATS_URL=" + cluster.urls(), "STREAM_REPLICAS=3", "LOG_LEVEL=warn",
		"LOG_FORMAT=json", "DATA_DIR=" + t.TempDir()}
	var workers []*subprocess
	for i := range 2 {
		w := newSubprocess(t, fmt.Sprintf("worker%d", i+1), append(common, "GAMEPIPE_E2E_WORKER=1",
			"WORKER_HTTP_ADDR=127.0.0.1:0", "SINK_ACK_WAIT=3s", "KINETIX_CONCURRENCY=2", "GENERAITIV_CONCURRENCY=2")...)
		w.start()
		workers = append(workers, w)
	}
	exporter := newSubprocess(t, "exporter", append(common, "GAMEPIPE_E2E_EXPORTER=1", "EXPORTER_HTTP_ADDR=127.0.0.1:0",
		"EXPORT_MAX_AGE=2s", "EXPORT_ACK_WAIT=10s", "EXPORT_COMPLETE_GRACE=2s")...)
	exporter.start()
	for _, name := range []string{eventstream.ConsumerSink, eventstream.ConsumerExporter} {
		require.Eventually(t, func() bool {
			c, err := jsTry(func(ctx context.Context) (jetstream.Consumer, error) {
				return js.Consumer(ctx, eventstream.StreamName, name)
			})
			return err == nil && c.CachedInfo().Config.Replicas == 3
		}, 2*time.Minute, 200*time.Millisecond, "consumer %s", name)
	}

	const total, batch, clients = 20_000, 20, 8
	batches := make(chan []map[string]any, total/batch)
	for i := 0; i < total; i += batch {
		b := make([]map[string]any, batch)
		for j := range b {
			b[j] = gameplay(app, i+j)
			b[j]["event_id"] = uuid.NewString()
		}
		batches <- b
	}
	close(batches)

	var (
		mu             sync.Mutex
		acceptedIDs    []string
		last200        = time.Now()
		longestWithout time.Duration
		failed         atomic.Int64
		accepted       atomic.Int64
		leaderOnce     sync.Once
		workerOnce     sync.Once
		chaos          sync.WaitGroup
		killedLeader   string
		newLeader      string
	)
	streamLeader := func() string {
		info, err := jsTry(func(ctx context.Context) (*jetstream.StreamInfo, error) {
			st, err := js.Stream(ctx, eventstream.StreamName)
			if err != nil {
				return nil, err
			}
			return st.Info(ctx)
		})
		if err != nil || info.Cluster == nil {
			return ""
		}
		return info.Cluster.Leader
	}
	consumerInfo := func(name string) (*jetstream.ConsumerInfo, error) {
		return jsTry(func(ctx context.Context) (*jetstream.ConsumerInfo, error) {
			c, err := js.Consumer(ctx, eventstream.StreamName, name)
			if err != nil {
				return nil, err
			}
			return c.Info(ctx)
		})
	}
	// sinkRedelivered is the most sink messages seen redelivered and
	// awaiting their ack at once, watched from the worker's kill on.
	var sinkRedelivered atomic.Int64
	watchDone := make(chan struct{})
	watchRedeliveries := func() {
		for {
			if info, err := consumerInfo(eventstream.ConsumerSink); err == nil && int64(info.NumRedelivered) > sinkRedelivered.Load() {
				sinkRedelivered.Store(int64(info.NumRedelivered))
			}
			select {
			case <-watchDone:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	leaderChaosDone := make(chan struct{})
	killLeader := func() {
		defer chaos.Done()
		var leader string
		require.Eventually(t, func() bool { leader = streamLeader(); return leader != "" }, time.Minute, 50*time.Millisecond)
		killedLeader = leader
		node := cluster.node(leader)
		node.kill()
		t.Logf("killed the stream leader %s at %d accepted events", leader, accepted.Load())
		require.Eventually(t, func() bool {
			newLeader = streamLeader()
			return newLeader != "" && newLeader != leader
		}, 2*time.Minute, 50*time.Millisecond, "a new stream leader is elected")
		t.Logf("new stream leader %s", newLeader)
		node.start()
		close(leaderChaosDone)
	}
	killWorker := func() {
		defer chaos.Done()
		// Freeze it first, so that it stops acking what it holds, then kill
		// it: what it held comes back to the sink as redeliveries.
		// One failure at a time: the stream has its leader back first.
		select {
		case <-leaderChaosDone:
		case <-time.After(2 * time.Minute):
		}
		require.NoError(t, workers[0].cmd.Process.Signal(syscall.SIGSTOP))
		deadline := time.Now().Add(10 * time.Second)
		for ; time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if info, err := consumerInfo(eventstream.ConsumerSink); err == nil && info.NumAckPending > 0 {
				t.Logf("sink consumer has %d messages out with worker1 frozen", info.NumAckPending)
				break
			}
		}
		workers[0].kill()
		go watchRedeliveries()
		t.Logf("killed worker1 at %d accepted events", accepted.Load())
		workers[0].start()
	}

	httpClient := &http.Client{Timeout: 10 * time.Second}
	post := func(body []byte) int {
		req, err := http.NewRequest(http.MethodPost, s.api.URL+"/api/events", bytes.NewReader(body))
		if err != nil {
			return 0
		}
		req.Header.Set("Content-Type", "application/msgpack")
		req.Header.Set("x-public-token", s.app.PublicToken)
		resp, err := httpClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for b := range batches {
				body := pack(t, b)
				deadline := time.Now().Add(30 * time.Second)
				ok := false
				for wait := 50 * time.Millisecond; !ok && time.Now().Before(deadline); wait = min(2*wait, time.Second) {
					if ok = post(body) == http.StatusOK; !ok {
						time.Sleep(wait) // the client's backoff, not a test wait
					}
				}
				if !ok {
					failed.Add(int64(len(b)))
					continue
				}
				mu.Lock()
				now := time.Now()
				longestWithout = max(longestWithout, now.Sub(last200))
				last200 = now
				for _, e := range b {
					acceptedIDs = append(acceptedIDs, e["event_id"].(string))
				}
				mu.Unlock()
				n := accepted.Add(int64(len(b)))
				if n >= total/4 {
					leaderOnce.Do(func() { chaos.Add(1); go killLeader() })
				}
				if n >= total/2 {
					workerOnce.Do(func() { chaos.Add(1); go killWorker() })
				}
			}
		})
	}
	wg.Wait()
	chaos.Wait()
	t.Logf("accepted %d events, %d never answered 200 within 30s; longest time without a 200: %s",
		accepted.Load(), failed.Load(), longestWithout)

	require.NotEmpty(t, killedLeader)
	require.NotEqual(t, killedLeader, newLeader, "the stream leader changed")
	require.Zero(t, failed.Load(), "every request got its 200 within 30s of retries")

	// Every accepted event is in Postgres, exactly once.
	require.Eventually(t, func() bool {
		return s.count(t, "SELECT count(*) FROM gameplay_events WHERE event_id = ANY($1::uuid[])", acceptedIDs) == len(acceptedIDs)
	}, 3*time.Minute, 250*time.Millisecond, "every event answered 200 reaches Postgres")
	require.Equal(t, s.count(t, "SELECT count(*) FROM gameplay_events"), s.count(t, "SELECT count(DISTINCT event_id) FROM gameplay_events"))
	require.Zero(t, s.count(t, "SELECT count(*) FROM dead_letters"))

	// Both consumers end with nothing pending or unacknowledged, and the
	// duplicate path was exercised: some deliveries were redeliveries.
	for _, name := range []string{eventstream.ConsumerSink, eventstream.ConsumerExporter} {
		require.Eventually(t, func() bool {
			info, err := consumerInfo(name)
			return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.NumRedelivered == 0
		}, 3*time.Minute, 250*time.Millisecond, "consumer %s drains", name)
	}
	close(watchDone)
	// A redelivery shows as a message out for the second time while the
	// watcher looks, or as more deliveries than stream messages.
	redeliveries := sinkRedelivered.Load()
	for _, name := range []string{eventstream.ConsumerSink, eventstream.ConsumerExporter} {
		info, err := consumerInfo(name)
		require.NoError(t, err)
		t.Logf("consumer %s: %d deliveries of %d stream messages", name, info.Delivered.Consumer, info.Delivered.Stream)
		redeliveries += int64(info.Delivered.Consumer) - int64(info.Delivered.Stream)
	}
	t.Logf("at most %d sink messages were out redelivered at once", sinkRedelivered.Load())
	require.Positive(t, redeliveries, "messages were redelivered: the duplicate path was exercised")
}
