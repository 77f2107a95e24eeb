package httpapi

import (
	"cmp"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/gamepipe/gamepipe/internal/store"
)

// appEventsBatch is how many events a stream reads per query.
const appEventsBatch = 100

// appEventsKind is what the app events' sseWatch follows: an app (key and
// app are the same id), its state the number of its latest event, woken by
// the job notifications (gamepipe.events.<app_id>.…). Its poll numbers the
// watched apps' new events (store.JobEventsNumber), so an event whose
// notification was lost still reaches the streams.
var appEventsKind = sseKind[int64]{
	component: "app_events_watch",
	subject:   "gamepipe.events.*.>",
	keyOf:     appOfSubject,
	states:    store.JobEventsNumber,
	instead:   "close one first",
}

// appOfSubject returns the app a notification subject names
// (gamepipe.events.<app_id>.…).
func appOfSubject(m *nats.Msg) (uuid.UUID, bool) {
	parts := strings.SplitN(m.Subject, ".", 4)
	if len(parts) < 3 {
		return uuid.UUID{}, false
	}
	app, err := uuid.Parse(parts[2])
	return app, err == nil
}

// appEvents is GET /v1/events: the app's job events as Server-Sent Events,
// each "id: <number>", "event: <type>" and "data: <the webhook payload>"
// (docs/webhooks.md). Without Last-Event-ID (header, or the last_event_id
// query parameter) it starts with the next event; with it, right after that
// event, wherever it was written and whichever api process served the
// earlier stream. A comment line goes out every heartbeat while nothing
// happens; the stream ends shortly before the request's time limit, and
// the client reconnects with Last-Event-ID.
func (h *webhookHandlers) appEvents(w http.ResponseWriter, r *http.Request) {
	key, err := h.s.auth.secretApp(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	ctx := r.Context()
	last := cmp.Or(r.Header.Get("Last-Event-ID"), r.URL.Query().Get("last_event_id"))
	var cursor int64
	if last != "" {
		if cursor, err = strconv.ParseInt(last, 10, 64); err != nil || cursor < 0 {
			writeError(w, r, newError(http.StatusBadRequest, "invalid_last_event_id", "Last-Event-ID is the id of an event this stream sent (a number)"))
			return
		}
	} else {
		latest, err := store.JobEventsNumber(ctx, h.s.jobs.Pool, []uuid.UUID{key.AppID})
		if err != nil {
			writeError(w, r, err)
			return
		}
		cursor = latest[key.AppID]
	}
	// The stream reads after registering, so the state it says it saw
	// only spares a wake-up when the cursor is already the latest.
	st, err := h.events.add(key.AppID, key.AppID, cursor)
	if err != nil {
		writeError(w, r, err)
		return
	}
	defer h.events.remove(st)

	rc, stop := openSSE(w, r)
	defer stop.Stop()
	heartbeat := time.NewTicker(h.deps.Heartbeat)
	defer heartbeat.Stop()
	for {
		// Events are readable once numbered, and numbered only after
		// they commit: a stream numbers what has committed, then reads.
		if _, err := store.JobEventsNumber(ctx, h.s.jobs.Pool, []uuid.UUID{key.AppID}); err != nil {
			return // the client reconnects with Last-Event-ID
		}
		events, err := store.JobEventsAfter(ctx, h.s.jobs.Pool, key.AppID, cursor, appEventsBatch)
		if err != nil {
			return // the client reconnects with Last-Event-ID
		}
		for _, e := range events {
			fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.Seq, e.Type, store.JobEventBody(e.Body, h.deps.PublicBaseURL))
			cursor = e.Seq
		}
		if err := rc.Flush(); err != nil {
			return
		}
		if len(events) == appEventsBatch {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-stop.C:
			return
		case <-heartbeat.C:
			fmt.Fprint(w, ": heartbeat\n\n")
		case <-st.wake:
		}
	}
}
