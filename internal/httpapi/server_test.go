package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/gamepipe/gamepipe/internal/auth"
	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/natstest"
	"github.com/gamepipe/gamepipe/internal/ratelimit"
	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/testutil"
)

type testBundle struct {
	appA, appB *store.AppCredentials
	js         jetstream.JetStream
	logs       *testutil.SyncBuffer
	nats       *natstest.Server
	server     *httptest.Server
	api        *Server
	db         *dbtest.Schema
}

type setupOpts struct {
	config    func(*Config)
	fault     func(i int) error
	publisher func(*eventstream.PublisherConfig)
}

func setup(t *testing.T, opts *setupOpts) *testBundle {
	t.Helper()
	return setupTB(t, opts)
}

func setupTB(t testing.TB, opts *setupOpts) *testBundle {
	t.Helper()
	ctx := context.Background()
	if opts == nil {
		opts = &setupOpts{}
	}

	db := dbtest.NewSchema(t)
	ns := natstest.Run(t)
	nc := ns.Connect(t)
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(2*time.Second))
	require.NoError(t, err)
	_, err = eventstream.EnsureStream(ctx, js, &eventstream.StreamConfig{})
	require.NoError(t, err)

	appA, err := store.AppCreate(ctx, db.Pool, "a")
	require.NoError(t, err)
	appB, err := store.AppCreate(ctx, db.Pool, "b")
	require.NoError(t, err)

	cfg := &Config{
		RateLimit:       ratelimit.Config{Rate: 1000, Burst: 1000},
		BodyReadTimeout: 2 * time.Second,
	}
	if opts.config != nil {
		opts.config(cfg)
	}
	logs := &testutil.SyncBuffer{}
	pcfg := &eventstream.PublisherConfig{Timeout: 2 * time.Second, Fault: opts.fault}
	if opts.publisher != nil {
		opts.publisher(pcfg)
	}
	api, err := New(testConfig(t, cfg), &Deps{
		Logger:    zerolog.New(logs).Level(zerolog.DebugLevel),
		Publisher: eventstream.NewPublisher(js, pcfg),
		KeyLookup: func(ctx context.Context, h auth.Hash) (*store.KeyInfo, error) {
			return store.KeyLookup(ctx, db.Pool, h)
		},
	})
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(api)
	srv.Config = api.HTTPServer("")
	srv.Start()
	t.Cleanup(srv.Close)
	return &testBundle{appA: appA, appB: appB, js: js, logs: logs, nats: ns, server: srv, api: api, db: db}
}

// gameplay is the document's gameplay example, for app.
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
		"timestamp":    "2026-02-12T10:00:00Z",
	}
}

func pack(t *testing.T, v any) []byte { return packB(t, v) }

func packB(t testing.TB, v any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	require.NoError(t, err)
	return b
}

type response struct {
	Status int
	Header http.Header
	Body   map[string]any
}

func (b *testBundle) post(t *testing.T, path string, body []byte, headers map[string]string) *response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.server.URL+path, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/msgpack")
	for k, v := range headers {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := b.server.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	out := &response{Status: resp.StatusCode, Header: resp.Header}
	require.NoError(t, json.Unmarshal(raw, &out.Body), "body must be JSON: %q", raw)
	return out
}

func (b *testBundle) lastSeq(t *testing.T) uint64 {
	t.Helper()
	s, err := b.js.Stream(context.Background(), eventstream.StreamName)
	require.NoError(t, err)
	info, err := s.Info(context.Background())
	require.NoError(t, err)
	return info.State.LastSeq
}

func TestIngest(t *testing.T) {
	t.Parallel()

	t.Run("DocumentStatusCodes", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		a, bApp := b.appA, b.appB
		ok := pack(t, gameplay(a.AppID.String(), 1))
		tests := []struct {
			name     string
			path     string
			body     []byte
			headers  map[string]string
			want     int
			wantCode string
		}{
			{"Queued", "/api/events", ok, map[string]string{"x-public-token": a.PublicToken}, 200, ""},
			{"QueuedBatch", "/api/events", pack(t, []any{gameplay(a.AppID.String(), 1), gameplay(a.AppID.String(), 2)}), map[string]string{"x-public-token": a.PublicToken}, 200, ""},
			{"LegacyAPIKeyCarryingPublicToken", "/api/events", ok, map[string]string{"x-api-key": a.PublicToken}, 200, ""},
			{"AliasPlayer", "/api/player", ok, map[string]string{"x-public-token": a.PublicToken}, 200, ""},
			{"AliasFunnel", "/api/funnel", ok, map[string]string{"x-public-token": a.PublicToken}, 200, ""},
			{"AliasRealtime", "/api/realtime", ok, map[string]string{"x-public-token": a.PublicToken}, 200, ""},
			{"EmptyBody", "/api/events", nil, map[string]string{"x-public-token": a.PublicToken}, 400, "empty_body"},
			{"JSONBytesAsMsgpack", "/api/events", []byte(`{"event_name":"x"}`), map[string]string{"x-public-token": a.PublicToken}, 400, ""},
			{"MissingToken", "/api/events", ok, nil, 401, "unauthorized"},
			{"WrongToken", "/api/events", ok, map[string]string{"x-public-token": auth.NewKey(auth.KindPublic)}, 401, "unauthorized"},
			{"SecretKeyIsNotAPublicToken", "/api/events", ok, map[string]string{"x-public-token": a.SecretKey}, 401, "unauthorized"},
			{"OtherAppsID", "/api/events", ok, map[string]string{"x-public-token": bApp.PublicToken}, 403, "app_mismatch"},
			{"ExplicitJSON", "/api/events", []byte(`{}`), map[string]string{"x-public-token": a.PublicToken, "content-type": "application/json"}, 415, "json_not_accepted"},
			{"NoContentType", "/api/events", ok, map[string]string{"x-public-token": a.PublicToken, "content-type": ""}, 415, "unsupported_media_type"},
			{"SQLSelectDisabled", "/api/sql/select", nil, map[string]string{"x-api-key": a.SecretKey}, 501, "sql_unavailable"},
			{"SQLSelectNoKey", "/api/sql/select", nil, nil, 401, "unauthorized"},
			{"SQLSelectPublicToken", "/api/sql/select", nil, map[string]string{"x-api-key": a.PublicToken}, 403, "forbidden"},
			{"UnknownRoute", "/api/nope", nil, nil, 404, "not_found"},
		}
		for _, tt := range tests {
			resp := b.post(t, tt.path, tt.body, tt.headers)
			require.Equal(t, tt.want, resp.Status, "%s: %v", tt.name, resp.Body)
			if tt.want == 200 {
				require.Equal(t, map[string]any{"status": "queued"}, resp.Body, tt.name)
				continue
			}
			require.NotEmpty(t, resp.Body["error"], tt.name)
			require.NotEmpty(t, resp.Body["message"], tt.name)
			if tt.wantCode != "" {
				require.Equal(t, tt.wantCode, resp.Body["error"], tt.name)
			}
		}
	})

	t.Run("AckBeforeOK", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		ids := map[string]bool{}
		for i := range 100 {
			ev := gameplay(b.appA.AppID.String(), i)
			resp := b.post(t, "/api/events", pack(t, ev), map[string]string{"x-public-token": b.appA.PublicToken})
			require.Equal(t, 200, resp.Status)
		}
		require.Equal(t, uint64(100), b.lastSeq(t))
		s, err := b.js.Stream(context.Background(), eventstream.StreamName)
		require.NoError(t, err)
		for seq := uint64(1); seq <= 100; seq++ {
			m, err := s.GetMsg(context.Background(), seq)
			require.NoError(t, err)
			id := m.Header.Get(jetstream.MsgIDHeader)
			require.NotEmpty(t, id)
			require.False(t, ids[id], "one message per event")
			ids[id] = true
			require.Equal(t, "telemetry."+b.appA.AppID.String()+".gameplay", m.Subject)
		}
	})

	t.Run("BatchAllOrNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		batch := make([]any, 50)
		for i := range batch {
			ev := gameplay(b.appA.AppID.String(), i)
			if i == 37 {
				delete(ev, "app_id")
			}
			batch[i] = ev
		}
		resp := b.post(t, "/api/events", pack(t, batch), map[string]string{"x-public-token": b.appA.PublicToken})
		require.Equal(t, 400, resp.Status)
		require.Equal(t, float64(37), resp.Body["index"])
		require.Equal(t, "app_id", resp.Body["field"])
		require.Zero(t, b.lastSeq(t), "nothing published for a rejected batch")
	})

	t.Run("OtherAppInBatchIsForbidden", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		batch := []any{gameplay(b.appA.AppID.String(), 0), gameplay(b.appB.AppID.String(), 1)}
		resp := b.post(t, "/api/events", pack(t, batch), map[string]string{"x-public-token": b.appA.PublicToken})
		require.Equal(t, 403, resp.Status)
		require.Equal(t, float64(1), resp.Body["index"])
		require.Zero(t, b.lastSeq(t))
	})

	t.Run("RetriedBatchIsStoredOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		batch := make([]any, 10)
		for i := range batch {
			batch[i] = gameplay(b.appA.AppID.String(), i)
		}
		body := pack(t, batch)
		for range 3 {
			resp := b.post(t, "/api/events", body, map[string]string{"x-public-token": b.appA.PublicToken})
			require.Equal(t, 200, resp.Status)
		}
		require.Equal(t, uint64(1), b.lastSeq(t), "one message, stored once")
		require.Len(t, b.streamEvents(t), 10)
	})

	t.Run("PartialPublishFailureThenRetry", func(t *testing.T) {
		t.Parallel()
		// The batch is one message per kind: the second one fails.
		var fail sync.Once
		failed := false
		b := setup(t, &setupOpts{fault: func(i int) error {
			var err error
			if i == 1 {
				fail.Do(func() { failed, err = true, io.ErrClosedPipe })
			}
			return err
		}})
		batch := make([]any, 50)
		for i := range batch {
			batch[i] = gameplay(b.appA.AppID.String(), i)
			if i%2 == 1 {
				batch[i] = player(b.appA.AppID.String(), i)
			}
		}
		body := pack(t, batch)
		resp := b.post(t, "/api/events", body, map[string]string{"x-public-token": b.appA.PublicToken})
		require.True(t, failed)
		require.Equal(t, 503, resp.Status)
		require.Equal(t, "1", resp.Header.Get("Retry-After"))
		require.Equal(t, uint64(1), b.lastSeq(t), "one kind's message was stored")
		resp = b.post(t, "/api/events", body, map[string]string{"x-public-token": b.appA.PublicToken})
		require.Equal(t, 200, resp.Status)
		require.Equal(t, uint64(2), b.lastSeq(t), "the retry stores the missing message, dedup drops the other")
		require.Len(t, b.streamEvents(t), 50)
	})

	t.Run("JetStreamDownIs503ThenRecovers", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		body := pack(t, gameplay(b.appA.AppID.String(), 1))
		b.nats.Shutdown()
		b.nats.WaitForShutdown()
		resp := b.post(t, "/api/events", body, map[string]string{"x-public-token": b.appA.PublicToken})
		require.Equal(t, 503, resp.Status)
		require.Equal(t, "unavailable", resp.Body["error"])
		require.NotEmpty(t, resp.Header.Get("Retry-After"))

		b.nats.Restart()
		require.Eventually(t, func() bool {
			return b.post(t, "/api/events", body, map[string]string{"x-public-token": b.appA.PublicToken}).Status == 200
		}, time.Minute, 100*time.Millisecond)
		require.Equal(t, uint64(1), b.lastSeq(t))
	})

	t.Run("SecretsNeverLogged", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		body := pack(t, gameplay(b.appA.AppID.String(), 1))
		wrong := auth.NewKey(auth.KindPublic)
		for _, h := range []map[string]string{
			{"x-public-token": b.appA.PublicToken}, {"x-public-token": wrong}, {"x-api-key": b.appA.SecretKey},
			{"x-public-token": b.appB.PublicToken}, {"authorization": "Bearer " + b.appA.SecretKey},
		} {
			b.post(t, "/api/events", body, h)
			b.post(t, "/api/sql/select", nil, h)
		}
		logs := b.logs.String()
		require.NotEmpty(t, logs)
		for _, secret := range []string{b.appA.PublicToken, b.appA.SecretKey, b.appB.PublicToken, wrong} {
			require.NotContains(t, logs, secret)
			require.NotContains(t, logs, secret[len(secret)-20:])
		}
	})

	t.Run("RateLimited", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &setupOpts{config: func(c *Config) { c.RateLimit = ratelimit.Config{Rate: 1, Burst: 3} }})
		body := pack(t, gameplay(b.appA.AppID.String(), 1))
		codes := map[int]int{}
		var last *response
		for range 10 {
			last = b.post(t, "/api/events", body, map[string]string{"x-public-token": b.appA.PublicToken, "x-forwarded-for": strings.Repeat("1", 1) + ".2.3.4"})
			codes[last.Status]++
		}
		require.LessOrEqual(t, codes[200], 3+1)
		require.Positive(t, codes[429])
		require.Equal(t, 429, last.Status)
		require.Equal(t, "rate_limited", last.Body["error"])
		require.NotEmpty(t, last.Header.Get("Retry-After"))
	})
}
