package httpapi

import (
	"encoding/json"
	"time"

	"github.com/gamepipe/gamepipe/internal/store"
)

// generationView is a generation as the API shows it.
type generationView struct {
	ID         string          `json:"id"`
	Status     string          `json:"status"`
	Model      string          `json:"model"`
	Input      json.RawMessage `json:"input"`
	Publish    json.RawMessage `json:"publish,omitempty"`
	Progress   int16           `json:"progress"`
	ImageURL   string          `json:"image_url,omitempty"`
	Image      *imageView      `json:"image,omitempty"`
	Token      *tokenView      `json:"token,omitempty"`
	Error      *errorView      `json:"error,omitempty"`
	WorkloadID string          `json:"workload_id,omitempty"`
	DeadlineAt time.Time       `json:"deadline_at"`
	CreatedAt  time.Time       `json:"created_at"`
	UpdatedAt  time.Time       `json:"updated_at"`
	Completed  *time.Time      `json:"completed_at,omitempty"`
	Finished   *time.Time      `json:"finished_at,omitempty"`
}

type imageView struct {
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
}

// tokenView is the published token; Published is false while the chain is
// still running.
type tokenView struct {
	ID         string `json:"id"`
	Collection string `json:"collection"`
	Published  bool   `json:"published"`
}

type errorView struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// newGenerationView builds the view; image URLs are absolute under
// publicBase when it is set, else relative.
func newGenerationView(g *store.Generation, publicBase string) *generationView {
	v := &generationView{
		ID: g.ID.String(), Status: g.Status, Model: g.Model, Input: g.Input, Progress: g.Progress,
		WorkloadID: g.WorkloadID, DeadlineAt: g.DeadlineAt, CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt,
		Completed: g.CompletedAt, Finished: g.FinishedAt,
	}
	if len(g.Publish) > 0 && string(g.Publish) != "null" {
		v.Publish = g.Publish
	}
	if g.ImageKey != "" {
		v.ImageURL = publicBase + "/v1/generations/" + g.ID.String() + "/image"
		v.Image = &imageView{ContentType: g.ImageContentType, Size: g.ImageSize}
	}
	if g.TokenID != nil {
		v.Token = &tokenView{ID: *g.TokenID, Collection: g.TokenCollection, Published: g.TokenCreated && g.UploadDone}
	}
	if g.ErrorCode != "" {
		v.Error = &errorView{Code: g.ErrorCode, Message: g.ErrorMessage}
	}
	return v
}
