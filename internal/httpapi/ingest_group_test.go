package httpapi

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/telemetry"
)

// player is a player event of app, its own by i.
func player(app string, i int) map[string]any {
	return map[string]any{
		"event_name": "Create_Player",
		"app_id":     app,
		"build_id":   "Win64_Shipping_1.0.2",
		"player_id":  fmt.Sprintf("player-%d", i),
		"region":     "EU-West",
		"timestamp":  "2026-02-12T10:00:00Z",
	}
}

// streamMsg is one TELEMETRY message and the events it holds.
type streamMsg struct {
	subject, id string
	events      []telemetry.Event
}

// streamMessages reads every message of the stream and decodes its events.
func (b *testBundle) streamMessages(t *testing.T) []streamMsg {
	t.Helper()
	ctx := context.Background()
	s, err := b.js.Stream(ctx, eventstream.StreamName)
	require.NoError(t, err)
	var out []streamMsg
	for seq := uint64(1); seq <= b.lastSeq(t); seq++ {
		m, err := s.GetMsg(ctx, seq)
		require.NoError(t, err)
		items, err := telemetry.SplitStored(m.Data, nil)
		require.NoError(t, err)
		sm := streamMsg{subject: m.Subject, id: m.Header.Get(jetstream.MsgIDHeader)}
		for _, item := range items {
			var ev telemetry.Event
			require.NoError(t, telemetry.UnmarshalStored(item, &ev))
			require.True(t, ev.HasSubject(m.Subject))
			sm.events = append(sm.events, ev)
		}
		out = append(out, sm)
	}
	return out
}

// streamEvents returns the ids of every event in the stream, failing on a
// repeat: each event is stored once.
func (b *testBundle) streamEvents(t *testing.T) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	for _, m := range b.streamMessages(t) {
		for _, ev := range m.events {
			require.False(t, ids[ev.ID], "event %s stored twice", ev.ID)
			ids[ev.ID] = true
		}
	}
	return ids
}

// TestIngestMessages checks what a request publishes: one message per
// kind carrying its events, and with a linger, one message for several
// requests.
func TestIngestMessages(t *testing.T) {
	t.Parallel()

	t.Run("OneMessagePerKindDeduplicatedOnRetry", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		app := b.appA.AppID.String()
		batch := make([]any, 15)
		for i := range batch {
			batch[i] = gameplay(app, i)
			if i%3 == 0 {
				batch[i] = player(app, i)
			}
		}
		body := pack(t, batch)
		for range 2 {
			resp := b.post(t, "/api/events", body, map[string]string{"x-public-token": b.appA.PublicToken})
			require.Equal(t, 200, resp.Status)
		}
		msgs := b.streamMessages(t)
		require.Len(t, msgs, 2, "one message per kind, the retry deduplicated")
		bySubject := map[string]streamMsg{}
		for _, m := range msgs {
			bySubject[m.subject] = m
			require.Contains(t, m.id, app+":", "the dedup id is scoped by app")
		}
		require.Len(t, bySubject["telemetry."+app+".gameplay"].events, 10)
		require.Len(t, bySubject["telemetry."+app+".player"].events, 5)
		require.Len(t, b.streamEvents(t), 15)
	})

	t.Run("SingleEventKeepsItsID", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		app := b.appA.AppID.String()
		ev := gameplay(app, 1)
		ev["event_id"] = "0b9e2c1e-6f8c-4d59-9a8e-6c1f2f7d9a11"
		resp := b.post(t, "/api/events", pack(t, ev), map[string]string{"x-public-token": b.appA.PublicToken})
		require.Equal(t, 200, resp.Status)
		msgs := b.streamMessages(t)
		require.Len(t, msgs, 1)
		require.Equal(t, app+":0b9e2c1e-6f8c-4d59-9a8e-6c1f2f7d9a11", msgs[0].id)
	})

	t.Run("LargeBatchSplitsTheSameWayOnRetry", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &setupOpts{publisher: func(c *eventstream.PublisherConfig) { c.MaxBytes = 2 << 10 }})
		app := b.appA.AppID.String()
		batch := make([]any, 60)
		for i := range batch {
			batch[i] = gameplay(app, i)
		}
		body := pack(t, batch)
		resp := b.post(t, "/api/events", body, map[string]string{"x-public-token": b.appA.PublicToken})
		require.Equal(t, 200, resp.Status)
		first := b.lastSeq(t)
		require.Greater(t, first, uint64(1), "items past MaxBytes go into another message")
		resp = b.post(t, "/api/events", body, map[string]string{"x-public-token": b.appA.PublicToken})
		require.Equal(t, 200, resp.Status)
		require.Equal(t, first, b.lastSeq(t), "every message of the retry is deduplicated")
		require.Len(t, b.streamEvents(t), 60)
	})

	t.Run("GroupCommitCoalescesRequests", func(t *testing.T) {
		t.Parallel()
		// A linger far longer than it takes to send the requests.
		b := setup(t, &setupOpts{publisher: func(c *eventstream.PublisherConfig) {
			c.Linger, c.Timeout = 3*time.Second, 20*time.Second
		}})
		app := b.appA.AppID.String()
		const n = 12
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				resp := b.post(t, "/api/events", pack(t, gameplay(app, i)), map[string]string{"x-public-token": b.appA.PublicToken})
				require.Equal(t, 200, resp.Status)
			})
		}
		wg.Wait()
		require.Less(t, b.lastSeq(t), uint64(n), "requests share messages")
		require.Len(t, b.streamEvents(t), n)
	})

	t.Run("GroupCommitNeverAnswers200ForAFailedMessage", func(t *testing.T) {
		t.Parallel()
		var sent atomic.Int64
		b := setup(t, &setupOpts{
			publisher: func(c *eventstream.PublisherConfig) { c.Linger, c.Timeout = time.Second, 20*time.Second },
			fault: func(i int) error {
				sent.Add(1)
				if i%2 == 0 {
					return fmt.Errorf("injected failure of message %d", i)
				}
				return nil
			},
		})
		app := b.appA.AppID.String()
		const n = 24
		ok := make([]bool, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				ev := gameplay(app, i)
				ev["event_id"] = fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
				resp := b.post(t, "/api/events", pack(t, ev), map[string]string{"x-public-token": b.appA.PublicToken})
				require.Contains(t, []int{200, 503}, resp.Status)
				ok[i] = resp.Status == 200
			})
		}
		wg.Wait()
		require.Positive(t, sent.Load())
		stored := b.streamEvents(t)
		answered := 0
		for i, got := range ok {
			id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
			if got {
				answered++
				require.True(t, stored[id], "event %s was answered 200 but is not stored", id)
			} else {
				require.False(t, stored[id], "event %s was answered 503 and its message failed", id)
			}
		}
		require.Less(t, answered, n, "some group failed")
	})

	t.Run("PublishTimeoutIs503AndTheRetryLandsOnce", func(t *testing.T) {
		t.Parallel()
		// The message waits longer than the request: the request gives up
		// (503) and the message is stored later anyway.
		b := setup(t, &setupOpts{publisher: func(c *eventstream.PublisherConfig) {
			c.Linger, c.Timeout = 1500*time.Millisecond, 300*time.Millisecond
		}})
		app := b.appA.AppID.String()
		body := pack(t, []any{gameplay(app, 1), gameplay(app, 2)})
		resp := b.post(t, "/api/events", body, map[string]string{"x-public-token": b.appA.PublicToken})
		require.Equal(t, 503, resp.Status)
		require.Equal(t, "unavailable", resp.Body["error"])
		require.Eventually(t, func() bool { return b.lastSeq(t) == 1 }, 30*time.Second, 50*time.Millisecond)

		// The retry times out too, and its message is sent all the same;
		// a message of another subject, opened after it, is the barrier:
		// once that is stored, the retry's message was sent before it.
		resp = b.post(t, "/api/events", body, map[string]string{"x-public-token": b.appA.PublicToken})
		require.Equal(t, 503, resp.Status)
		b.post(t, "/api/events", pack(t, player(app, 3)), map[string]string{"x-public-token": b.appA.PublicToken})
		require.Eventually(t, func() bool { return b.lastSeq(t) == 2 }, 30*time.Second, 50*time.Millisecond)
		msgs := b.streamMessages(t)
		require.Equal(t, "telemetry."+app+".player", msgs[1].subject, "the retry was deduplicated")
		require.Len(t, b.streamEvents(t), 3)
	})
}
