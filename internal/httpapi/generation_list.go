package httpapi

import (
	"net/http"

	"github.com/gamepipe/gamepipe/internal/store"
)

// list is GET /v1/generations?status=&model=&limit=&cursor=: a page of the
// app's generations, newest first, as {"data":[...],"next_cursor":...}
// (parseJobListQuery reads status, limit and cursor).
func (h *generationHandlers) list(w http.ResponseWriter, r *http.Request) {
	key, err := h.s.auth.secretApp(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	q, err := parseJobListQuery(r, store.GenerationStatuses)
	if err != nil {
		writeError(w, r, err)
		return
	}
	rows, next, err := store.GenerationList(r.Context(), h.s.jobs.Pool, &store.GenerationListParams{AppID: key.AppID,
		Status: q.Status, Model: r.URL.Query().Get("model"), Limit: q.Limit, After: q.After})
	if err != nil {
		writeError(w, r, err)
		return
	}
	page := &jobPage{Data: make([]*jobView, 0, len(rows)), NextCursor: nextCursor(next)}
	for _, g := range rows {
		page.Data = append(page.Data, newGenerationView(g, h.deps.PublicBaseURL))
	}
	writeJSON(w, http.StatusOK, page)
}
