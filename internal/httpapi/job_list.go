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

// jobListQuery is what every job list reads from its query: status (one of
// the kind's statuses), limit (1 to 100, default 20) and cursor (a previous
// page's next_cursor).
type jobListQuery struct {
	Status store.JobStatus
	Limit  int
	After  *store.JobCursor
}

// parseJobListQuery reads and checks the list parameters shared by every
// kind; statuses are the kind's.
func parseJobListQuery(r *http.Request, statuses []store.JobStatus) (*jobListQuery, error) {
	q := r.URL.Query()
	out := &jobListQuery{Status: store.JobStatus(q.Get("status")), Limit: 20}
	if out.Status != "" && !out.Status.ValidFor(statuses) {
		names := make([]string, len(statuses))
		for i, s := range statuses {
			names[i] = string(s)
		}
		return nil, invalidQuery("status", "status must be one of "+strings.Join(names, ", "))
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return nil, invalidQuery("limit", "limit must be a number from 1 to 100")
		}
		out.Limit = n
	}
	if v := q.Get("cursor"); v != "" {
		if out.After = decodeJobCursor(v); out.After == nil {
			return nil, invalidQuery("cursor", "cursor is not one this API returned")
		}
	}
	return out, nil
}

func invalidQuery(field, message string) *APIError {
	return &APIError{Status: http.StatusBadRequest, Code: "invalid_query", Field: field, Message: message}
}

// nextCursor is the opaque next_cursor of a page, nil on the last one.
func nextCursor(c *store.JobCursor) *string {
	if c == nil {
		return nil
	}
	s := encodeJobCursor(c)
	return &s
}

// encodeJobCursor makes the opaque cursor: base64url of
// "<created_at unix microseconds>.<id>".
func encodeJobCursor(c *store.JobCursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.CreatedAt.UnixMicro(), 10) + "." + c.ID.String()))
}

// decodeJobCursor reads a cursor; nil when it is not one encodeJobCursor
// made.
func decodeJobCursor(s string) *store.JobCursor {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil
	}
	ts, id, ok := strings.Cut(string(raw), ".")
	if !ok {
		return nil
	}
	micros, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return nil
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return nil
	}
	return &store.JobCursor{CreatedAt: time.UnixMicro(micros), ID: u}
}
