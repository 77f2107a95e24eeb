package httpapi

import (
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gamepipe/gamepipe/internal/store"
)

var generationStatuses = []string{store.GenerationQueued, store.GenerationSubmitting, store.GenerationSubmitted,
	store.GenerationRunning, store.GenerationFinalizing, store.GenerationSucceeded, store.GenerationFailed,
	store.GenerationTimedOut, store.GenerationCancelled}

// listResponse is a page of generations.
type listResponse struct {
	Generations []*generationView `json:"generations"`
	// NextCursor continues the list; absent on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// list pages the app's generations, newest first, filtered by status and
// model; the cursor is opaque.
func (h *generationHandlers) list(w http.ResponseWriter, r *http.Request) {
	key, err := h.s.auth.secretApp(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	p := &store.GenerationListParams{AppID: key.AppID, Status: q.Get("status"), Model: q.Get("model"), Limit: 20}
	if p.Status != "" && !slices.Contains(generationStatuses, p.Status) {
		writeError(w, r, invalidField("status", "status must be one of %s", strings.Join(generationStatuses, ", ")))
		return
	}
	if v := q.Get("limit"); v != "" {
		if p.Limit, err = strconv.Atoi(v); err != nil || p.Limit < 1 || p.Limit > 100 {
			writeError(w, r, invalidField("limit", "limit must be between 1 and 100"))
			return
		}
	}
	if v := q.Get("cursor"); v != "" {
		if p.After = decodeCursor(v); p.After == nil {
			writeError(w, r, invalidField("cursor", "cursor is not one this API returned"))
			return
		}
	}
	rows, err := store.GenerationList(r.Context(), h.s.jobs.Pool, p)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := listResponse{Generations: make([]*generationView, 0, len(rows))}
	for _, g := range rows {
		out.Generations = append(out.Generations, newGenerationView(g, h.deps.PublicBaseURL))
	}
	if len(rows) == p.Limit {
		last := rows[len(rows)-1]
		out.NextCursor = encodeCursor(&store.GenerationCursor{CreatedAt: last.CreatedAt, ID: last.ID})
	}
	writeJSON(w, http.StatusOK, out)
}

func encodeCursor(c *store.GenerationCursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.CreatedAt.UTC().Format(time.RFC3339Nano) + "|" + c.ID.String()))
}

func decodeCursor(s string) *store.GenerationCursor {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil
	}
	at, id, ok := strings.Cut(string(raw), "|")
	if !ok {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return nil
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return nil
	}
	return &store.GenerationCursor{CreatedAt: t, ID: u}
}
