package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/store"
)

// events streams a generation's progress and status as Server-Sent
// Events: "status" events carry the generation (as GET returns it) and come
// first and on every status change, "progress" events carry
// {"progress":n}. The stream ends after a final status, or shortly before
// the request's time limit, with a retry hint so an EventSource reconnects
// (each connection starts with the current status). Notifications on
// gamepipe.events.<app_id>.generation.* wake it at once when NATS is
// configured; it also re-reads the row every EventsPollInterval.
func (h *generationHandlers) events(w http.ResponseWriter, r *http.Request) {
	g, err := h.lookup(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	rc := http.NewResponseController(w)
	ctx := r.Context()
	wake := make(chan struct{}, 1)
	if h.deps.NATS != nil {
		subject := eventstream.NotifySubject(g.AppID.String(), "generation", ">")
		want := `"id":"` + g.ID.String() + `"`
		sub, err := h.deps.NATS.Subscribe(subject, func(m *nats.Msg) {
			if strings.Contains(string(m.Data), want) {
				select {
				case wake <- struct{}{}:
				default:
				}
			}
		})
		if err == nil {
			defer func() { _ = sub.Unsubscribe() }()
		}
	}
	stop := time.NewTimer(time.Hour)
	if dl, ok := ctx.Deadline(); ok {
		stop.Reset(time.Until(dl) - time.Second)
	}
	defer stop.Stop()
	ticker := time.NewTicker(h.deps.EventsPollInterval)
	defer ticker.Stop()

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 1000\n\n")
	lastStatus, lastProgress := "", int16(-1)
	for {
		if g.Status != lastStatus {
			lastStatus = g.Status
			writeEvent(w, "status", newGenerationView(g, h.deps.PublicBaseURL))
		}
		if g.Progress != lastProgress && g.Status != store.GenerationQueued {
			lastProgress = g.Progress
			writeEvent(w, "progress", map[string]int16{"progress": g.Progress})
		}
		if err := rc.Flush(); err != nil {
			return // the client went away
		}
		if store.GenerationTerminal(g.Status) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-stop.C:
			return
		case <-wake:
		case <-ticker.C:
		}
		fresh, err := store.GenerationGet(ctx, h.s.jobs.Pool, g.ID)
		if err != nil {
			return
		}
		g = fresh
	}
}

func writeEvent(w http.ResponseWriter, event string, v any) {
	data, _ := json.Marshal(v)
	fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, data)
}
