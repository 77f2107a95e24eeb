package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/auth"
	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/natstest"
	"github.com/gamepipe/gamepipe/internal/ratelimit"
	"github.com/gamepipe/gamepipe/internal/store"
)

// TestWebhookFlood sends 10,000 forged callbacks at a server built as the
// api is (a pool of 16 Postgres connections, real JetStream), half from one
// source and half from many, and checks that a real callback and an
// ingestion request sent in the middle of it still succeed, and that every
// forged one is refused (404) or limited (429).
func TestWebhookFlood(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	db := dbtest.NewSchema(shortNamed{TB: t, name: "http_flood"})
	pcfg, err := pgxpool.ParseConfig(db.URL)
	require.NoError(t, err)
	pcfg.MaxConns = 16
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	nc := natstest.Run(t).Connect(t)
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(5*time.Second))
	require.NoError(t, err)
	_, err = eventstream.EnsureStream(ctx, js, &eventstream.StreamConfig{})
	require.NoError(t, err)
	app, err := store.AppCreate(ctx, pool, "a")
	require.NoError(t, err)
	insert, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Logger: discardSlog()})
	require.NoError(t, err)

	api, err := New(testConfig(t, &Config{
		RateLimit:        ratelimit.Config{Rate: 1000, Burst: 1000},
		WebhookRateLimit: ratelimit.Config{Rate: 50, Burst: 100},
		ClientIP:         ratelimit.ClientIP{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
	}), &Deps{
		Logger:    zerolog.Nop(),
		Publisher: eventstream.NewPublisher(js, &eventstream.PublisherConfig{Timeout: 5 * time.Second}),
		KeyLookup: func(ctx context.Context, h auth.Hash) (*store.KeyInfo, error) { return store.KeyLookup(ctx, pool, h) },
		Jobs:      &JobDeps{Pool: pool, River: insert, Blob: nil, Generaitiv: &GeneraitivRouteDeps{}},
	})
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(api)
	srv.Config = api.HTTPServer("")
	srv.Start()
	t.Cleanup(srv.Close)
	bundle := &genTestBundle{api: srv, pool: pool}
	g, token := bundle.awaitingCallback(t, &store.AppCredentials{AppID: app.AppID})

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: time.Minute}
	t.Cleanup(client.CloseIdleConnections)
	post := func(path, source string, headers map[string]string, body []byte) (int, map[string]any, error) {
		req, err := http.NewRequest(http.MethodPost, srv.URL+path, bytes.NewReader(body))
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("X-Forwarded-For", source)
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		if err != nil {
			return 0, nil, err
		}
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
		return resp.StatusCode, out, nil
	}
	completed := []byte(`{"status":"COMPLETED","link":"https://metadata.generaitiv.xyz/images/asset/x.png"}`)
	randomToken := func() string {
		var b [16]byte
		_, _ = rand.Read(b[:])
		return hex.EncodeToString(b[:])
	}

	const total, senders = 10_000, 64
	var (
		answered atomic.Int64
		mu       sync.Mutex
		statuses = map[int]int{}
		errs     []error
	)
	next := make(chan int)
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for i := range next {
				source := "203.0.113.7" // one attacker
				if i%2 == 1 {
					source = fmt.Sprintf("198.18.%d.%d", i/256%256, i%256) // many
				}
				id := uuid.NewString()
				if i%4 == 3 {
					id = g.ID.String() // a real id with a wrong token
				}
				status, _, err := post("/webhooks/generaitiv/"+id+"?token="+randomToken(), source,
					map[string]string{"Content-Type": "application/json"}, completed)
				mu.Lock()
				statuses[status]++
				if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
				answered.Add(1)
			}
		})
	}
	// The last tenth waits for the real requests, so the flood is still
	// going when they are sent, however the machine schedules it.
	realDone := make(chan struct{})
	releaseRest := sync.OnceFunc(func() { close(realDone) })
	defer releaseRest()
	go func() {
		defer close(next)
		for i := range total {
			if i == total-total/10 {
				<-realDone
			}
			next <- i
		}
	}()

	// In the thick of it: the upstream's real callback, and a game's events.
	require.Eventually(t, func() bool { return answered.Load() >= total/5 }, 2*time.Minute, 5*time.Millisecond)
	status, body, err := post("/webhooks/generaitiv/"+g.ID.String()+"?token="+token, "192.0.2.10",
		map[string]string{"Content-Type": "application/json"}, completed)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, true, body["applied"])
	status, body, err = post("/api/events", "192.0.2.20",
		map[string]string{"Content-Type": "application/msgpack", "x-public-token": app.PublicToken},
		packB(t, gameplay(app.AppID.String(), 1)))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, body)
	releaseRest()
	wg.Wait()

	require.Empty(t, errs)
	require.Equal(t, total, statuses[http.StatusNotFound]+statuses[http.StatusTooManyRequests], statuses)
	require.Positive(t, statuses[http.StatusTooManyRequests], "one source is limited")
	require.Positive(t, statuses[http.StatusNotFound])
	g = bundle.get(t, g.ID)
	require.Equal(t, store.GenerationFinalizing, g.Status)
	require.Equal(t, int32(1), g.Completions, "no forged callback was recorded")
	require.Equal(t, 1, bundle.finalizeJobs(t, g.ID))
}
