package httpapi

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

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
	e, err := a.emotes.Get(r.Context(), a.s.jobs.Pool, app.AppID, id)
	if err != nil {
		writeError(w, r, mapEmoteStoreErr(err))
		return
	}
	writeJSON(w, http.StatusOK, viewEmote(e))
}

// emotePage is the list answer; next_cursor is null on the last page.
type emotePage struct {
	Emotes     []*emoteView `json:"emotes"`
	NextCursor *string      `json:"next_cursor"`
}

// handleList is GET /v1/emotes?user_id=&status=&limit=&cursor=: the app's
// emotes, newest first, limit (1–100, default 20) per page. cursor is the
// previous page's opaque next_cursor.
func (a *emoteAPI) handleList(w http.ResponseWriter, r *http.Request) {
	app, err := a.s.auth.secretApp(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	p := &store.EmoteListParams{AppID: app.AppID, UserID: q.Get("user_id"), Status: store.EmoteStatus(q.Get("status")), Limit: 20}
	if p.Status != "" && !p.Status.Valid() {
		writeError(w, r, &APIError{Status: http.StatusBadRequest, Code: "invalid_query", Field: "status",
			Message: "status must be one of " + emoteStatusList()})
		return
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			writeError(w, r, &APIError{Status: http.StatusBadRequest, Code: "invalid_query", Field: "limit",
				Message: "limit must be a number from 1 to 100"})
			return
		}
		p.Limit = n
	}
	if v := q.Get("cursor"); v != "" {
		if p.After, err = decodeEmoteCursor(v); err != nil {
			writeError(w, r, &APIError{Status: http.StatusBadRequest, Code: "invalid_query", Field: "cursor",
				Message: "cursor is not one this API returned"})
			return
		}
	}
	emotes, next, err := a.emotes.List(r.Context(), a.s.jobs.Pool, p)
	if err != nil {
		writeError(w, r, err)
		return
	}
	page := &emotePage{Emotes: make([]*emoteView, 0, len(emotes))}
	for _, e := range emotes {
		page.Emotes = append(page.Emotes, viewEmote(e))
	}
	if next != nil {
		c := encodeEmoteCursor(next)
		page.NextCursor = &c
	}
	writeJSON(w, http.StatusOK, page)
}

func emoteStatusList() string {
	names := make([]string, len(store.EmoteStatuses))
	for i, s := range store.EmoteStatuses {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// encodeEmoteCursor makes the opaque cursor: base64url of
// "<created_at unix microseconds>.<id>".
func encodeEmoteCursor(c *store.EmoteCursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.CreatedAt.UnixMicro(), 10) + "." + c.ID.String()))
}

func decodeEmoteCursor(s string) (*store.EmoteCursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	ts, id, _ := strings.Cut(string(raw), ".")
	micros, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return nil, err
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return nil, err
	}
	return &store.EmoteCursor{CreatedAt: time.UnixMicro(micros), ID: u}, nil
}
