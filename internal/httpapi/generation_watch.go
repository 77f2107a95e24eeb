package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/store"
)

// generationWatch follows, for the whole process, the generations that have
// an open events stream, so that the cost of following does not grow with
// the number of streams:
//   - one NATS subscription on every app's generation notifications, whose
//     messages wake the streams of the generation they name;
//   - one poller that reads the state of every watched generation in one
//     query per interval and wakes the streams of those that changed: the
//     safety net for a notification lost in a NATS reconnect, and the only
//     source when there is no NATS.
//
// A woken stream reads its own row. Both run only while a stream is open.
// It also caps the open streams of each app in this process: a stream holds
// a connection and a goroutine here, so the cap protects this process (with
// several api processes an app may hold the cap on each).
type generationWatch struct {
	nc        *nats.Conn
	db        store.DBTX
	interval  time.Duration
	maxPerApp int
	logger    zerolog.Logger

	mu       sync.Mutex
	gens     map[uuid.UUID]*watchedGeneration
	perApp   map[uuid.UUID]int
	open     int
	sub      *nats.Subscription
	stopPoll chan struct{}
}

// watchedGeneration is a generation with at least one open stream.
type watchedGeneration struct {
	// state is what the poller last saw, or what the first stream read.
	state   store.GenerationState
	streams map[*generationStream]struct{}
}

// generationStream is one open events stream's registration.
type generationStream struct {
	id, app uuid.UUID
	// wake has room for one signal: a stream behind on reading needs only
	// to know that something changed, not how many times.
	wake chan struct{}
}

func (s *generationStream) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func newGenerationWatch(logger zerolog.Logger, nc *nats.Conn, db store.DBTX, interval time.Duration, maxPerApp int) *generationWatch {
	return &generationWatch{nc: nc, db: db, interval: interval, maxPerApp: maxPerApp,
		logger: logger.With().Str("component", "generation_watch").Logger(),
		gens:   make(map[uuid.UUID]*watchedGeneration), perApp: make(map[uuid.UUID]int)}
}

// errTooManyStreams answers a stream past the app's cap.
func errTooManyStreams(limit int) *APIError {
	return &APIError{Status: http.StatusTooManyRequests, Code: "too_many_streams", RetryAfter: 5,
		Message: "this application already has " + strconv.Itoa(limit) + " open event streams here; close one or poll GET /v1/generations/{id}"}
}

// add registers a stream of generation id (of app), whose row the caller
// read in state seen. Past the app's cap it returns a 429 *APIError. The
// caller removes the stream when it ends.
func (w *generationWatch) add(app, id uuid.UUID, seen store.GenerationState) (*generationStream, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.perApp[app] >= w.maxPerApp {
		return nil, errTooManyStreams(w.maxPerApp)
	}
	if w.open == 0 {
		w.start()
	}
	w.open++
	w.perApp[app]++
	s := &generationStream{id: id, app: app, wake: make(chan struct{}, 1)}
	g := w.gens[id]
	if g == nil {
		g = &watchedGeneration{state: seen, streams: make(map[*generationStream]struct{})}
		w.gens[id] = g
	} else if g.state != seen {
		// The poller saw a change after this stream read its row (and
		// before it was here to be woken): read again.
		s.signal()
	}
	g.streams[s] = struct{}{}
	return s, nil
}

// remove unregisters s; the last stream out stops the subscription and the
// poller.
func (w *generationWatch) remove(s *generationStream) {
	w.mu.Lock()
	defer w.mu.Unlock()
	g := w.gens[s.id]
	if g == nil {
		return
	}
	if _, ok := g.streams[s]; !ok {
		return
	}
	delete(g.streams, s)
	if len(g.streams) == 0 {
		delete(w.gens, s.id)
	}
	if w.perApp[s.app]--; w.perApp[s.app] <= 0 {
		delete(w.perApp, s.app)
	}
	if w.open--; w.open == 0 {
		w.stop()
	}
}

// start subscribes and starts the poller; w.mu is held. A failed subscribe
// leaves the poller alone to follow the generations.
func (w *generationWatch) start() {
	if w.nc != nil {
		sub, err := w.nc.Subscribe(eventstream.NotifySubject("*", "generation", ">"), w.notified)
		if err != nil {
			w.logger.Warn().Err(err).Msg("httpapi: error subscribing to generation notifications; polling only")
		}
		w.sub = sub
	}
	w.stopPoll = make(chan struct{})
	go w.poll(w.stopPoll)
}

// stop undoes start; w.mu is held.
func (w *generationWatch) stop() {
	if w.sub != nil {
		_ = w.sub.Unsubscribe()
		w.sub = nil
	}
	close(w.stopPoll)
	w.stopPoll = nil
}

// notified wakes the streams of the generation a notification names.
func (w *generationWatch) notified(m *nats.Msg) {
	var note struct {
		ID uuid.UUID `json:"id"`
	}
	if json.Unmarshal(m.Data, &note) != nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if g := w.gens[note.ID]; g != nil {
		for s := range g.streams {
			s.signal()
		}
	}
}

// poll reads the watched generations' states every interval until stop is
// closed, waking the streams of each generation whose state changed or
// whose row is gone.
func (w *generationWatch) poll(stop <-chan struct{}) {
	ticker := time.NewTicker(w.interval)
	defer ticker.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ticker.C:
		}
		w.mu.Lock()
		ids := make([]uuid.UUID, 0, len(w.gens))
		for id := range w.gens {
			ids = append(ids, id)
		}
		w.mu.Unlock()
		if len(ids) == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), max(w.interval, 5*time.Second))
		states, err := store.GenerationStates(ctx, w.db, ids)
		cancel()
		if err != nil {
			w.logger.Warn().Err(err).Msg("httpapi: error polling generation states")
			continue
		}
		w.mu.Lock()
		for _, id := range ids {
			g := w.gens[id]
			if g == nil {
				continue
			}
			st, ok := states[id]
			if ok && st == g.state {
				continue
			}
			g.state = st
			for s := range g.streams {
				s.signal()
			}
		}
		w.mu.Unlock()
	}
}
