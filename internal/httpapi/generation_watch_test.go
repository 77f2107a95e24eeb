package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/store"
)

// openStream is one events stream as a client sees it.
type openStream struct {
	status int
	body   map[string]any // the JSON answer when status is not 200
	events chan sseEvent  // closed when the stream ends
	close  context.CancelFunc
}

func TestGenerationEventsWatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	insert := func(t *testing.T, b *genTestBundle, app *store.AppCredentials) *store.Generation {
		t.Helper()
		g := &store.Generation{ID: uuid.New(), AppID: app.AppID, Model: "m", Input: json.RawMessage(`{"prompt":"p"}`),
			DeadlineAt: time.Now().Add(time.Hour)}
		require.NoError(t, store.GenerationInsert(ctx, b.pool, g))
		return g
	}
	open := func(t *testing.T, b *genTestBundle, app *store.AppCredentials, id uuid.UUID) *openStream {
		t.Helper()
		sctx, cancel := context.WithCancel(ctx)
		t.Cleanup(cancel)
		req, err := http.NewRequestWithContext(sctx, http.MethodGet, b.api.URL+"/v1/generations/"+id.String()+"/events", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+app.SecretKey)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		s := &openStream{status: resp.StatusCode, events: make(chan sseEvent, 64), close: cancel}
		if resp.StatusCode != http.StatusOK {
			defer resp.Body.Close()
			raw, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(raw, &s.body), "%s", raw)
			close(s.events)
			return s
		}
		go func() {
			defer close(s.events)
			defer resp.Body.Close()
			var name string
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				line := sc.Text()
				switch {
				case strings.HasPrefix(line, "event: "):
					name = strings.TrimPrefix(line, "event: ")
				case strings.HasPrefix(line, "data: "):
					var data map[string]any
					_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &data)
					s.events <- sseEvent{name: name, data: data}
				}
			}
		}()
		return s
	}
	// nextStatus waits for the stream's next "status" event and returns
	// the generation's id and status in it.
	nextStatus := func(t *testing.T, s *openStream) (id string, status store.JobStatus) {
		t.Helper()
		timeout := time.After(30 * time.Second)
		for {
			select {
			case e, ok := <-s.events:
				require.True(t, ok, "the stream ended")
				if e.name == "status" {
					return e.data["id"].(string), store.JobStatus(e.data["status"].(string))
				}
			case <-timeout:
				require.FailNow(t, "no status event")
			}
		}
	}
	requireEnds := func(t *testing.T, s *openStream) {
		t.Helper()
		timeout := time.After(30 * time.Second)
		for {
			select {
			case _, ok := <-s.events:
				if !ok {
					return
				}
			case <-timeout:
				require.FailNow(t, "the stream did not end")
			}
		}
	}
	setStatus := func(t *testing.T, b *genTestBundle, g *store.Generation, status store.JobStatus, progress int16) {
		t.Helper()
		_, err := store.GenerationUpdate(ctx, b.pool, g.ID, func(_ pgx.Tx, row *store.Generation) error {
			row.Status, row.Progress = status, progress
			if status.Terminal() {
				now := time.Now()
				row.FinishedAt = &now
			}
			return nil
		})
		require.NoError(t, err)
	}
	notify := func(t *testing.T, b *genTestBundle, g *store.Generation, status store.JobStatus) {
		t.Helper()
		data, err := json.Marshal(&eventstream.Notification{Kind: "generation", ID: g.ID.String(), AppID: g.AppID.String(), Status: string(status), At: time.Now()})
		require.NoError(t, err)
		require.NoError(t, b.nc.Publish(eventstream.NotifySubject(g.AppID.String(), "generation", string(status)), data))
	}

	t.Run("PollWakesWithoutNotification", func(t *testing.T) {
		t.Parallel()
		b := genSetup(t, &genTestOpts{eventsPollInterval: 100 * time.Millisecond})
		g := insert(t, b, b.appA)
		s := open(t, b, b.appA, g.ID)
		require.Equal(t, http.StatusOK, s.status)
		_, status := nextStatus(t, s)
		require.Equal(t, store.JobQueued, status)
		setStatus(t, b, g, store.JobSucceeded, 100)
		_, status = nextStatus(t, s)
		require.Equal(t, store.JobSucceeded, status)
		requireEnds(t, s)
	})

	t.Run("StreamsShareOneSubscriptionAndAreCappedPerApp", func(t *testing.T) {
		t.Parallel()
		// No poll within the test: only notifications wake the streams.
		b := genSetup(t, &genTestOpts{eventsPollInterval: time.Hour, maxEventStreams: 3})
		g1, g2 := insert(t, b, b.appA), insert(t, b, b.appA)
		before := b.nc.NumSubscriptions()

		streams := []*openStream{open(t, b, b.appA, g1.ID), open(t, b, b.appA, g1.ID), open(t, b, b.appA, g2.ID)}
		for i, s := range streams {
			require.Equal(t, http.StatusOK, s.status, "stream %d: %v", i, s.body)
			_, status := nextStatus(t, s)
			require.Equal(t, store.JobQueued, status)
		}
		require.Equal(t, before+1, b.nc.NumSubscriptions(), "three streams, one subscription")

		over := open(t, b, b.appA, g2.ID)
		require.Equal(t, http.StatusTooManyRequests, over.status)
		require.Equal(t, "too_many_streams", over.body["error"])
		require.NotEmpty(t, over.body["message"])

		// The cap is per app: another app still gets its stream, on the
		// same subscription.
		other := open(t, b, b.appB, insert(t, b, b.appB).ID)
		require.Equal(t, http.StatusOK, other.status, "%v", other.body)
		_, status := nextStatus(t, other)
		require.Equal(t, store.JobQueued, status)
		require.Equal(t, before+1, b.nc.NumSubscriptions())

		// A notification wakes the streams of its generation only.
		setStatus(t, b, g1, store.JobProcessing, 30)
		notify(t, b, g1, store.JobProcessing)
		for _, s := range streams[:2] {
			id, status := nextStatus(t, s)
			require.Equal(t, g1.ID.String(), id)
			require.Equal(t, store.JobProcessing, status)
		}
		setStatus(t, b, g2, store.JobProcessing, 10)
		notify(t, b, g2, store.JobProcessing)
		id, status := nextStatus(t, streams[2])
		require.Equal(t, g2.ID.String(), id)
		require.Equal(t, store.JobProcessing, status, "g2's stream saw g2's change, and nothing of g1's")

		setStatus(t, b, g1, store.JobSucceeded, 100)
		notify(t, b, g1, store.JobSucceeded)
		for _, s := range streams[:2] {
			_, status := nextStatus(t, s)
			require.Equal(t, store.JobSucceeded, status)
			requireEnds(t, s)
		}

		// Ended streams free their places: app A may open one again.
		again := open(t, b, b.appA, g2.ID)
		require.Equal(t, http.StatusOK, again.status, "%v", again.body)
		_, status = nextStatus(t, again)
		require.Equal(t, store.JobProcessing, status)

		// With no stream open, the subscription is gone.
		for _, s := range []*openStream{streams[2], other, again} {
			s.close()
			requireEnds(t, s)
		}
		require.Eventually(t, func() bool { return b.nc.NumSubscriptions() == before }, 30*time.Second, 10*time.Millisecond)
	})
}
