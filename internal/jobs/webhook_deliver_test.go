package jobs

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/store"
)

// receivedHook is one request a test receiver got.
type receivedHook struct {
	id, timestamp, signature string
	body                     []byte
}

// hookReceiver answers the first fail requests with failStatus, then 200,
// and keeps every request.
type hookReceiver struct {
	srv        *httptest.Server
	fail       int
	failStatus int

	mu   sync.Mutex
	got  []receivedHook
	seen int
}

func newHookReceiver(t *testing.T, fail, failStatus int) *hookReceiver {
	h := &hookReceiver{fail: fail, failStatus: failStatus}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.got = append(h.got, receivedHook{id: r.Header.Get("webhook-id"), timestamp: r.Header.Get("webhook-timestamp"),
			signature: r.Header.Get("webhook-signature"), body: body})
		h.seen++
		failing := h.seen <= h.fail
		h.mu.Unlock()
		if failing {
			w.WriteHeader(h.failStatus)
			_, _ = io.WriteString(w, "not now")
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) requests() []receivedHook {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]receivedHook(nil), h.got...)
}

// verifyStandardWebhook checks a signature as a receiver would, written from
// the Standard Webhooks specification rather than with our signer: the
// secret's base64 after "whsec_" is the HMAC-SHA256 key, the signed content
// is "<webhook-id>.<webhook-timestamp>.<body>", and the header lists
// space-separated "v1,<base64 signature>" values, any of which may match.
func verifyStandardWebhook(secret string, h receivedHook) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(h.id + "." + h.timestamp + "." + string(h.body)))
	want := mac.Sum(nil)
	for _, part := range strings.Fields(h.signature) {
		version, sig, ok := strings.Cut(part, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

type webhookEnv struct {
	pool  *pgxpool.Pool
	appID uuid.UUID
}

// newWebhookEnv starts a River client working the webhooks queue with cfg.
func newWebhookEnv(t *testing.T, cfg *WebhookDeps) *webhookEnv { return newWebhookEnvTB(t, cfg) }

func newWebhookEnvTB(t testing.TB, cfg *WebhookDeps) *webhookEnv {
	t.Helper()
	ctx := context.Background()
	db := dbtest.NewSchema(shortNamed{TB: t, name: "jobs_wh"})
	app, err := store.AppCreate(ctx, db.Pool, "app")
	require.NoError(t, err)
	workers := river.NewWorkers()
	require.NoError(t, Register(workers, &Deps{Logger: zerolog.Nop(), Pool: db.Pool, Now: time.Now, Secrets: testSecrets, Webhooks: cfg}))
	client, err := river.NewClient(riverpgxv5.New(db.Pool), &river.Config{
		Logger:  slog.New(slog.DiscardHandler),
		Queues:  map[string]river.QueueConfig{QueueWebhooks: {MaxWorkers: 4}},
		Workers: workers, FetchCooldown: 10 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond, TestOnly: true,
	})
	require.NoError(t, err)
	require.NoError(t, client.Start(ctx))
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Stop(sctx)
	})
	return &webhookEnv{pool: db.Pool, appID: app.AppID}
}

// endpoint stores an endpoint directly, past the URL check (the dial-time
// check is what some tests exercise).
func (env *webhookEnv) endpoint(t *testing.T, url string, enabled bool, types ...string) *store.WebhookEndpoint {
	t.Helper()
	return env.endpointTB(t, url, enabled, types...)
}

func (env *webhookEnv) endpointTB(t testing.TB, url string, enabled bool, types ...string) *store.WebhookEndpoint {
	t.Helper()
	e := &store.WebhookEndpoint{AppID: env.appID, URL: url, EventTypes: types, Enabled: enabled}
	require.NoError(t, store.WebhookEndpointInsert(context.Background(), env.pool, testSecrets, e))
	return e
}

// generation inserts a queued generation: its first event.
func (env *webhookEnv) generation(t *testing.T) *store.Generation {
	t.Helper()
	g := &store.Generation{ID: uuid.New(), AppID: env.appID, Model: "m", Input: json.RawMessage(`{"prompt":"p"}`),
		DeadlineAt: time.Now().Add(time.Hour)}
	require.NoError(t, store.GenerationInsert(context.Background(), env.pool, g))
	return g
}

func (env *webhookEnv) deliveries(t *testing.T, endpointID uuid.UUID) []*store.WebhookDelivery {
	t.Helper()
	list, err := store.WebhookDeliveryList(context.Background(), env.pool, env.appID, endpointID, "", 100)
	require.NoError(t, err)
	return list
}

var fastRetries = []time.Duration{50 * time.Millisecond}

func TestWebhookDeliveryRetriesUntilAnswered(t *testing.T) {
	t.Parallel()
	env := newWebhookEnv(t, &WebhookDeps{AllowPrivate: true, RetrySchedule: fastRetries})
	recv := newHookReceiver(t, 2, http.StatusInternalServerError)
	e := env.endpoint(t, recv.srv.URL+"/hook?token=abc", true, "generation.*")
	g := env.generation(t)

	require.Eventually(t, func() bool {
		list := env.deliveries(t, e.ID)
		return len(list) == 1 && list[0].Status == store.DeliverySucceeded
	}, time.Minute, 50*time.Millisecond)

	got := recv.requests()
	require.Len(t, got, 3, "two failures, then one success, then nothing more")
	for _, h := range got {
		require.Equal(t, got[0].id, h.id, "the same webhook-id on every try")
		require.True(t, verifyStandardWebhook(e.Secret, h), "signature %q", h.signature)
		require.False(t, verifyStandardWebhook(store.NewWebhookSecret(), h), "another secret does not verify")
	}
	var payload struct {
		Type      string          `json:"type"`
		Timestamp time.Time       `json:"timestamp"`
		Sequence  int64           `json:"sequence"`
		Data      store.JobObject `json:"data"`
	}
	require.NoError(t, json.Unmarshal(got[2].body, &payload))
	require.Equal(t, "generation.queued", payload.Type)
	require.Equal(t, int64(1), payload.Sequence)
	require.Equal(t, g.ID.String(), payload.Data.ID)
	require.Equal(t, store.JobQueued, payload.Data.Status)
	require.False(t, payload.Data.UpdatedAt.IsZero())

	list := env.deliveries(t, e.ID)
	require.Len(t, list[0].Log, 3, "every try logged")
	for i, want := range []int{500, 500, 200} {
		require.Equal(t, want, list[0].Log[i].StatusCode)
		require.Equal(t, i+1, list[0].Log[i].Attempt)
	}
	require.Equal(t, "not now", list[0].Log[0].Response)

	// A later change is the job's next event, numbered after the first.
	_, err := store.GenerationUpdate(context.Background(), env.pool, g.ID, func(_ pgx.Tx, g *store.Generation) error {
		g.Status = store.GenerationSubmitting
		return nil
	})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(recv.requests()) == 4 }, time.Minute, 50*time.Millisecond)
	last := recv.requests()[3]
	require.NotEqual(t, got[0].id, last.id)
	require.NoError(t, json.Unmarshal(last.body, &payload))
	require.Equal(t, "generation.submitting", payload.Type)
	require.Equal(t, int64(2), payload.Sequence)
}

func TestWebhookDeliverySignsWithBothSecretsDuringRotation(t *testing.T) {
	t.Parallel()
	env := newWebhookEnv(t, &WebhookDeps{AllowPrivate: true, RetrySchedule: fastRetries})
	recv := newHookReceiver(t, 0, 0)
	e := env.endpoint(t, recv.srv.URL, true, "*")
	rotated, err := store.WebhookEndpointRotate(context.Background(), env.pool, testSecrets, env.appID, e.ID, time.Hour)
	require.NoError(t, err)
	require.NotEqual(t, e.Secret, rotated.Secret)
	env.generation(t)

	require.Eventually(t, func() bool { return len(recv.requests()) == 1 }, time.Minute, 50*time.Millisecond)
	h := recv.requests()[0]
	require.Len(t, strings.Fields(h.signature), 2)
	require.True(t, verifyStandardWebhook(rotated.Secret, h), "the new secret verifies")
	require.True(t, verifyStandardWebhook(e.Secret, h), "the old secret still verifies during the overlap")

	// Once the overlap is over, only the new secret signs.
	_, err = store.WebhookEndpointRotate(context.Background(), env.pool, testSecrets, env.appID, e.ID, 0)
	require.NoError(t, err)
	again, err := store.WebhookEndpointGetForApp(context.Background(), env.pool, testSecrets, env.appID, e.ID)
	require.NoError(t, err)
	env.generation(t)
	require.Eventually(t, func() bool { return len(recv.requests()) == 2 }, time.Minute, 50*time.Millisecond)
	h = recv.requests()[1]
	require.Len(t, strings.Fields(h.signature), 1)
	require.True(t, verifyStandardWebhook(again.Secret, h))
	require.False(t, verifyStandardWebhook(rotated.Secret, h))
}

func TestWebhookDeliveryRefusesPrivateAddressesWhenDialling(t *testing.T) {
	t.Parallel()
	env := newWebhookEnv(t, &WebhookDeps{RetrySchedule: fastRetries})
	recv := newHookReceiver(t, 0, 0)
	// httptest listens on 127.0.0.1; "localhost" also resolves there.
	byIP := env.endpoint(t, recv.srv.URL, true, "*")
	byName := env.endpoint(t, strings.Replace(recv.srv.URL, "127.0.0.1", "localhost", 1), true, "*")
	env.generation(t)

	for _, e := range []*store.WebhookEndpoint{byIP, byName} {
		require.Eventually(t, func() bool {
			list := env.deliveries(t, e.ID)
			return len(list) == 1 && len(list[0].Log) >= 2
		}, time.Minute, 50*time.Millisecond)
		a := env.deliveries(t, e.ID)[0].Log[0]
		require.Zero(t, a.StatusCode)
		require.Contains(t, a.Error, "refused")
		require.Contains(t, a.Error, "loopback")
	}
	require.Empty(t, recv.requests(), "no connection reached the receiver")
}

func TestWebhookDisabledEndpointReceivesNothing(t *testing.T) {
	t.Parallel()
	env := newWebhookEnv(t, &WebhookDeps{AllowPrivate: true, RetrySchedule: fastRetries})
	off := newHookReceiver(t, 0, 0)
	on := newHookReceiver(t, 0, 0)
	disabled := env.endpoint(t, off.srv.URL, false, "*")
	env.endpoint(t, on.srv.URL, true, "generation.*")
	// Not subscribed to generations.
	other := newHookReceiver(t, 0, 0)
	env.endpoint(t, other.srv.URL, true, "emote.*")
	env.generation(t)

	require.Eventually(t, func() bool { return len(on.requests()) == 1 }, time.Minute, 50*time.Millisecond)
	require.Empty(t, env.deliveries(t, disabled.ID))

	// Disabled after the delivery was queued: dropped when its turn comes.
	ctx := context.Background()
	enabled := true
	_, err := store.WebhookEndpointPatch(ctx, env.pool, testSecrets, env.appID, disabled.ID, &store.WebhookEndpointChange{Enabled: &enabled})
	require.NoError(t, err)
	tx, err := env.pool.Begin(ctx)
	require.NoError(t, err)
	g := &store.Generation{ID: uuid.New(), AppID: env.appID, Model: "m", Input: json.RawMessage(`{}`), DeadlineAt: time.Now().Add(time.Hour)}
	require.NoError(t, store.GenerationInsert(ctx, tx, g))
	enabled = false
	_, err = store.WebhookEndpointPatch(ctx, tx, testSecrets, env.appID, disabled.ID, &store.WebhookEndpointChange{Enabled: &enabled})
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
	require.Eventually(t, func() bool {
		list := env.deliveries(t, disabled.ID)
		return len(list) == 1 && list[0].Status == store.DeliveryFailed
	}, time.Minute, 50*time.Millisecond)
	require.Eventually(t, func() bool { return len(on.requests()) == 2 }, time.Minute, 50*time.Millisecond)
	require.Empty(t, off.requests())
	require.Empty(t, other.requests())
}

func TestWebhookEndpointDisabledByGoneOrLongFailure(t *testing.T) {
	t.Parallel()
	env := newWebhookEnv(t, &WebhookDeps{AllowPrivate: true, RetrySchedule: fastRetries, DisableAfter: time.Millisecond})
	gone := newHookReceiver(t, 100, http.StatusGone)
	failing := newHookReceiver(t, 100, http.StatusServiceUnavailable)
	goneEnd := env.endpoint(t, gone.srv.URL, true, "*")
	failingEnd := env.endpoint(t, failing.srv.URL, true, "*")
	env.generation(t)

	ctx := context.Background()
	for _, c := range []struct {
		e      *store.WebhookEndpoint
		reason string
		tries  int
	}{{goneEnd, "410 Gone", 1}, {failingEnd, "every delivery failed since", 2}} {
		require.Eventually(t, func() bool {
			e, err := store.WebhookEndpointGetForApp(ctx, env.pool, testSecrets, env.appID, c.e.ID)
			require.NoError(t, err)
			return !e.Enabled
		}, time.Minute, 50*time.Millisecond)
		e, err := store.WebhookEndpointGetForApp(ctx, env.pool, testSecrets, env.appID, c.e.ID)
		require.NoError(t, err)
		require.Contains(t, e.DisabledReason, c.reason)
		require.Eventually(t, func() bool {
			list := env.deliveries(t, c.e.ID)
			return len(list) == 1 && list[0].Status == store.DeliveryFailed
		}, time.Minute, 50*time.Millisecond)
		require.Len(t, env.deliveries(t, c.e.ID)[0].Log, c.tries)
	}
	require.Len(t, gone.requests(), 1)
	require.Len(t, failing.requests(), 2)
}

// TestWebhookDeliveryImageURL: a succeeded generation's image_url is sent
// absolute under PUBLIC_BASE_URL, signed as sent; without it, relative to
// the api.
func TestWebhookDeliveryImageURL(t *testing.T) {
	t.Parallel()
	for base, want := range map[string]string{"https://api.example/": "https://api.example", "": ""} {
		t.Run("base="+base, func(t *testing.T) {
			t.Parallel()
			env := newWebhookEnv(t, &WebhookDeps{AllowPrivate: true, RetrySchedule: fastRetries, PublicBaseURL: base})
			recv := newHookReceiver(t, 0, 0)
			e := env.endpoint(t, recv.srv.URL, true, "generation.succeeded")
			g := env.generation(t)
			_, err := store.GenerationUpdate(context.Background(), env.pool, g.ID, func(_ pgx.Tx, g *store.Generation) error {
				g.Status, g.ImageKey, g.ImageContentType, g.ImageSize = store.JobSucceeded, "img/"+g.ID.String(), "image/png", 42
				return nil
			})
			require.NoError(t, err)

			require.Eventually(t, func() bool { return len(recv.requests()) == 1 }, time.Minute, 50*time.Millisecond)
			h := recv.requests()[0]
			require.True(t, verifyStandardWebhook(e.Secret, h), "signed as sent")
			var payload struct {
				Type string `json:"type"`
				Data struct {
					Result struct {
						ImageURL string `json:"image_url"`
						Image    struct {
							Size int64 `json:"size"`
						} `json:"image"`
					} `json:"result"`
				} `json:"data"`
			}
			require.NoError(t, json.Unmarshal(h.body, &payload))
			require.Equal(t, "generation.succeeded", payload.Type)
			require.Equal(t, want+"/v1/generations/"+g.ID.String()+"/image", payload.Data.Result.ImageURL)
			require.Equal(t, int64(42), payload.Data.Result.Image.Size)
		})
	}
}
