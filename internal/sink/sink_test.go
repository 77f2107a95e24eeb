package sink_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/config"
	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/natstest"
	"github.com/gamepipe/gamepipe/internal/sink"
	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/telemetry"
	"github.com/gamepipe/gamepipe/internal/testutil"
)

func TestMain(m *testing.M) {
	// The chaos tests re-execute this binary as a sink to SIGKILL.
	if os.Getenv(helperEnv) == "1" {
		os.Exit(runHelper())
	}
	os.Exit(m.Run())
}

// setupOpts tunes a test environment; zero values take the defaults noted.
type setupOpts struct {
	ackWait    time.Duration // 2s
	duplicates time.Duration // the stream's default
}

// testBundle is a migrated schema, a JetStream server with the TELEMETRY stream
// and the sink consumer, and a pool for sinks carrying a unique
// application_name (so a test terminates only its own sink's connections).
type testBundle struct {
	schema  *dbtest.Schema
	nats    *natstest.Server
	js      jetstream.JetStream
	cons    jetstream.Consumer
	pool    *pgxpool.Pool
	appName string
	appID   string
}

func setup(t *testing.T, opts setupOpts) *testBundle {
	t.Helper()
	ctx := t.Context()
	bundle := &testBundle{schema: dbtest.NewSchema(t), nats: natstest.Run(t), appID: uuid.NewString()}
	var err error
	bundle.js, err = jetstream.New(bundle.nats.Connect(t))
	require.NoError(t, err)
	_, err = eventstream.EnsureStream(ctx, bundle.js, &eventstream.StreamConfig{Duplicates: opts.duplicates})
	require.NoError(t, err)
	bundle.cons, err = eventstream.EnsureConsumer(ctx, bundle.js, &eventstream.ConsumerConfig{
		Durable:    eventstream.ConsumerSink,
		AckWait:    cmpOr(opts.ackWait, 2*time.Second),
		MaxDeliver: 5,
	})
	require.NoError(t, err)

	bundle.appName = sink.ApplicationName + "-" + uuid.NewString()[:8]
	cfg, err := pgxpool.ParseConfig(bundle.schema.URL)
	require.NoError(t, err)
	cfg.ConnConfig.RuntimeParams["application_name"] = bundle.appName
	cfg.MaxConns = 4
	bundle.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(bundle.pool.Close)
	return bundle
}

// testConfig returns cfg (nil: the zero Config) with BatchMax, when zero,
// as in production: internal/config's default, which workercmd passes.
func testConfig(cfg *sink.Config) *sink.Config {
	var out sink.Config
	if cfg != nil {
		out = *cfg
	}
	if out.BatchMax == 0 {
		prod, err := config.WorkerFromEnv(func(string) string { return "" })
		if err != nil {
			panic(err)
		}
		out.BatchMax = prod.SinkBatchMax
	}
	return &out
}

// runSink starts a sink on bundle, see startSink.
func (bundle *testBundle) runSink(t *testing.T, cfg *sink.Config) *sink.Sink {
	t.Helper()
	s, err := sink.New(testLogger(t), testConfig(cfg), bundle.pool, bundle.cons)
	require.NoError(t, err)
	bundle.startSink(t, s)
	return s
}

// startSink runs s until the test ends, then stops it and checks that Run
// returned nil. The returned channel receives Run's result should it return
// earlier.
func (bundle *testBundle) startSink(t *testing.T, s *sink.Sink) <-chan error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("sink Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("sink did not stop")
		}
	})
	return done
}

// publish publishes events as the API does: the stored encoding on the
// event's subject, with Nats-Msg-Id = event id.
func (bundle *testBundle) publish(t *testing.T, events ...telemetry.Event) {
	t.Helper()
	for i := range events {
		data, err := telemetry.MarshalStored(&events[i])
		require.NoError(t, err)
		_, err = bundle.js.Publish(t.Context(), events[i].Subject(), data, jetstream.WithMsgID(events[i].ID))
		require.NoError(t, err)
	}
}

// count runs a count(*) query on the test's schema.
func (bundle *testBundle) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, bundle.schema.Pool.QueryRow(t.Context(), sql, args...).Scan(&n))
	return n
}

// requireExactlyOnce waits until table holds n rows with n distinct ids and
// every message is acked.
func (bundle *testBundle) requireExactlyOnce(t *testing.T, table string, n int) {
	t.Helper()
	testutil.WaitFor(t, 30*time.Second, func() error {
		var rows, distinct int
		err := bundle.schema.Pool.QueryRow(t.Context(), "SELECT count(*), count(DISTINCT event_id) FROM "+table).Scan(&rows, &distinct)
		if err != nil {
			return err
		}
		if rows != n || distinct != n {
			return fmt.Errorf("%s has %d rows, %d distinct, want %d", table, rows, distinct, n)
		}
		return bundle.allAcked(t)
	})
}

// allAcked reports whether every stream message is acked by the consumer.
func (bundle *testBundle) allAcked(t *testing.T) error {
	info, err := bundle.cons.Info(t.Context())
	if err != nil {
		return err
	}
	stream, err := bundle.js.Stream(t.Context(), eventstream.StreamName)
	if err != nil {
		return err
	}
	last := stream.CachedInfo().State.LastSeq
	if info.NumAckPending != 0 || info.AckFloor.Stream != last {
		return fmt.Errorf("num_ack_pending %d, ack floor %d, stream last seq %d", info.NumAckPending, info.AckFloor.Stream, last)
	}
	return nil
}

func (bundle *testBundle) consumerInfo(t *testing.T) *jetstream.ConsumerInfo {
	t.Helper()
	info, err := bundle.cons.Info(t.Context())
	require.NoError(t, err)
	return info
}

func testLogger(t *testing.T) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel).With().Timestamp().Logger()
}

// newEvent is a valid event of the kind for the app, received now.
func newEvent(kind telemetry.Kind, appID string) telemetry.Event {
	return testutil.Event(kind, appID, time.Now())
}

// newEvents is n of them.
func newEvents(n int, kind telemetry.Kind, appID string) []telemetry.Event {
	return testutil.Events(n, kind, appID, time.Now())
}

// counterValue reads a counter (with the given label value, if any) from
// the registry.
func counterValue(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if label == "" || len(m.GetLabel()) > 0 && m.GetLabel()[0].GetValue() == label {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func cmpOr(d, def time.Duration) time.Duration {
	if d != 0 {
		return d
	}
	return def
}

func TestNew(t *testing.T) {
	t.Parallel()

	bundle := setup(t, setupOpts{})
	tests := []struct {
		name    string
		cfg     *sink.Config
		wantErr string
	}{
		{"HeartbeatNotShorterThanAckWait", &sink.Config{BatchMax: 10, Heartbeat: 2 * time.Second}, "must be shorter than the consumer's AckWait"},
		{"NegativeBatchMax", &sink.Config{BatchMax: -1}, "must not be negative"},
		{"NilConfig", nil, "BatchMax"},
		{"RetryMaxBelowRetryMin", &sink.Config{BatchMax: 10, RetryMin: time.Second, RetryMax: time.Millisecond}, "RetryMax"},
		{"ZeroConfig", &sink.Config{}, "BatchMax is required"},
		{"OnlyBatchMax", &sink.Config{BatchMax: 10}, ""},
		{"ProductionConfig", testConfig(nil), ""},
	}
	for _, tt := range tests {
		s, err := sink.New(zerolog.Nop(), tt.cfg, bundle.pool, bundle.cons)
		if tt.wantErr != "" {
			require.ErrorContains(t, err, tt.wantErr, tt.name)
			continue
		}
		require.NoError(t, err, tt.name)
		require.ErrorContains(t, s.Healthy(), "not running", "not healthy before Run")
	}
	_, err := sink.New(zerolog.Nop(), nil, nil, bundle.cons)
	require.Error(t, err)
}

func TestSink(t *testing.T) {
	t.Parallel()

	t.Run("DeadLettersRefusedByPostgres", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t, setupOpts{})
		good := newEvents(10, telemetry.KindGameplay, bundle.appID)
		// Valid JSON, so it passes the decoder, but jsonb refuses \u0000.
		refused := newEvent(telemetry.KindGameplay, bundle.appID)
		refused.CustomData = json.RawMessage(`{"name":"\u0000"}`)
		// Decodes, but its app_id cannot be stored in a uuid column.
		notUUID := newEvent(telemetry.KindFunnel, "my-app")
		bundle.publish(t, append(good, refused, notUUID)...)
		bundle.runSink(t, nil)

		bundle.requireExactlyOnce(t, "gameplay_events", 10)
		require.Equal(t, 2, bundle.count(t, "SELECT count(*) FROM dead_letters"))
		require.Equal(t, 1, bundle.count(t, "SELECT count(*) FROM dead_letters WHERE reason LIKE 'refused by Postgres:%' AND subject = $1", refused.Subject()))
		require.Equal(t, 1, bundle.count(t, "SELECT count(*) FROM dead_letters WHERE reason LIKE '%app_id \"my-app\" is not a UUID%'"))
	})

	t.Run("GracefulShutdownFinishesBatch", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t, setupOpts{})
		bundle.publish(t, newEvents(50, telemetry.KindFunnel, bundle.appID)...)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		s, err := sink.New(testLogger(t), testConfig(&sink.Config{Fault: func(stage string) {
			if stage == sink.FaultBeforeCommit {
				cancel() // shutdown arrives while the batch is being written
			}
		}}), bundle.pool, bundle.cons)
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Fatal("Run did not return after cancellation")
		}

		// Committed and acked before Run returned: nothing to wait for.
		require.Equal(t, 50, bundle.count(t, "SELECT count(*) FROM funnel_steps"))
		require.NoError(t, bundle.allAcked(t))
		require.ErrorContains(t, s.Healthy(), "not running")
	})

	t.Run("LateDuplicateMakesOneRow", func(t *testing.T) {
		t.Parallel()

		// docs/reliability.md #4: a repeat inside the window is refused by JetStream;
		// one after it is stored again, and the primary key keeps one row.
		bundle := setup(t, setupOpts{duplicates: time.Second})
		ev := newEvent(telemetry.KindGameplay, bundle.appID)
		data, err := telemetry.MarshalStored(&ev)
		require.NoError(t, err)
		publish := func() *jetstream.PubAck {
			ack, err := bundle.js.Publish(t.Context(), ev.Subject(), data, jetstream.WithMsgID(ev.ID))
			require.NoError(t, err)
			return ack
		}
		require.False(t, publish().Duplicate)
		require.True(t, publish().Duplicate)
		testutil.WaitFor(t, 10*time.Second, func() error {
			if publish().Duplicate {
				return fmt.Errorf("still inside the duplicate window")
			}
			return nil
		})

		m := prometheus.NewRegistry()
		bundle.runSink(t, &sink.Config{Metrics: m})
		bundle.requireExactlyOnce(t, "gameplay_events", 1)
		require.EqualValues(t, 2, bundle.consumerInfo(t).Delivered.Stream, "the late duplicate is a second message")
		require.EqualValues(t, 1, counterValue(t, m, "gamepipe_sink_rows_total", "gameplay"))
	})

	t.Run("PoisonMessage", func(t *testing.T) {
		t.Parallel()

		// docs/reliability.md #18: garbage among 100 good events.
		bundle := setup(t, setupOpts{})
		good := newEvents(100, telemetry.KindGameplay, bundle.appID)
		bundle.publish(t, good[:50]...)
		garbage := []byte("\xc1 this is not msgpack")
		ack, err := bundle.js.Publish(t.Context(), telemetry.Subject(bundle.appID, telemetry.KindGameplay), garbage, jetstream.WithMsgID(uuid.NewString()))
		require.NoError(t, err)
		bundle.publish(t, good[50:]...)

		m := prometheus.NewRegistry()
		bundle.runSink(t, &sink.Config{Metrics: m})
		bundle.requireExactlyOnce(t, "gameplay_events", 100)

		var (
			seq           int64
			subject, why  string
			data          []byte
			lettersStored int
		)
		require.NoError(t, bundle.schema.Pool.QueryRow(t.Context(), "SELECT count(*) FROM dead_letters").Scan(&lettersStored))
		require.Equal(t, 1, lettersStored)
		require.NoError(t, bundle.schema.Pool.QueryRow(t.Context(), "SELECT stream_seq, subject, data, reason FROM dead_letters").Scan(&seq, &subject, &data, &why))
		require.EqualValues(t, ack.Sequence, seq)
		require.Equal(t, telemetry.Subject(bundle.appID, telemetry.KindGameplay), subject)
		require.Equal(t, garbage, data)
		require.Contains(t, why, telemetry.ErrInvalidStored.Error())

		// Every message was delivered once: no redelivery loop.
		info := bundle.consumerInfo(t)
		require.EqualValues(t, 101, info.Delivered.Consumer)
		require.LessOrEqual(t, info.Delivered.Consumer, uint64(101*info.Config.MaxDeliver))
		require.Zero(t, info.NumAckPending)
		require.EqualValues(t, 1, counterValue(t, m, "gamepipe_sink_dead_letters_total", ""))
		require.EqualValues(t, 100, counterValue(t, m, "gamepipe_sink_rows_total", "gameplay"))
	})

	t.Run("SubjectMismatchIsPoison", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t, setupOpts{})
		ev := newEvent(telemetry.KindFunnel, bundle.appID)
		data, err := telemetry.MarshalStored(&ev)
		require.NoError(t, err)
		_, err = bundle.js.Publish(t.Context(), telemetry.Subject(uuid.NewString(), telemetry.KindFunnel), data, jetstream.WithMsgID(ev.ID))
		require.NoError(t, err)
		_, err = bundle.js.Publish(t.Context(), telemetry.Subject(bundle.appID, telemetry.KindGameplay), data, jetstream.WithMsgID(uuid.NewString()))
		require.NoError(t, err)
		bundle.runSink(t, nil)

		testutil.WaitFor(t, 30*time.Second, func() error { return bundle.allAcked(t) })
		require.Zero(t, bundle.count(t, "SELECT count(*) FROM funnel_steps"))
		require.Equal(t, 2, bundle.count(t, "SELECT count(*) FROM dead_letters WHERE reason LIKE '%does not match%'"))
	})

	t.Run("WritesEachKind", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t, setupOpts{})
		m := prometheus.NewRegistry()
		s := bundle.runSink(t, &sink.Config{Metrics: m})
		var events []telemetry.Event
		for _, kind := range telemetry.Kinds {
			events = append(events, newEvent(kind, bundle.appID))
		}
		bundle.publish(t, events...)

		bundle.requireExactlyOnce(t, "player_events", 1)
		for _, table := range []string{"funnel_steps", "gameplay_events", "trajectories"} {
			bundle.requireExactlyOnce(t, table, 1)
		}
		require.Equal(t, 1, bundle.count(t, "SELECT count(*) FROM players WHERE app_id = $1 AND player_id = $2", bundle.appID, events[0].PlayerID))
		require.Equal(t, 1, bundle.count(t, `SELECT count(*) FROM gameplay_events WHERE event_id = $1 AND app_id = $2
			AND pos_x = 10.5 AND custom_data->>'weapon' = 'Sword' AND "timestamp" = $3`, events[2].ID, bundle.appID, events[2].Timestamp))
		require.Equal(t, 1, bundle.count(t, `SELECT count(*) FROM trajectories WHERE event_id = $1 AND num_points = 3
			AND fps_low_1 = 30 AND timestamp_end = $2`, events[3].ID, events[3].TimestampEnd))
		// Today's partition exists: the sink made it at start.
		require.Equal(t, 1, bundle.count(t, "SELECT count(*) FROM "+store.PartitionName("gameplay_events", time.Now())))

		require.NoError(t, s.Healthy())
		for _, kind := range telemetry.Kinds {
			require.EqualValues(t, 1, counterValue(t, m, "gamepipe_sink_rows_total", string(kind)), kind)
		}
		require.Zero(t, counterValue(t, m, "gamepipe_sink_batch_errors_total", ""))
	})
}
