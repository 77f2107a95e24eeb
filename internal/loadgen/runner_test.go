package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/apicmd"
	"github.com/gamepipe/gamepipe/internal/auth"
	"github.com/gamepipe/gamepipe/internal/config"
	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/httpapi"
	"github.com/gamepipe/gamepipe/internal/natstest"
	"github.com/gamepipe/gamepipe/internal/ratelimit"
	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/telemetry"
)

// apiBundle is an in-process API with its database schema and JetStream,
// rate limited per source IP as in production (10 requests/s, burst 10).
type apiBundle struct {
	app    *store.AppCredentials
	server *httptest.Server
	stream jetstream.Stream
}

func setupAPI(t *testing.T) *apiBundle {
	t.Helper()
	ctx := context.Background()
	db := dbtest.NewSchema(t)
	ns := natstest.Run(t)
	js, err := jetstream.New(ns.Connect(t), jetstream.WithPublishAsyncTimeout(5*time.Second))
	require.NoError(t, err)
	stream, err := eventstream.EnsureStream(ctx, js, &eventstream.StreamConfig{})
	require.NoError(t, err)
	app, err := store.AppCreate(ctx, db.Pool, "loadgen")
	require.NoError(t, err)
	prod, err := config.APIFromEnv(func(string) string { return "" })
	require.NoError(t, err)
	cfg := apicmd.HTTPConfig(prod)
	cfg.RateLimit = ratelimit.Config{Rate: 10, Burst: 10}
	api, err := httpapi.New(cfg, &httpapi.Deps{
		Logger:    zerolog.Nop(),
		Publisher: eventstream.NewPublisher(js, &eventstream.PublisherConfig{}),
		KeyLookup: func(ctx context.Context, h auth.Hash) (*store.KeyInfo, error) {
			return store.KeyLookup(ctx, db.Pool, h)
		},
	})
	require.NoError(t, err)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return &apiBundle{app: app, server: srv, stream: stream}
}

func (b *apiBundle) config() *Config {
	return &Config{
		URL:       b.server.URL,
		Token:     b.app.PublicToken,
		Generator: GeneratorConfig{AppID: b.app.AppID.String(), Templates: 16, MaxPoints: 100},
	}
}

// storedEvents counts the events in the stream: a message holds one event,
// or a batch of a request's (or several requests') events of one kind.
func (b *apiBundle) storedEvents(t *testing.T) int64 {
	t.Helper()
	ctx := context.Background()
	info, err := b.stream.Info(ctx)
	require.NoError(t, err)
	var n int64
	var items [][]byte
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		msg, err := b.stream.GetMsg(ctx, seq)
		require.NoError(t, err)
		items, err = telemetry.SplitStored(msg.Data, items[:0])
		require.NoError(t, err)
		n += int64(len(items))
	}
	return n
}

func TestRun(t *testing.T) {
	t.Parallel()

	t.Run("SourcesKeepEachAddressUnderTheLimit", func(t *testing.T) {
		t.Parallel()

		b := setupAPI(t)
		cfg := b.config()
		// 60 requests from 6 addresses at 9/s each: 10 per address, all
		// within the API's 10/s per IP.
		cfg.BatchSize, cfg.Concurrency, cfg.Requests, cfg.Sources = 10, 6, 60, 6
		var snapshots int
		cfg.Progress, cfg.ProgressEvery = func(*Result) { snapshots++ }, 100*time.Millisecond
		res, err := Run(context.Background(), cfg)
		require.NoError(t, err)
		require.EqualValues(t, 60, res.Requests, "statuses %v errors %v (%s)", res.Statuses, res.Errors, res.FirstError)
		require.Equal(t, map[int]int64{http.StatusOK: 60}, res.Statuses)
		require.EqualValues(t, 600, res.Events)
		require.EqualValues(t, 60, res.Latency.Count())
		require.Positive(t, res.EventsPerSec())
		require.Positive(t, snapshots)
		var sent int64
		for _, n := range res.Kinds {
			sent += n
		}
		require.EqualValues(t, 600, sent)
		require.EqualValues(t, 600, b.storedEvents(t), "every event stored once")
	})

	t.Run("OneSourceOverTheLimitIsRefused", func(t *testing.T) {
		t.Parallel()

		b := setupAPI(t)
		cfg := b.config()
		cfg.BatchSize, cfg.Concurrency, cfg.Requests, cfg.Sources, cfg.SourceRate = 1, 2, 40, 1, 1000
		res, err := Run(context.Background(), cfg)
		require.NoError(t, err)
		require.EqualValues(t, 40, res.Requests)
		require.Positive(t, res.Statuses[http.StatusTooManyRequests], "statuses %v", res.Statuses)
		require.EqualValues(t, res.Events, b.storedEvents(t))
	})

	t.Run("WrongTokenIsCounted", func(t *testing.T) {
		t.Parallel()

		b := setupAPI(t)
		cfg := b.config()
		cfg.Token = "pk_wrong"
		cfg.Requests, cfg.Sources = 3, 0
		res, err := Run(context.Background(), cfg)
		require.NoError(t, err)
		require.Equal(t, map[int]int64{http.StatusUnauthorized: 3}, res.Statuses)
		require.Zero(t, res.Events)
		require.Zero(t, res.Latency.Count(), "only accepted requests are timed")
	})

	t.Run("TransportErrorsAreClassified", func(t *testing.T) {
		t.Parallel()

		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close() // nothing listens there any more
		res, err := Run(context.Background(), &Config{URL: url, Token: "pk", Requests: 2, Sources: 1,
			Generator: GeneratorConfig{AppID: testAppID, Templates: 2}})
		require.NoError(t, err)
		require.Equal(t, map[string]int64{"connection refused": 2}, res.Errors)
		require.NotEmpty(t, res.FirstError)
	})

	t.Run("CancelReturnsWhatWasMeasured", func(t *testing.T) {
		t.Parallel()

		b := setupAPI(t)
		cfg := b.config()
		cfg.Duration, cfg.Sources, cfg.BatchSize = time.Hour, 2, 5
		ctx, cancel := context.WithCancel(context.Background())
		cfg.Progress = func(r *Result) {
			if r.Accepted > 0 {
				cancel()
			}
		}
		cfg.ProgressEvery = 20 * time.Millisecond
		res, err := Run(ctx, cfg)
		require.NoError(t, err)
		require.Positive(t, res.Accepted)
	})

	t.Run("Validation", func(t *testing.T) {
		t.Parallel()

		valid := Config{URL: "http://127.0.0.1:1", Token: "pk", Generator: GeneratorConfig{AppID: testAppID}}
		for name, mutate := range map[string]func(c *Config){
			"NoURL":          func(c *Config) { c.URL = "" },
			"NotHTTP":        func(c *Config) { c.URL = "ftp://x" },
			"NoToken":        func(c *Config) { c.Token = "" },
			"NegativeBatch":  func(c *Config) { c.BatchSize = -1 },
			"NegativeRate":   func(c *Config) { c.Rate = -1 },
			"NegativeSource": func(c *Config) { c.Sources = -1 },
			"NoAppID":        func(c *Config) { c.Generator.AppID = "" },
			"BadSourceNet":   func(c *Config) { c.Sources = 5; c.SourceNet = mustPrefix("127.9.9.0/30") },
		} {
			c := valid
			mutate(&c)
			_, err := Run(context.Background(), &c)
			require.Error(t, err, name)
		}
	})
}

func TestCLI(t *testing.T) {
	t.Parallel()

	t.Run("DemoAppAndJSON", func(t *testing.T) {
		t.Parallel()

		b := setupAPI(t)
		dataDir := t.TempDir()
		demo, err := json.Marshal(map[string]string{"app_id": b.app.AppID.String(), "public_token": b.app.PublicToken, "secret_key": b.app.SecretKey})
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dataDir, "demo-app.json"), demo, 0o600))
		getenv := func(k string) string { return map[string]string{"DATA_DIR": dataDir}[k] }

		var stdout, stderr bytes.Buffer
		err = Main(context.Background(), []string{"--url", b.server.URL, "--requests", "5", "--batch", "3", "--warmup", "0", "--json", "--mix", "gameplay=1", "--points", "50"},
			getenv, &stdout, &stderr)
		require.NoError(t, err, stderr.String())
		var s Summary
		require.NoError(t, json.Unmarshal(stdout.Bytes(), &s), stdout.String())
		require.EqualValues(t, 5, s.Accepted)
		require.EqualValues(t, 15, s.Events)
		require.Equal(t, map[string]int64{"200": 5}, s.Statuses)
		require.Contains(t, stderr.String(), "source addresses", "a loopback URL binds sources by default")
	})

	t.Run("TextSummary", func(t *testing.T) {
		t.Parallel()

		b := setupAPI(t)
		var stdout, stderr bytes.Buffer
		err := Main(context.Background(), []string{"--url", b.server.URL, "--token", b.app.PublicToken, "--app", b.app.AppID.String(),
			"--requests", "2", "--batch", "1", "--warmup", "0", "--progress=false"}, func(string) string { return "" }, &stdout, &stderr)
		require.NoError(t, err, stderr.String())
		for _, want := range []string{"requests    2", "events      2 accepted", "latency     p50", "status      200 2"} {
			require.Contains(t, stdout.String(), want)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		t.Parallel()

		empty := func(string) string { return "" }
		for _, args := range [][]string{
			{"--mix", "bogus=1", "--token", "t", "--app", "a"},
			{"--points", "9-1", "--token", "t", "--app", "a"},
			{"--custom-keys", "x", "--token", "t", "--app", "a"},
			{"--source-net", "nope", "--token", "t", "--app", "a"},
			{"extra"},
			{"--token", "t"}, // no app and no demo app file
		} {
			var out bytes.Buffer
			err := Main(context.Background(), args, func(k string) string {
				if k == "DATA_DIR" {
					return t.TempDir()
				}
				return empty(k)
			}, &out, &out)
			require.Error(t, err, strings.Join(args, " "))
		}
	})
}

func TestAutoSources(t *testing.T) {
	t.Parallel()

	require.Equal(t, autoSources, autoSourcesFor("http://127.0.0.1:4000", 0, 9))
	require.Equal(t, autoSources, autoSourcesFor("http://localhost:4000", 0, 9))
	require.Equal(t, 13, autoSourcesFor("http://127.0.0.1:4000", 100, 9))
	require.Zero(t, autoSourcesFor("http://api.example.com", 0, 9), "a remote API is reached from the default address")
	require.Zero(t, autoSourcesFor("http://[::1]:4000", 0, 9))
}
