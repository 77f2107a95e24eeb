package httpapi

import (
	"encoding/json"
	"time"

	"github.com/gamepipe/gamepipe/internal/store"
)

// jobView is a job as the API shows it, the same object for every kind
// (docs/jobs.md, "The job object"): GET, the creates, the actions, the
// lists and the events streams all answer it. input is what the create
// request asked for, details the kind's own progress, result what the job
// made (null until there is something), error why it stopped (null when
// none), and finished_at is null until an end state.
type jobView struct {
	ID         string          `json:"id"`
	Kind       string          `json:"kind"`
	Status     store.JobStatus `json:"status"`
	Input      any             `json:"input"`
	Details    any             `json:"details"`
	Result     any             `json:"result"`
	Error      *jobErrorView   `json:"error"`
	CreatedAt  time.Time       `json:"created_at"`
	UpdatedAt  time.Time       `json:"updated_at"`
	FinishedAt *time.Time      `json:"finished_at"`
}

// The job kinds, as jobView.Kind and the notification subjects name them.
const (
	jobKindEmote      = "emote"
	jobKindGeneration = "generation"
)

// jobErrorView is why a job failed, timed out or was canceled, or why its
// last step was refused.
type jobErrorView struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// jobPage is a list answer; next_cursor is null on the last page.
type jobPage struct {
	Data       []*jobView `json:"data"`
	NextCursor *string    `json:"next_cursor"`
}

// newJobError is the error view, nil without a code.
func newJobError(code, message string) *jobErrorView {
	if code == "" {
		return nil
	}
	return &jobErrorView{Code: code, Message: message}
}

// utcOrNil is t in UTC, nil for a zero or nil time.
func utcOrNil(t *time.Time) *time.Time {
	if t == nil || t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// rawOrNil is b, nil (JSON null) when empty.
func rawOrNil(b json.RawMessage) any {
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	return b
}
