package sink_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/sink"
	"github.com/gamepipe/gamepipe/internal/telemetry"
	"github.com/gamepipe/gamepipe/internal/testutil"
)

// The helper process: TestMain runs runHelper instead of the tests when
// helperEnv is "1".
const (
	helperEnv      = "GAMEPIPE_SINK_HELPER"
	helperDBEnv    = "GAMEPIPE_SINK_DATABASE_URL"
	helperNATSEnv  = "GAMEPIPE_SINK_NATS_URL"
	helperFaultEnv = "GAMEPIPE_SINK_FAULT"
)

// runHelper runs a sink on the schema and NATS server named in the
// environment, and SIGKILLs itself at the named fault stage. It returns (an
// exit code) only if something fails or the fault never fires.
func runHelper() int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	logger := zerolog.New(os.Stderr).With().Timestamp().Str("process", "helper").Logger()
	fail := func(err error) int {
		logger.Error().Err(err).Msg("helper failed")
		return 2
	}

	nc, err := nats.Connect(os.Getenv(helperNATSEnv))
	if err != nil {
		return fail(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fail(err)
	}
	cons, err := js.Consumer(ctx, eventstream.StreamName, eventstream.ConsumerSink)
	if err != nil {
		return fail(err)
	}
	cfg, err := pgxpool.ParseConfig(os.Getenv(helperDBEnv))
	if err != nil {
		return fail(err)
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = sink.ApplicationName
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fail(err)
	}
	defer pool.Close()

	fault := os.Getenv(helperFaultEnv)
	s, err := sink.New(logger, testConfig(&sink.Config{Fault: func(stage string) {
		if stage == fault {
			logger.Info().Str("stage", stage).Msg("helper: SIGKILL")
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			time.Sleep(time.Minute) // the signal is on its way
		}
	}}), pool, cons)
	if err != nil {
		return fail(err)
	}
	_ = s.Run(ctx)
	logger.Error().Msg("helper: fault never fired")
	return 3
}

// runKilledSink runs the helper process as a sink on bundle and waits until it
// has SIGKILLed itself at fault.
func runKilledSink(t *testing.T, bundle *testBundle, fault string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		helperEnv+"=1",
		helperDBEnv+"="+bundle.schema.URL,
		helperNATSEnv+"="+bundle.nats.ClientURL(),
		helperFaultEnv+"="+fault,
	)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		var exitErr *exec.ExitError
		require.ErrorAs(t, err, &exitErr, "helper output:\n%s", stderr.String())
		status := exitErr.Sys().(syscall.WaitStatus)
		require.True(t, status.Signaled() && status.Signal() == syscall.SIGKILL,
			"helper ended with %v, not SIGKILL; output:\n%s", err, stderr.String())
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("helper did not kill itself; output:\n%s", stderr.String())
	}
}

// redeliveryProbe is a Fault hook that records, at each before_commit, the
// consumer's NumRedelivered: the batch being written is delivered and not
// yet acked then, so a redelivered batch shows up.
type redeliveryProbe struct {
	bundle *testBundle
	t      *testing.T
	max    atomic.Int64
}

func (p *redeliveryProbe) fault(stage string) {
	if stage != sink.FaultBeforeCommit {
		return
	}
	info, err := p.bundle.cons.Info(context.Background())
	if err != nil {
		p.t.Errorf("consumer info: %v", err)
		return
	}
	if n := int64(info.NumRedelivered); n > p.max.Load() {
		p.max.Store(n)
	}
}

func TestSinkChaos(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("chaos test: subprocesses, killed connections and stalls")
	}

	t.Run("PostgresConnectionsTerminated", func(t *testing.T) {
		t.Parallel()

		// docs/reliability.md #16: the sink's connections are terminated three
		// times, each while a batch is in its transaction.
		bundle := setup(t, setupOpts{})
		terminate := func() {
			// The function is in the select list so that it runs only on
			// the rows the WHERE clause keeps (Postgres may evaluate WHERE
			// conditions in any order).
			var n int
			err := bundle.schema.Pool.QueryRow(context.Background(), `SELECT count(*) FROM (
				SELECT pg_terminate_backend(pid, 5000) AS ok FROM pg_stat_activity
				WHERE application_name = $1 AND pid <> pg_backend_pid()) k WHERE ok`, bundle.appName).Scan(&n)
			if err != nil || n == 0 {
				t.Errorf("terminated %d backends: %v", n, err)
			}
		}
		var (
			s             *sink.Sink
			mu            sync.Mutex
			calls         int
			kills         int
			lastKillCall  int
			checkNext     bool
			unavailableAt []string // Healthy() at the attempt after each kill
		)
		cfg := &sink.Config{BatchMax: 100, Fault: func(stage string) {
			if stage != sink.FaultBeforeCommit {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			calls++
			if checkNext {
				checkNext = false
				unavailableAt = append(unavailableAt, errString(s.Healthy()))
			}
			// Every third attempt from the second on: counted in batches,
			// not seconds, so all three kills land however fast or slow
			// the machine works through the 20 or more batches.
			if kills < 3 && calls >= 2 && (kills == 0 || calls-lastKillCall >= 3) {
				kills++
				lastKillCall = calls
				checkNext = true
				terminate() // this transaction's connection too: its commit fails
			}
		}}
		var err error
		s, err = sink.New(testLogger(t), testConfig(cfg), bundle.pool, bundle.cons)
		require.NoError(t, err)
		done := bundle.startSink(t, s)
		// A steady stream: 100 events every 200ms, so the three kills land
		// while events keep coming.
		events := newEvents(2000, telemetry.KindGameplay, bundle.appID)
		ticker := time.NewTicker(200 * time.Millisecond)
		defer ticker.Stop()
		for chunk := range slices.Chunk(events, 100) {
			bundle.publish(t, chunk...)
			<-ticker.C
		}

		bundle.requireExactlyOnce(t, "gameplay_events", 2000)
		mu.Lock()
		require.Equal(t, 3, kills)
		require.Len(t, unavailableAt, 3)
		for _, h := range unavailableAt {
			require.Contains(t, h, "postgres unavailable")
		}
		mu.Unlock()
		testutil.WaitFor(t, 30*time.Second, s.Healthy)
		select {
		case err := <-done:
			t.Fatalf("Run returned: %v", err)
		default:
		}
		// Failed batches were neither acked nor handed back: the sink
		// retried them itself, so nothing was delivered twice.
		require.EqualValues(t, 2000, bundle.consumerInfo(t).Delivered.Consumer)
	})

	t.Run("SIGKILLAfterCommit", func(t *testing.T) {
		t.Parallel()

		// docs/reliability.md #14: rows committed, messages never acked.
		bundle := setup(t, setupOpts{})
		bundle.publish(t, newEvents(500, telemetry.KindFunnel, bundle.appID)...)
		runKilledSink(t, bundle, sink.FaultAfterCommit)
		require.Equal(t, 500, bundle.count(t, "SELECT count(*) FROM funnel_steps"))
		require.Equal(t, 500, bundle.consumerInfo(t).NumAckPending)

		probe := &redeliveryProbe{bundle: bundle, t: t}
		bundle.runSink(t, &sink.Config{Fault: probe.fault})
		bundle.requireExactlyOnce(t, "funnel_steps", 500)
		require.Positive(t, probe.max.Load(), "the restarted sink got the batch again")
		require.Greater(t, bundle.consumerInfo(t).Delivered.Consumer, uint64(500))
	})

	t.Run("SIGKILLBeforeCommit", func(t *testing.T) {
		t.Parallel()

		// docs/reliability.md #15: the transaction dies with the process.
		bundle := setup(t, setupOpts{})
		bundle.publish(t, newEvents(500, telemetry.KindRealtime, bundle.appID)...)
		runKilledSink(t, bundle, sink.FaultBeforeCommit)
		require.Zero(t, bundle.count(t, "SELECT count(*) FROM trajectories"))

		probe := &redeliveryProbe{bundle: bundle, t: t}
		bundle.runSink(t, &sink.Config{Fault: probe.fault})
		bundle.requireExactlyOnce(t, "trajectories", 500)
		require.Positive(t, probe.max.Load())
	})

	// docs/reliability.md #20: one batch's commit takes 3 x AckWait while a second
	// sink keeps fetching. With heartbeats nothing is redelivered; without
	// (the negative control) the second sink gets the batch again, and the
	// rows are still exactly once.
	slowCommit := func(t *testing.T, heartbeat time.Duration) (redelivered int, delivered uint64) {
		t.Helper()
		// A heartbeat (AckWait/3) has two thirds of AckWait to reach the
		// server: seconds, so a busy machine does not turn the positive
		// case into a redelivery.
		const ackWait = 3 * time.Second
		bundle := setup(t, setupOpts{ackWait: ackWait})
		bundle.publish(t, newEvents(300, telemetry.KindGameplay, bundle.appID)...)

		stalled := make(chan struct{})
		var once sync.Once
		var atCommit atomic.Int64
		bundle.runSink(t, &sink.Config{Heartbeat: heartbeat, Fault: func(stage string) {
			if stage != sink.FaultBeforeCommit {
				return
			}
			once.Do(func() {
				close(stalled)
				time.Sleep(3 * ackWait) // the slow commit under test
				info, err := bundle.cons.Info(context.Background())
				if err != nil {
					t.Errorf("consumer info: %v", err)
					return
				}
				atCommit.Store(int64(info.NumRedelivered))
			})
		}})
		select {
		case <-stalled:
		case <-time.After(30 * time.Second):
			t.Fatal("first sink never reached its commit")
		}
		bundle.runSink(t, nil)

		bundle.requireExactlyOnce(t, "gameplay_events", 300)
		return int(atCommit.Load()), bundle.consumerInfo(t).Delivered.Consumer
	}

	t.Run("SlowCommitWithHeartbeats", func(t *testing.T) {
		t.Parallel()

		redelivered, delivered := slowCommit(t, 0)
		require.Zero(t, redelivered)
		require.EqualValues(t, 300, delivered)
	})

	t.Run("SlowCommitWithoutHeartbeats", func(t *testing.T) {
		t.Parallel()

		redelivered, delivered := slowCommit(t, -1)
		require.Positive(t, redelivered)
		require.Greater(t, delivered, uint64(300))
	})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
