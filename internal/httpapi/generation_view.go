package httpapi

import (
	"encoding/json"
	"time"

	"github.com/gamepipe/gamepipe/internal/store"
)

// generationInput is a generation's input: the create request's fields.
type generationInput struct {
	Model   string          `json:"model"`
	Input   json.RawMessage `json:"input"`
	Publish json.RawMessage `json:"publish,omitempty"`
}

// generationDetails are a generation's own progress fields.
type generationDetails struct {
	Progress    int16      `json:"progress"`
	WorkloadID  string     `json:"workload_id,omitempty"`
	DeadlineAt  time.Time  `json:"deadline_at"`
	CompletedAt *time.Time `json:"completed_at"`
}

// generationResult is what a generation made: the stored image and, with a
// publish request, the token.
type generationResult struct {
	ImageURL string     `json:"image_url"`
	Image    *imageView `json:"image"`
	Token    *tokenView `json:"token,omitempty"`
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

// newGenerationView is the generation as a job object; image URLs are
// absolute under publicBase when it is set, else relative. The result is
// null until the image is stored.
func newGenerationView(g *store.Generation, publicBase string) *jobView {
	in := &generationInput{Model: g.Model, Input: g.Input}
	if len(g.Publish) > 0 && string(g.Publish) != "null" {
		in.Publish = g.Publish
	}
	v := &jobView{
		ID: g.ID.String(), Kind: jobKindGeneration, Status: g.Status, Input: in,
		Details: &generationDetails{Progress: g.Progress, WorkloadID: g.WorkloadID, DeadlineAt: g.DeadlineAt.UTC(),
			CompletedAt: utcOrNil(g.CompletedAt)},
		Error:     newJobError(g.ErrorCode, g.ErrorMessage),
		CreatedAt: g.CreatedAt.UTC(), UpdatedAt: g.UpdatedAt.UTC(), FinishedAt: utcOrNil(g.FinishedAt),
	}
	if g.ImageKey != "" {
		res := &generationResult{ImageURL: publicBase + "/v1/generations/" + g.ID.String() + "/image",
			Image: &imageView{ContentType: g.ImageContentType, Size: g.ImageSize}}
		if g.TokenID != nil {
			res.Token = &tokenView{ID: *g.TokenID, Collection: g.TokenCollection, Published: g.TokenCreated && g.UploadDone}
		}
		v.Result = res
	}
	return v
}
