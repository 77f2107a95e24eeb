package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"image/png"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/upstreamsim/generaitivsim"
)

// sseEvent is one Server-Sent Event.
type sseEvent struct {
	name string
	data map[string]any
}

// readEvents follows /v1/generations/{id}/events until the stream ends.
func (b *genTestBundle) readEvents(t *testing.T, id uuid.UUID) <-chan []sseEvent {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.api.URL+"/v1/generations/"+id.String()+"/events", nil)
	require.NoError(t, err)
	req.Header.Set("X-Api-Key", b.appA.SecretKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	out := make(chan []sseEvent, 1)
	go func() {
		defer resp.Body.Close()
		var events []sseEvent
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
				events = append(events, sseEvent{name: name, data: data})
			}
		}
		out <- events
	}()
	return out
}

func statusesOf(events []sseEvent) (statuses []string, progress []float64) {
	for _, e := range events {
		switch e.name {
		case "status":
			statuses = append(statuses, e.data["status"].(string))
		case "progress":
			progress = append(progress, e.data["progress"].(float64))
		}
	}
	return statuses, progress
}

func waitEvents(t *testing.T, ch <-chan []sseEvent) []sseEvent {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(30 * time.Second):
		t.Fatal("the events stream did not end")
		return nil
	}
}

func TestGenerationEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	terminal := func(g *store.Generation) bool { return g.Status.Terminal() }

	t.Run("CancelStopsFollowing", func(t *testing.T) {
		t.Parallel()
		bundle := genSetup(t, &genTestOpts{workers: true, simTime: 5 * time.Second})
		id := bundle.create(t, bundle.appA, nil)
		events := bundle.readEvents(t, id)
		bundle.waitFor(t, id, 20*time.Second, func(g *store.Generation) bool { return g.Status == store.JobProcessing })
		status, body, _ := bundle.do(t, bundle.appA, http.MethodDelete, "/v1/generations/"+id.String(), nil, nil)
		require.Equal(t, http.StatusOK, status, body)
		statuses, _ := statusesOf(waitEvents(t, events))
		require.Equal(t, "canceled", statuses[len(statuses)-1])
		g := bundle.get(t, id)
		require.Equal(t, store.JobCanceled, g.Status)
		require.Empty(t, g.ImageKey)
	})

	t.Run("DuplicateAndLateWebhooksDownloadOnce", func(t *testing.T) {
		t.Parallel()
		bundle := genSetup(t, &genTestOpts{workers: true, webhook: true})
		bundle.sim.SetFaults(generaitivsim.Faults{WebhookDuplicates: 2, WebhookLateReplay: 300 * time.Millisecond})
		id := bundle.create(t, bundle.appA, nil)
		g := bundle.waitFor(t, id, 20*time.Second, func(g *store.Generation) bool { return g.Completions == 4 && terminal(g) })
		require.Equal(t, store.JobSucceeded, g.Status, g.ErrorMessage)
		require.Equal(t, int32(3), g.LateCompletions)
		require.Equal(t, 1, bundle.finalizeJobs(t, id))
		require.Equal(t, 1, bundle.sim.Stats().ImageDownloads)
	})

	t.Run("LostWebhookTimesOut", func(t *testing.T) {
		t.Parallel()
		bundle := genSetup(t, &genTestOpts{workers: true, webhook: true, deadline: time.Second})
		bundle.sim.SetFaults(generaitivsim.Faults{WebhookLost: true})
		id := bundle.create(t, bundle.appA, nil)
		g := bundle.waitFor(t, id, 2*time.Minute, terminal)
		require.Equal(t, store.JobTimedOut, g.Status)
		require.Equal(t, "timed_out", g.ErrorCode)
	})

	t.Run("PaymentRequired", func(t *testing.T) {
		t.Parallel()
		bundle := genSetup(t, &genTestOpts{workers: true, webhook: true})
		bundle.sim.SetFaults(generaitivsim.Faults{PaymentRequired: true})
		id := bundle.create(t, bundle.appA, nil)
		bundle.waitFor(t, id, 2*time.Minute, terminal)
		_, body, _ := bundle.do(t, bundle.appA, http.MethodGet, "/v1/generations/"+id.String(), nil, nil)
		require.Equal(t, "failed", body["status"])
		errView := body["error"].(map[string]any)
		require.Equal(t, "payment_required", errView["code"])
		require.Contains(t, errView["message"], "subscription")
	})

	t.Run("RateLimitStormSnoozes", func(t *testing.T) {
		t.Parallel()
		// docs/reliability.md #25: the first 10 /consumer/gen calls are 429
		// with Retry-After: 1; 20 generations; 4 workers.
		bundle := genSetup(t, &genTestOpts{workers: true, webhook: true, concurrency: 4})
		bundle.sim.SetFaults(generaitivsim.Faults{RateLimitNext: 10, RetryAfter: time.Second, GenDelay: 20 * time.Millisecond})
		var ids []uuid.UUID
		for range 20 {
			ids = append(ids, bundle.create(t, bundle.appA, nil))
		}
		for _, id := range ids {
			g := bundle.waitFor(t, id, 3*time.Minute, terminal)
			require.Equal(t, store.JobSucceeded, g.Status, g.ErrorMessage)
		}
		st := bundle.sim.Stats()
		require.Equal(t, 10, st.Gen429)
		require.Equal(t, 20, st.GenAccepted)
		require.LessOrEqual(t, st.MaxGenInFlight, 4, "never more than the queue's concurrency")
		rows, err := bundle.pool.Query(ctx, `SELECT attempt, coalesce(array_length(errors, 1), 0), coalesce((metadata->>'snoozes')::int, 0)
			FROM river_job WHERE kind = 'generaitiv_generate'`)
		require.NoError(t, err)
		snoozed := 0
		for rows.Next() {
			var attempt, errs, snoozes int
			require.NoError(t, rows.Scan(&attempt, &errs, &snoozes))
			require.Equal(t, 1, attempt, "429s do not use attempts")
			require.Zero(t, errs, "429s are not errors")
			snoozed += snoozes
		}
		require.NoError(t, rows.Err())
		require.Equal(t, 10, snoozed)
	})

	t.Run("SlowWebhookAfterDeadlineIsLate", func(t *testing.T) {
		t.Parallel()
		bundle := genSetup(t, &genTestOpts{workers: true, webhook: true, deadline: time.Second, simTime: 100 * time.Millisecond})
		// River's scheduler moves due jobs every 5s, so the deadline job
		// runs 1-6s after creation; the callback comes after that.
		bundle.sim.SetFaults(generaitivsim.Faults{WebhookDelay: 8 * time.Second})
		id := bundle.create(t, bundle.appA, nil)
		g := bundle.waitFor(t, id, 20*time.Second, func(g *store.Generation) bool { return g.Completions == 1 })
		require.Equal(t, store.JobTimedOut, g.Status)
		require.Equal(t, int32(1), g.LateCompletions)
		require.NotEmpty(t, g.LateLink)
		require.Empty(t, g.ImageKey)
		require.Zero(t, bundle.finalizeJobs(t, id))
	})

	t.Run("WebhookPathPublishes", func(t *testing.T) {
		t.Parallel()
		bundle := genSetup(t, &genTestOpts{workers: true, webhook: true})
		req := validGeneration()
		req["publish"] = map[string]any{"collection": "e2e-gallery", "name": "Lighthouse", "description": "at dusk",
			"attributes": []any{map[string]any{"trait_type": "Time", "value": "dusk"}}}
		id := bundle.create(t, bundle.appA, req)
		events := bundle.readEvents(t, id)
		g := bundle.waitFor(t, id, 2*time.Minute, terminal)
		require.Equal(t, store.JobSucceeded, g.Status, g.ErrorMessage)
		statuses, _ := statusesOf(waitEvents(t, events))
		require.Equal(t, "succeeded", statuses[len(statuses)-1])

		_, body, _ := bundle.do(t, bundle.appA, http.MethodGet, "/v1/generations/"+id.String(), nil, nil)
		result := body["result"].(map[string]any)
		token := result["token"].(map[string]any)
		require.Equal(t, true, token["published"])
		require.Equal(t, "e2e-gallery", token["collection"])
		uploaded, ok := bundle.sim.UploadedImage(token["id"].(string))
		require.True(t, ok)

		httpReq, err := http.NewRequest(http.MethodGet, bundle.api.URL+result["image_url"].(string), nil)
		require.NoError(t, err)
		httpReq.Header.Set("X-Api-Key", bundle.appA.SecretKey)
		resp, err := http.DefaultClient.Do(httpReq)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		img, err := png.Decode(resp.Body)
		require.NoError(t, err)
		require.Equal(t, 256, img.Bounds().Dx())
		require.Equal(t, 128, img.Bounds().Dy())
		require.Equal(t, g.ImageSize, int64(len(uploaded)))
	})

	t.Run("WebsocketPathSurvivesDrop", func(t *testing.T) {
		t.Parallel()
		bundle := genSetup(t, &genTestOpts{workers: true, simTime: time.Second})
		bundle.sim.SetFaults(generaitivsim.Faults{WSDropAfter: 4})
		id := bundle.create(t, bundle.appA, nil)
		events := bundle.readEvents(t, id)
		g := bundle.waitFor(t, id, 2*time.Minute, terminal)
		require.Equal(t, store.JobSucceeded, g.Status, g.ErrorMessage)
		statuses, progress := statusesOf(waitEvents(t, events))
		require.Equal(t, "succeeded", statuses[len(statuses)-1])
		require.Contains(t, statuses, "processing")
		require.NotEmpty(t, progress)
		require.IsNonDecreasing(t, progress)
		require.Equal(t, 2, bundle.sim.Stats().WSConnections, "the dropped socket was reopened once")
		require.NotEmpty(t, g.ImageKey)
	})
}
