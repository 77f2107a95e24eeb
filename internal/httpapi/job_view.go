package httpapi

import (
	"github.com/gamepipe/gamepipe/internal/store"
)

// jobView is a job as the API shows it, the same object for every kind
// (docs/jobs.md, "The job object"; store.JobObject, which the webhook
// payloads and the app's events stream carry too).
type jobView = store.JobObject

// jobPage is a list answer; next_cursor is null on the last page.
type jobPage struct {
	Data       []*jobView `json:"data"`
	NextCursor *string    `json:"next_cursor"`
}
