package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/gamepipe/gamepipe/internal/store"
)

// sseWatch wakes, for the whole process, the open Server-Sent Events
// streams that follow one kind of thing (an app's job events, one
// generation), each stream registered under the key of the thing it
// follows. The cost of following does not grow with the number of streams.
// It guarantees:
//   - while at least one stream is open, exactly one NATS subscription (on
//     the kind's subject, when there is a connection) and one poller run;
//     the last stream out stops both;
//   - a notification wakes every stream of the key it names, and no other;
//   - every interval the poller reads the state of every watched key in one
//     query and wakes the streams of each key whose state differs from the
//     one it last saw (a key missing from the answer reads as the zero
//     state): the safety net for a notification lost in a NATS reconnect,
//     and the only source without NATS or when subscribing failed;
//   - a stream registered with a state other than the one last seen for
//     its key is woken at once, so a change between the stream's own read
//     and its registration is not missed;
//   - a wake is never blocked on: each stream's channel holds one signal,
//     as a stream behind on reading needs only to know that something
//     changed, not how many times;
//   - at most maxPerApp open streams of one app in this process; past it
//     add answers 429 too_many_streams with Retry-After. A stream holds a
//     connection and a goroutine here, so the cap protects this process
//     (with several api processes an app may hold the cap on each).
//
// The watcher carries no data: a woken stream reads what it shows from
// Postgres, which holds it whichever process wrote it.
type sseWatch[S comparable] struct {
	kind      sseKind[S]
	nc        *nats.Conn
	db        store.DBTX
	interval  time.Duration
	maxPerApp int
	logger    zerolog.Logger

	mu       sync.Mutex
	keys     map[uuid.UUID]*watchedKey[S]
	perApp   map[uuid.UUID]int
	open     int
	sub      *nats.Subscription
	stopPoll chan struct{}
}

// sseKind is what differs between the things an sseWatch follows.
type sseKind[S comparable] struct {
	// component names the watcher in its log lines.
	component string
	// subject is the NATS subject the watcher subscribes to.
	subject string
	// keyOf returns the key a notification names, false for none.
	keyOf func(*nats.Msg) (uuid.UUID, bool)
	// states reads the state of each key, in one query.
	states func(ctx context.Context, db store.DBTX, keys []uuid.UUID) (map[uuid.UUID]S, error)
	// instead ends the 429's message: what the client may do instead.
	instead string
}

// watchedKey is a key with at least one open stream.
type watchedKey[S comparable] struct {
	// state is what the poller last saw, or what the first stream saw.
	state   S
	streams map[*sseStream]struct{}
}

// sseStream is one open stream's registration.
type sseStream struct {
	key, app uuid.UUID
	// wake receives a signal when the stream's key may have changed.
	wake chan struct{}
}

func (s *sseStream) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func newSSEWatch[S comparable](logger zerolog.Logger, nc *nats.Conn, db store.DBTX, interval time.Duration, maxPerApp int, kind sseKind[S]) *sseWatch[S] {
	return &sseWatch[S]{kind: kind, nc: nc, db: db, interval: interval, maxPerApp: maxPerApp,
		logger: logger.With().Str("component", kind.component).Logger(),
		keys:   make(map[uuid.UUID]*watchedKey[S]), perApp: make(map[uuid.UUID]int)}
}

// add registers a stream of app following key, whose caller saw it in state
// seen. Past the app's cap it returns a 429 *APIError. The caller removes
// the stream when it ends.
func (w *sseWatch[S]) add(app, key uuid.UUID, seen S) (*sseStream, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.perApp[app] >= w.maxPerApp {
		return nil, &APIError{Status: http.StatusTooManyRequests, Code: "too_many_streams", RetryAfter: 5,
			Message: "this application already has " + strconv.Itoa(w.maxPerApp) + " open event streams here; " + w.kind.instead}
	}
	if w.open == 0 {
		w.start()
	}
	w.open++
	w.perApp[app]++
	s := &sseStream{key: key, app: app, wake: make(chan struct{}, 1)}
	k := w.keys[key]
	if k == nil {
		k = &watchedKey[S]{state: seen, streams: make(map[*sseStream]struct{})}
		w.keys[key] = k
	} else if k.state != seen {
		s.signal()
	}
	k.streams[s] = struct{}{}
	return s, nil
}

// remove unregisters s; the last stream out stops the subscription and the
// poller.
func (w *sseWatch[S]) remove(s *sseStream) {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := w.keys[s.key]
	if k == nil {
		return
	}
	if _, ok := k.streams[s]; !ok {
		return
	}
	delete(k.streams, s)
	if len(k.streams) == 0 {
		delete(w.keys, s.key)
	}
	if w.perApp[s.app]--; w.perApp[s.app] <= 0 {
		delete(w.perApp, s.app)
	}
	if w.open--; w.open == 0 {
		w.stop()
	}
}

// start subscribes and starts the poller; w.mu is held. A failed subscribe
// leaves the poller alone to follow the keys.
func (w *sseWatch[S]) start() {
	if w.nc != nil {
		sub, err := w.nc.Subscribe(w.kind.subject, w.notified)
		if err != nil {
			w.logger.Warn().Err(err).Str("subject", w.kind.subject).Msg("httpapi: error subscribing to notifications; polling only")
		}
		w.sub = sub
	}
	w.stopPoll = make(chan struct{})
	go w.poll(w.stopPoll)
}

// stop undoes start; w.mu is held.
func (w *sseWatch[S]) stop() {
	if w.sub != nil {
		_ = w.sub.Unsubscribe()
		w.sub = nil
	}
	close(w.stopPoll)
	w.stopPoll = nil
}

// notified wakes the streams of the key a notification names.
func (w *sseWatch[S]) notified(m *nats.Msg) {
	key, ok := w.kind.keyOf(m)
	if !ok {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if k := w.keys[key]; k != nil {
		k.wake()
	}
}

func (k *watchedKey[S]) wake() {
	for s := range k.streams {
		s.signal()
	}
}

// poll reads the watched keys' states every interval until stop is closed,
// waking the streams of each key whose state changed.
func (w *sseWatch[S]) poll(stop <-chan struct{}) {
	ticker := time.NewTicker(w.interval)
	defer ticker.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ticker.C:
		}
		w.mu.Lock()
		keys := make([]uuid.UUID, 0, len(w.keys))
		for key := range w.keys {
			keys = append(keys, key)
		}
		w.mu.Unlock()
		if len(keys) == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), max(w.interval, 5*time.Second))
		states, err := w.kind.states(ctx, w.db, keys)
		cancel()
		if err != nil {
			w.logger.Warn().Err(err).Msg("httpapi: error polling the watched states")
			continue
		}
		w.mu.Lock()
		for _, key := range keys {
			if k := w.keys[key]; k != nil && states[key] != k.state {
				k.state = states[key]
				k.wake()
			}
		}
		w.mu.Unlock()
	}
}

// openSSE answers 200 as a Server-Sent Events stream with a retry hint of
// one second, and returns the response's controller and a timer that fires
// shortly before the request's time limit (an hour without one), when the
// stream should end so the client reconnects. The caller stops the timer.
func openSSE(w http.ResponseWriter, r *http.Request) (*http.ResponseController, *time.Timer) {
	stop := time.NewTimer(time.Hour)
	if dl, ok := r.Context().Deadline(); ok {
		stop.Reset(time.Until(dl) - time.Second)
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 1000\n\n")
	return http.NewResponseController(w), stop
}
