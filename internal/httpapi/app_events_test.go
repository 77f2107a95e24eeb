package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/auth"
	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/ratelimit"
	"github.com/gamepipe/gamepipe/internal/store"
)

// appSSEEvent is one event read from a stream.
type appSSEEvent struct {
	id, event string
	data      map[string]any
}

// appSSEStream reads events from GET /v1/events in the background.
type appSSEStream struct {
	resp   *http.Response
	cancel context.CancelFunc
	events chan appSSEEvent
}

func openEvents(t *testing.T, b *genTestBundle, app *store.AppCredentials, lastID string) *appSSEStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", b.api.URL+"/v1/events", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+app.SecretKey)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	s := &appSSEStream{resp: resp, cancel: cancel, events: make(chan appSSEEvent, 100)}
	go func() {
		defer close(s.events)
		sc := bufio.NewScanner(resp.Body)
		var cur appSSEEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				cur.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				cur.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(line[6:]), &cur.data)
			case line == "" && cur.id != "":
				s.events <- cur
				cur = appSSEEvent{}
			}
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *appSSEStream) close() {
	s.cancel()
	_ = s.resp.Body.Close()
}

func (s *appSSEStream) next(t *testing.T) appSSEEvent {
	t.Helper()
	select {
	case e, ok := <-s.events:
		require.True(t, ok, "the stream ended")
		return e
	case <-time.After(time.Minute):
		t.Fatal("no event within a minute")
		return appSSEEvent{}
	}
}

func insertQueuedGeneration(t *testing.T, b *genTestBundle, app *store.AppCredentials) uuid.UUID {
	t.Helper()
	g := &store.Generation{ID: uuid.New(), AppID: app.AppID, Model: "m", Input: json.RawMessage(`{}`), DeadlineAt: time.Now().Add(time.Hour)}
	require.NoError(t, store.GenerationInsert(context.Background(), b.pool, g))
	return g.ID
}

func TestAppEventsResumeWithLastEventID(t *testing.T) {
	t.Parallel()
	b := genSetup(t, nil)
	// Events from before the stream opened are not replayed without
	// Last-Event-ID.
	insertQueuedGeneration(t, b, b.appA)
	s := openEvents(t, b, b.appA, "")

	insertQueuedGeneration(t, b, b.appB) // another app's: never seen
	first := insertQueuedGeneration(t, b, b.appA)
	e := s.next(t)
	require.Equal(t, "generation.queued", e.event)
	require.Equal(t, "generation.queued", e.data["type"])
	require.Equal(t, first.String(), e.data["data"].(map[string]any)["id"])
	require.EqualValues(t, 1, e.data["sequence"])
	s.close()

	// Missed while disconnected: every one comes on reconnecting, in order.
	var missed []string
	for range 3 {
		missed = append(missed, insertQueuedGeneration(t, b, b.appA).String())
	}
	_, err := store.GenerationUpdate(context.Background(), b.pool, first, func(_ pgx.Tx, g *store.Generation) error {
		g.Status = store.JobCanceled
		return nil
	})
	require.NoError(t, err)
	s2 := openEvents(t, b, b.appA, e.id)
	for _, id := range missed {
		got := s2.next(t)
		require.Equal(t, id, got.data["data"].(map[string]any)["id"])
	}
	got := s2.next(t)
	require.Equal(t, "generation.canceled", got.event)
	require.Equal(t, first.String(), got.data["data"].(map[string]any)["id"])
	require.EqualValues(t, 2, got.data["sequence"])

	// Still live after the catch-up.
	live := insertQueuedGeneration(t, b, b.appA)
	require.Equal(t, live.String(), s2.next(t).data["data"].(map[string]any)["id"])

	code, body, _ := b.do(t, b.appA, "GET", "/v1/events", nil, map[string]string{"Last-Event-ID": "x"})
	require.Equal(t, http.StatusBadRequest, code, body)
	code, _, _ = b.do(t, nil, "GET", "/v1/events", nil, nil)
	require.Equal(t, http.StatusUnauthorized, code)
}

func TestAppEventsCapPerApp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.NewSchema(shortNamed{TB: t, name: "http_evcap"})
	appA, err := store.AppCreate(ctx, db.Pool, "a")
	require.NoError(t, err)
	appB, err := store.AppCreate(ctx, db.Pool, "b")
	require.NoError(t, err)
	insert, err := river.NewClient(riverpgxv5.New(db.Pool), &river.Config{Logger: discardSlog()})
	require.NoError(t, err)
	api, err := New(testConfig(t, &Config{RateLimit: ratelimit.Config{Rate: 1000, Burst: 1000}, RequestTimeout: 20 * time.Second}), &Deps{
		Logger: zerolog.Nop(), Publisher: nopPublisher{},
		KeyLookup: func(ctx context.Context, h auth.Hash) (*store.KeyInfo, error) {
			return store.KeyLookup(ctx, db.Pool, h)
		},
		Jobs: &JobDeps{Pool: db.Pool, River: insert, Webhooks: &WebhookRouteDeps{MaxEventStreamsPerApp: 1, Heartbeat: 50 * time.Millisecond}},
	})
	require.NoError(t, err)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	// status opens a stream, returns its status and first line, and closes it.
	status := func(app *store.AppCredentials) (int, string) {
		req, err := http.NewRequest("GET", srv.URL+"/v1/events", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+app.SecretKey)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		line, _ := bufio.NewReader(resp.Body).ReadString('\n')
		return resp.StatusCode, line
	}

	// An idle stream sends heartbeats.
	req, err := http.NewRequest("GET", srv.URL+"/v1/events", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+appA.SecretKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	rd := bufio.NewReader(resp.Body)
	for {
		line, err := rd.ReadString('\n')
		require.NoError(t, err)
		if line == ": heartbeat\n" {
			break
		}
	}

	code, line := status(appA)
	require.Equal(t, http.StatusTooManyRequests, code)
	require.Contains(t, line, "too_many_streams")
	code, _ = status(appB)
	require.Equal(t, http.StatusOK, code, "another app's cap is its own")

	require.NoError(t, resp.Body.Close())
	require.Eventually(t, func() bool {
		code, _ := status(appA)
		return code == http.StatusOK
	}, time.Minute, 50*time.Millisecond, "a closed stream frees its place")
}

// An event whose transaction commits after a later-written event's is
// streamed after it, and a client that resumes after that later one still
// receives it.
func TestAppEventsLateCommitIsNotSkipped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := genSetup(t, nil)
	s := openEvents(t, b, b.appA, "")

	tx, err := b.pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	late := &store.Generation{ID: uuid.New(), AppID: b.appA.AppID, Model: "m", Input: json.RawMessage(`{}`), DeadlineAt: time.Now().Add(time.Hour)}
	require.NoError(t, store.GenerationInsert(ctx, tx, late))
	early := insertQueuedGeneration(t, b, b.appA)
	first := s.next(t)
	require.Equal(t, early.String(), first.data["data"].(map[string]any)["id"], "the committed one is not held back")

	require.NoError(t, tx.Commit(ctx))
	second := s.next(t)
	require.Equal(t, late.ID.String(), second.data["data"].(map[string]any)["id"])
	s.close()

	resumed := openEvents(t, b, b.appA, first.id)
	got := resumed.next(t)
	require.Equal(t, late.ID.String(), got.data["data"].(map[string]any)["id"], "resuming after the first, the late one follows")
	require.Equal(t, second.id, got.id)
}
