package httpapi

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/gamepipe/gamepipe/internal/store"
)

// appEventsBatch is how many events a stream reads per query.
const appEventsBatch = 100

// appEventsWatch wakes, for the whole process, the open GET /v1/events
// streams of an app when it has new events: one poller reads the latest
// event number of every app with an open stream in one query per interval,
// and, with NATS, one subscription on the job notifications wakes an
// app's streams at once. A woken stream reads its events from Postgres
// (job_events), which holds them whichever process wrote them. It caps the
// open streams of each app in this process, as generationWatch does.
type appEventsWatch struct {
	db        store.DBTX
	nc        *nats.Conn
	interval  time.Duration
	maxPerApp int
	logger    zerolog.Logger

	mu       sync.Mutex
	apps     map[uuid.UUID]*watchedApp
	sub      *nats.Subscription
	stopPoll chan struct{}
}

type watchedApp struct {
	seq     int64 // the latest event number the poller saw
	streams map[chan struct{}]struct{}
}

func newAppEventsWatch(logger zerolog.Logger, nc *nats.Conn, db store.DBTX, interval time.Duration, maxPerApp int) *appEventsWatch {
	return &appEventsWatch{db: db, nc: nc, interval: interval, maxPerApp: maxPerApp,
		logger: logger.With().Str("component", "app_events_watch").Logger(), apps: map[uuid.UUID]*watchedApp{}}
}

// add registers a stream of app; past the cap it is refused.
func (w *appEventsWatch) add(app uuid.UUID) (chan struct{}, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	a := w.apps[app]
	if a == nil {
		a = &watchedApp{seq: -1, streams: map[chan struct{}]struct{}{}}
	}
	if len(a.streams) >= w.maxPerApp {
		return nil, &APIError{Status: http.StatusTooManyRequests, Code: "too_many_streams", RetryAfter: 5,
			Message: "this application already has " + strconv.Itoa(w.maxPerApp) + " open event streams here; close one first"}
	}
	w.apps[app] = a
	wake := make(chan struct{}, 1)
	a.streams[wake] = struct{}{}
	if w.stopPoll == nil {
		w.stopPoll = make(chan struct{})
		go w.poll(w.stopPoll)
		if w.nc != nil {
			sub, err := w.nc.Subscribe("gamepipe.events.*.>", w.notified)
			if err != nil {
				w.logger.Warn().Err(err).Msg("httpapi: error subscribing to job notifications; polling only")
			}
			w.sub = sub
		}
	}
	return wake, nil
}

func (w *appEventsWatch) remove(app uuid.UUID, wake chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	a := w.apps[app]
	if a == nil {
		return
	}
	delete(a.streams, wake)
	if len(a.streams) == 0 {
		delete(w.apps, app)
	}
	if len(w.apps) == 0 && w.stopPoll != nil {
		close(w.stopPoll)
		w.stopPoll = nil
		if w.sub != nil {
			_ = w.sub.Unsubscribe()
			w.sub = nil
		}
	}
}

func (a *watchedApp) signal() {
	for s := range a.streams {
		select {
		case s <- struct{}{}:
		default:
		}
	}
}

// notified wakes the streams of the app a notification subject names
// (gamepipe.events.<app_id>.…).
func (w *appEventsWatch) notified(m *nats.Msg) {
	parts := strings.SplitN(m.Subject, ".", 4)
	if len(parts) < 3 {
		return
	}
	app, err := uuid.Parse(parts[2])
	if err != nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if a := w.apps[app]; a != nil {
		a.signal()
	}
}

func (w *appEventsWatch) poll(stop <-chan struct{}) {
	ticker := time.NewTicker(w.interval)
	defer ticker.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ticker.C:
		}
		w.mu.Lock()
		ids := make([]uuid.UUID, 0, len(w.apps))
		for id := range w.apps {
			ids = append(ids, id)
		}
		w.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), max(w.interval, 5*time.Second))
		seqs, err := store.JobEventLatest(ctx, w.db, ids)
		cancel()
		if err != nil {
			w.logger.Warn().Err(err).Msg("httpapi: error polling event numbers")
			continue
		}
		w.mu.Lock()
		for _, id := range ids {
			if a := w.apps[id]; a != nil && seqs[id] != a.seq {
				a.seq = seqs[id]
				a.signal()
			}
		}
		w.mu.Unlock()
	}
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
		latest, err := store.JobEventLatest(ctx, h.s.jobs.Pool, []uuid.UUID{key.AppID})
		if err != nil {
			writeError(w, r, err)
			return
		}
		cursor = latest[key.AppID]
	}
	wake, err := h.events.add(key.AppID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	defer h.events.remove(key.AppID, wake)

	rc := http.NewResponseController(w)
	stop := time.NewTimer(time.Hour)
	if dl, ok := ctx.Deadline(); ok {
		stop.Reset(time.Until(dl) - time.Second)
	}
	defer stop.Stop()
	heartbeat := time.NewTicker(h.deps.Heartbeat)
	defer heartbeat.Stop()

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 1000\n\n")
	for {
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
		case <-wake:
		}
	}
}
