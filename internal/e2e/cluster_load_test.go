//go:build chaos

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/sink"
	"github.com/gamepipe/gamepipe/internal/workercmd"
)

// sinkKillFileEnv names a file: once it exists, the worker subprocess's
// sink removes it after its next commit and SIGKILLs the process before
// acking, so the batch it wrote comes back to the sink as redeliveries.
// Only the one sink loop whose remove succeeds fires, and a restarted
// process with the same environment finds no file.
const sinkKillFileEnv = "GAMEPIPE_E2E_SINK_KILL_FILE"

// sinkKilledMarker is the line the worker writes just before it kills itself.
const sinkKilledMarker = "e2e: sink fault: SIGKILL after commit, before ack"

func init() {
	subprocesses["GAMEPIPE_E2E_WORKER"] = func(ctx context.Context) error {
		return workercmd.RunWithSinkFault(ctx, os.Getenv, os.Stderr, sinkKillFault(os.Getenv(sinkKillFileEnv)))
	}
}

// sinkKillFault is the worker subprocess's sink fault hook (see
// sinkKillFileEnv); nil when file is empty.
func sinkKillFault(file string) func(stage string) {
	if file == "" {
		return nil
	}
	return func(stage string) {
		if stage != sink.FaultAfterCommit || os.Remove(file) != nil {
			return
		}
		fmt.Fprintln(os.Stderr, sinkKilledMarker)
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		time.Sleep(time.Minute) // the signal is on its way
	}
}

// clusterLoad is the telemetry path of the cluster chaos tests: three
// nats-server processes with TELEMETRY and its consumers at R3, the api
// in the test, two worker processes and an exporter process. Clients
// send batches of events with unique ids at a steady pace and retry any
// non-2xx for up to 30s, while the test injects failures.
type clusterLoad struct {
	t        *testing.T
	cluster  *natsCluster
	js       jetstream.JetStream
	s        *stack
	workers  []*subprocess
	killFile string

	mu             sync.Mutex
	acceptedIDs    []string
	last200        time.Time
	longestWithout time.Duration
	accepted       atomic.Int64
	failed         atomic.Int64
}

func newClusterLoad(t *testing.T) *clusterLoad {
	t.Helper()
	db := dbtest.NewSchema(t)
	l := &clusterLoad{t: t, cluster: startNATSCluster(t), killFile: filepath.Join(t.TempDir(), "kill-sink")}

	nc, err := nats.Connect(l.cluster.urls(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	l.js, err = jetstream.New(nc)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, err := jsTry(func(ctx context.Context) (jetstream.Stream, error) {
			return eventstream.EnsureStream(ctx, l.js, &eventstream.StreamConfig{Replicas: 3})
		})
		return err == nil
	}, 2*time.Minute, 200*time.Millisecond, "the cluster takes the R3 stream once it has a leader")

	l.s = newStack(t, &stackOpts{natsURL: l.cluster.urls(), db: db, noSink: true, stream: &eventstream.StreamConfig{Replicas: 3}})
	common := []string{"DATABASE_URL=" + db.URL, "NATS_URL=" + l.cluster.urls(), "STREAM_REPLICAS=3", "LOG_LEVEL=warn",
		"LOG_FORMAT=json", "DATA_DIR=" + t.TempDir()}
	for i := range 2 {
		env := append(common, "GAMEPIPE_E2E_WORKER=1", "WORKER_HTTP_ADDR=127.0.0.1:0", "SINK_ACK_WAIT=3s",
			"KINETIX_CONCURRENCY=2", "GENERAITIV_CONCURRENCY=2")
		if i == 0 {
			env = append(env, sinkKillFileEnv+"="+l.killFile)
		}
		w := newSubprocess(t, fmt.Sprintf("worker%d", i+1), env...)
		w.start()
		l.workers = append(l.workers, w)
	}
	exporter := newSubprocess(t, "exporter", append(common, "GAMEPIPE_E2E_EXPORTER=1", "EXPORTER_HTTP_ADDR=127.0.0.1:0",
		"EXPORT_MAX_AGE=2s", "EXPORT_ACK_WAIT=10s", "EXPORT_COMPLETE_GRACE=2s")...)
	exporter.start()
	for _, name := range []string{eventstream.ConsumerSink, eventstream.ConsumerExporter} {
		require.Eventually(t, func() bool {
			c, err := jsTry(func(ctx context.Context) (jetstream.Consumer, error) {
				return l.js.Consumer(ctx, eventstream.StreamName, name)
			})
			return err == nil && c.CachedInfo().Config.Replicas == 3
		}, 2*time.Minute, 200*time.Millisecond, "consumer %s", name)
	}
	return l
}

func (l *clusterLoad) streamInfo() (*jetstream.StreamInfo, error) {
	return jsTry(func(ctx context.Context) (*jetstream.StreamInfo, error) {
		st, err := l.js.Stream(ctx, eventstream.StreamName)
		if err != nil {
			return nil, err
		}
		return st.Info(ctx)
	})
}

// streamLeader is the stream's leader, or "" while it has none or the
// cluster does not answer.
func (l *clusterLoad) streamLeader() string {
	info, err := l.streamInfo()
	if err != nil || info.Cluster == nil {
		return ""
	}
	return info.Cluster.Leader
}

// awaitStreamLeader waits until the stream has a leader and returns it.
func (l *clusterLoad) awaitStreamLeader() string {
	l.t.Helper()
	var leader string
	require.Eventually(l.t, func() bool { leader = l.streamLeader(); return leader != "" }, 2*time.Minute, 50*time.Millisecond,
		"the stream has a leader")
	return leader
}

func (l *clusterLoad) consumerInfo(name string) (*jetstream.ConsumerInfo, error) {
	return jsTry(func(ctx context.Context) (*jetstream.ConsumerInfo, error) {
		c, err := l.js.Consumer(ctx, eventstream.StreamName, name)
		if err != nil {
			return nil, err
		}
		return c.Info(ctx)
	})
}

// chaosStep is a failure the test injects once at least at events were
// answered.
type chaosStep struct {
	at  int64
	run func()
}

// drive runs the clients, then each step in turn in the test's goroutine
// (each waits for the clients' progress to reach its at), and once the
// last step is done it lets tail more events be accepted and stops the
// clients. The load is paced (about 1,000 events/s), so it is under way
// through every step however long the steps take, and it is bounded: it
// stops by itself after 200,000 events or 8 minutes.
func (l *clusterLoad) drive(steps []chaosStep, tail int64) {
	const (
		batch, clients = 20, 8
		maxEvents      = 200_000
		maxTime        = 8 * time.Minute
	)
	pace := time.NewTicker(20 * time.Millisecond) // one batch per tick across all clients
	defer pace.Stop()
	stop := make(chan struct{})
	var stopOnce sync.Once
	stopLoad := func() { stopOnce.Do(func() { close(stop) }) }
	var wg sync.WaitGroup
	l.t.Cleanup(func() { stopLoad(); wg.Wait() }) // a failed step ends the test: stop the load with it
	var sent atomic.Int64
	deadline := time.Now().Add(maxTime)
	app := l.s.app.AppID.String()
	l.last200 = time.Now()

	httpClient := &http.Client{Timeout: 10 * time.Second}
	post := func(body []byte) int {
		req, err := http.NewRequest(http.MethodPost, l.s.api.URL+"/api/events", bytes.NewReader(body))
		if err != nil {
			return 0
		}
		req.Header.Set("Content-Type", "application/msgpack")
		req.Header.Set("x-public-token", l.s.app.PublicToken)
		resp, err := httpClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for range clients {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-pace.C:
				}
				if sent.Add(batch) > maxEvents || time.Now().After(deadline) {
					stopLoad()
					return
				}
				b := make([]map[string]any, batch)
				for j := range b {
					b[j] = gameplay(app, j)
					b[j]["event_id"] = uuid.NewString()
				}
				body, err := msgpack.Marshal(b)
				if err != nil {
					l.t.Errorf("packing a batch: %v", err)
					return
				}
				retryUntil := time.Now().Add(30 * time.Second)
				ok := false
				for wait := 50 * time.Millisecond; !ok && time.Now().Before(retryUntil); wait = min(2*wait, time.Second) {
					if ok = post(body) == http.StatusOK; !ok {
						time.Sleep(wait) // the client's backoff, not a test wait
					}
				}
				if !ok {
					l.failed.Add(batch)
					continue
				}
				l.mu.Lock()
				now := time.Now()
				l.longestWithout = max(l.longestWithout, now.Sub(l.last200))
				l.last200 = now
				for _, e := range b {
					l.acceptedIDs = append(l.acceptedIDs, e["event_id"].(string))
				}
				l.mu.Unlock()
				l.accepted.Add(batch)
			}
		})
	}

	answered := func() int64 { return l.accepted.Load() + l.failed.Load() }
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}
	for i, st := range steps {
		require.Eventually(l.t, func() bool { return answered() >= st.at || stopped() }, 5*time.Minute, 10*time.Millisecond)
		require.False(l.t, stopped(), "the load hit its bound before chaos step %d", i+1)
		st.run()
	}
	end := answered() + tail
	require.Eventually(l.t, func() bool { return answered() >= end || stopped() }, 5*time.Minute, 10*time.Millisecond)
	stopLoad()
	wg.Wait()
	l.t.Logf("accepted %d events, %d never answered 200 within 30s; longest time without a 200: %s",
		l.accepted.Load(), l.failed.Load(), l.longestWithout)
}

// killWorkerAfterCommit is a chaos step: it arms worker1's sink fault,
// waits until the worker has SIGKILLed itself between a commit and its
// acks, and starts it again. The rows of that batch are in Postgres and
// its messages are unacknowledged: they come back to the sink as
// redeliveries, whose rows must be skipped.
func (l *clusterLoad) killWorkerAfterCommit() {
	l.t.Helper()
	w := l.workers[0]
	require.NoError(l.t, os.WriteFile(l.killFile, nil, 0o600))
	select {
	case <-w.done:
	case <-time.After(3 * time.Minute):
		l.t.Fatal("worker1's sink never committed a batch after its fault was armed")
	}
	status, ok := w.cmd.ProcessState.Sys().(syscall.WaitStatus)
	require.True(l.t, ok && status.Signaled() && status.Signal() == syscall.SIGKILL, "worker1 ended with %s", w.cmd.ProcessState)
	logged, err := os.ReadFile(w.log)
	require.NoError(l.t, err)
	require.Contains(l.t, string(logged), sinkKilledMarker, "worker1 killed itself after a commit")
	if info, err := l.consumerInfo(eventstream.ConsumerSink); err == nil {
		l.t.Logf("worker1 killed itself after a commit at %d accepted events; the sink consumer has %d messages out",
			l.accepted.Load(), info.NumAckPending)
	}
	w.start()
}

// requireSound checks what every cluster chaos test asserts once the load
// has stopped: every event answered 200 is in Postgres exactly once,
// nothing was dead lettered, both consumers end with nothing pending or
// unacknowledged, and the sink's consumer delivered more messages than the
// stream holds: the sink's duplicate path was exercised.
func (l *clusterLoad) requireSound() {
	t := l.t
	t.Helper()
	require.Zero(t, l.failed.Load(), "every request got its 200 within 30s of retries")
	require.Positive(t, l.accepted.Load())

	s := l.s
	require.Eventually(t, func() bool {
		return s.count(t, "SELECT count(*) FROM gameplay_events WHERE event_id = ANY($1::uuid[])", l.acceptedIDs) == len(l.acceptedIDs)
	}, 3*time.Minute, 250*time.Millisecond, "every event answered 200 reaches Postgres")
	require.Equal(t, s.count(t, "SELECT count(*) FROM gameplay_events"), s.count(t, "SELECT count(DISTINCT event_id) FROM gameplay_events"),
		"no event is in Postgres twice")
	require.Zero(t, s.count(t, "SELECT count(*) FROM dead_letters"))

	for _, name := range []string{eventstream.ConsumerSink, eventstream.ConsumerExporter} {
		require.Eventually(t, func() bool {
			info, err := l.consumerInfo(name)
			return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.NumRedelivered == 0
		}, 3*time.Minute, 250*time.Millisecond, "consumer %s drains", name)
	}
	stream, err := l.streamInfo()
	require.NoError(t, err)
	deliveries := map[string]uint64{}
	for _, name := range []string{eventstream.ConsumerSink, eventstream.ConsumerExporter} {
		info, err := l.consumerInfo(name)
		require.NoError(t, err)
		deliveries[name] = info.Delivered.Consumer
		t.Logf("consumer %s: %d deliveries of %d stream messages", name, info.Delivered.Consumer, stream.State.Msgs)
	}
	// Every delivery is of one of the stream's messages, so more
	// deliveries than messages means some message went out twice.
	require.Greater(t, deliveries[eventstream.ConsumerSink], stream.State.Msgs,
		"the sink's consumer redelivered messages: the duplicate path was exercised")
}

// stop ends the process with SIGTERM, as an operator's restart does, and
// waits for it to exit (SIGKILL after a minute).
func (p *subprocess) stop() {
	p.t.Helper()
	require.NoError(p.t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		_ = p.cmd.Process.Kill()
		<-p.done
		p.t.Errorf("%s did not stop within a minute of SIGTERM", p.name)
	}
}

// awaitMember waits until the named server is back in the stream's and
// both consumers' groups: their leader, or a follower that is online and
// current.
func (l *clusterLoad) awaitMember(name string) {
	l.t.Helper()
	member := func(c *jetstream.ClusterInfo) bool {
		if c == nil {
			return false
		}
		if c.Leader == name {
			return true
		}
		for _, p := range c.Replicas {
			if p.Name == name && p.Current && !p.Offline {
				return true
			}
		}
		return false
	}
	require.Eventually(l.t, func() bool {
		st, err := l.streamInfo()
		if err != nil || !member(st.Cluster) {
			return false
		}
		for _, c := range []string{eventstream.ConsumerSink, eventstream.ConsumerExporter} {
			info, err := l.consumerInfo(c)
			if err != nil || !member(info.Cluster) {
				return false
			}
		}
		return true
	}, 3*time.Minute, 100*time.Millisecond, "server %s is back in the stream's and the consumers' groups", name)
}
