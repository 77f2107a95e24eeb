package httpapi

import (
	"net/http"

	"github.com/gamepipe/gamepipe/internal/store"
)

// handleGet is GET /v1/emotes/{id}: the emote, or 404 (also for another
// app's emote).
func (a *emoteAPI) handleGet(w http.ResponseWriter, r *http.Request) {
	app, err := a.s.auth.secretApp(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	id, err := emoteID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	e, err := store.EmoteGetForApp(r.Context(), a.s.jobs.Pool, app.AppID, id)
	if err != nil {
		writeError(w, r, mapEmoteStoreErr(err))
		return
	}
	writeJSON(w, http.StatusOK, viewEmote(e))
}

// handleList is GET /v1/emotes?user_id=&status=&limit=&cursor=: a page of
// the app's emotes, newest first, as {"data":[...],"next_cursor":...}
// (parseJobListQuery reads status, limit and cursor).
func (a *emoteAPI) handleList(w http.ResponseWriter, r *http.Request) {
	app, err := a.s.auth.secretApp(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	q, err := parseJobListQuery(r, store.EmoteStatuses)
	if err != nil {
		writeError(w, r, err)
		return
	}
	emotes, next, err := store.EmoteList(r.Context(), a.s.jobs.Pool, &store.EmoteListParams{AppID: app.AppID,
		UserID: r.URL.Query().Get("user_id"), Status: q.Status, Limit: q.Limit, After: q.After})
	if err != nil {
		writeError(w, r, err)
		return
	}
	page := &jobPage{Data: make([]*jobView, 0, len(emotes)), NextCursor: nextCursor(next)}
	for _, e := range emotes {
		page.Data = append(page.Data, viewEmote(e))
	}
	writeJSON(w, http.StatusOK, page)
}
