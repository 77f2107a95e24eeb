package e2e

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/gamepipe/gamepipe/internal/apicmd"
	"github.com/gamepipe/gamepipe/internal/auth"
	"github.com/gamepipe/gamepipe/internal/config"
	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/httpapi"
	"github.com/gamepipe/gamepipe/internal/natstest"
	"github.com/gamepipe/gamepipe/internal/ratelimit"
	"github.com/gamepipe/gamepipe/internal/sink"
	"github.com/gamepipe/gamepipe/internal/store"
)

// stack is one test's running telemetry path.
type stack struct {
	app     *store.AppCredentials
	db      *dbtest.Schema
	nats    *natstest.Server
	natsURL string
	api     *httptest.Server
}

type stackOpts struct {
	natsURL string            // use this server instead of an in-process one
	fault   func(i int) error // publisher fault hook
	extra   func(t *testing.T, s *stack, nc *nats.Conn) httpapi.Deps
	stream  *eventstream.StreamConfig // TELEMETRY's config; defaults when nil
	noSink  bool                      // the test starts the sink itself
	db      *dbtest.Schema            // a migrated database to use instead of a fresh schema
	keyTTL  time.Duration             // the api's key cache TTL; its default when zero
}

func newStack(t *testing.T, opts *stackOpts) *stack {
	t.Helper()
	ctx := context.Background()
	if opts == nil {
		opts = &stackOpts{}
	}
	s := &stack{db: opts.db, natsURL: opts.natsURL}
	if s.db == nil {
		s.db = dbtest.NewSchema(t)
	}
	if s.natsURL == "" {
		s.nats = natstest.Run(t)
		s.natsURL = s.nats.ClientURL()
	}
	var err error
	s.app, err = store.AppCreate(ctx, s.db.Pool, "game")
	require.NoError(t, err)

	// The API side.
	nc, err := nats.Connect(s.natsURL, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(2*time.Second))
	require.NoError(t, err)
	streamCfg := opts.stream
	if streamCfg == nil {
		streamCfg = &eventstream.StreamConfig{}
	}
	_, err = eventstream.EnsureStream(ctx, js, streamCfg)
	require.NoError(t, err)
	deps := httpapi.Deps{}
	if opts.extra != nil {
		deps = opts.extra(t, s, nc)
	}
	deps.Logger = zerolog.Nop()
	// The api's default linger: concurrent requests share messages.
	deps.Publisher = eventstream.NewPublisher(js, &eventstream.PublisherConfig{Timeout: 2 * time.Second, Fault: opts.fault, Group: true})
	deps.KeyLookup = func(ctx context.Context, h auth.Hash) (*store.KeyInfo, error) {
		return store.KeyLookup(ctx, s.db.Pool, h)
	}
	prod, err := config.APIFromEnv(func(string) string { return "" })
	require.NoError(t, err)
	cfg := apicmd.HTTPConfig(prod)
	cfg.RateLimit = ratelimit.Config{Rate: 10_000, Burst: 10_000}
	cfg.KeyCacheTTL = cmp.Or(opts.keyTTL, cfg.KeyCacheTTL)
	api, err := httpapi.New(cfg, &deps)
	require.NoError(t, err)
	s.api = httptest.NewServer(api)
	t.Cleanup(s.api.Close)

	if !opts.noSink {
		s.startSink(t)
	}
	return s
}

// startSink runs a sink on its own NATS connection until the test ends.
func (s *stack) startSink(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	nc, err := nats.Connect(s.natsURL, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	require.NoError(t, err)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	cons, err := eventstream.EnsureConsumer(ctx, js, &eventstream.ConsumerConfig{Durable: eventstream.ConsumerSink, AckWait: 2 * time.Second})
	require.NoError(t, err)
	prod, err := config.WorkerFromEnv(func(string) string { return "" })
	require.NoError(t, err)
	sk, err := sink.New(zerolog.Nop(), &sink.Config{BatchMax: prod.SinkBatchMax}, s.db.Pool, cons)
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = sk.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		nc.Close()
	})
}

func (s *stack) post(t *testing.T, body []byte) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.api.URL+"/api/events", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/msgpack")
	req.Header.Set("x-public-token", s.app.PublicToken)
	resp, err := s.api.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out), "%s", raw)
	return resp.StatusCode, out
}

func (s *stack) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, s.db.Pool.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

// eventuallyCount waits until the query returns want, then checks it stays.
func (s *stack) eventuallyCount(t *testing.T, want int, sql string, args ...any) {
	t.Helper()
	require.Eventually(t, func() bool { return s.count(t, sql, args...) >= want }, 30*time.Second, 50*time.Millisecond,
		"waiting for %d rows of %q", want, sql)
	require.Equal(t, want, s.count(t, sql, args...))
}

func pack(t *testing.T, v any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	require.NoError(t, err)
	return b
}

func gameplay(app string, i int) map[string]any {
	return map[string]any{
		"event_name":   "Player_Jump",
		"app_id":       app,
		"build_id":     "Win64_Shipping_1.0.2",
		"player_id":    "player_uuid",
		"session_id":   "session_uuid",
		"level_id":     "Level_1",
		"position":     []float64{10.5, 0.0, -5.2},
		"custom_data":  map[string]any{"weapon": "Sword", "ammo": i},
		"input_method": "Gamepad",
		"timestamp":    time.Now().UTC().Format(time.RFC3339Nano),
	}
}

// player is a player event of app, its own by i.
func player(app string, i int) map[string]any {
	return map[string]any{
		"event_name": "Create_Player",
		"app_id":     app,
		"build_id":   "Win64_Shipping_1.0.2",
		"player_id":  fmt.Sprintf("player-%d", i),
		"region":     "EU-West",
		"timestamp":  time.Now().UTC().Format(time.RFC3339Nano),
	}
}
