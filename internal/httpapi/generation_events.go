package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/store"
)

// events streams a generation's progress and status as Server-Sent
// Events: "status" events carry the generation (the job object GET returns) and come
// first and on every status change, "progress" events carry
// {"progress":n}. The stream ends after a final status, or shortly before
// the request's time limit, with a retry hint so an EventSource reconnects
// (each connection starts with the current status). The process's
// generations sseWatch (generationKind) wakes it when the generation
// changes (a notification on gamepipe.events.<app_id>.generation.*, or its
// shared poll every EventsPollInterval); it then re-reads the row. An app past
// MaxEventStreamsPerApp open streams in this process gets 429.
func (h *generationHandlers) events(w http.ResponseWriter, r *http.Request) {
	g, err := h.lookup(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var wake <-chan struct{}
	if !g.Status.Terminal() {
		st, err := h.watch.add(g.AppID, g.ID, store.GenerationState{Status: g.Status, Progress: g.Progress})
		if err != nil {
			writeError(w, r, err)
			return
		}
		defer h.watch.remove(st)
		wake = st.wake
	}
	ctx := r.Context()
	rc, stop := openSSE(w, r)
	defer stop.Stop()
	lastStatus, lastProgress := store.JobStatus(""), int16(-1)
	for {
		if g.Status != lastStatus {
			lastStatus = g.Status
			writeEvent(w, "status", newGenerationView(g, h.deps.PublicBaseURL))
		}
		if g.Progress != lastProgress && g.Status != store.JobQueued {
			lastProgress = g.Progress
			writeEvent(w, "progress", map[string]int16{"progress": g.Progress})
		}
		if err := rc.Flush(); err != nil {
			return // the client went away
		}
		if g.Status.Terminal() {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-stop.C:
			return
		case <-wake:
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

// generationKind is what the generations' sseWatch follows: a generation,
// its state its status and progress, woken by the generation notifications,
// whose payload names it.
var generationKind = sseKind[store.GenerationState]{
	component: "generation_watch",
	subject:   eventstream.NotifySubject("*", "generation", ">"),
	keyOf:     generationOfNotification,
	states:    store.GenerationStates,
	instead:   "close one or poll GET /v1/generations/{id}",
}

// generationOfNotification returns the generation a notification's payload
// names.
func generationOfNotification(m *nats.Msg) (uuid.UUID, bool) {
	var note struct {
		ID uuid.UUID `json:"id"`
	}
	if json.Unmarshal(m.Data, &note) != nil {
		return uuid.UUID{}, false
	}
	return note.ID, true
}
