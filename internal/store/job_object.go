package store

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// JobObject is a job as game servers see it, the same object for every kind
// (docs/jobs.md, "The job object"): GET, the creates, the actions, the
// lists, the events streams and the webhook payloads all carry it. Input is
// what the create request asked for, Details the kind's own progress,
// Result what the job made (null until there is something), Error why it
// stopped (null when none), and FinishedAt is null until an end state.
type JobObject struct {
	ID         string          `json:"id"`
	Kind       string          `json:"kind"`
	Status     JobStatus       `json:"status"`
	Input      any             `json:"input"`
	Details    any             `json:"details"`
	Result     any             `json:"result"`
	Error      *JobObjectError `json:"error"`
	CreatedAt  time.Time       `json:"created_at"`
	UpdatedAt  time.Time       `json:"updated_at"`
	FinishedAt *time.Time      `json:"finished_at"`
}

// The job kinds, as JobObject.Kind, the notification subjects and the
// webhook event types name them.
const (
	JobKindEmote      = "emote"
	JobKindGeneration = "generation"
)

// JobObjectError is why a job failed, timed out or was canceled, or why its
// last step was refused.
type JobObjectError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// newJobObjectError is the error, nil without a code.
func newJobObjectError(code, message string) *JobObjectError {
	if code == "" {
		return nil
	}
	return &JobObjectError{Code: code, Message: message}
}

// UTCOrNil is t in UTC, nil for a zero or nil time.
func UTCOrNil(t *time.Time) *time.Time {
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

// FormatEmoteClock writes milliseconds as "HH:MM:SS.mmm", as an emote's
// start and end are written in requests.
func FormatEmoteClock(ms int64) string {
	return fmt.Sprintf("%02d:%02d:%02d.%03d", ms/3_600_000, ms/60_000%60, ms/1000%60, ms%1000)
}

// emoteInput is an emote's input: the create request's fields.
type emoteInput struct {
	UserID string         `json:"user_id"`
	Name   string         `json:"name"`
	Start  string         `json:"start"`
	End    string         `json:"end"`
	Mature bool           `json:"mature"`
	Video  emoteVideoView `json:"video"`
}

type emoteVideoView struct {
	Size   int64  `json:"size"`
	Format string `json:"format"`
}

// emoteDetails are an emote's own progress fields: the upstream process,
// the validation flow and its retakes.
type emoteDetails struct {
	ProcessUUID          *string    `json:"process_uuid"`
	UpstreamStatus       string     `json:"upstream_status,omitempty"`
	ValidationFlow       bool       `json:"validation_flow"`
	VideoPending         bool       `json:"video_pending"`
	RetakeCount          int        `json:"retake_count"`
	PreviousProcessUUIDs []string   `json:"previous_process_uuids"`
	RetakeToken          string     `json:"retake_token,omitempty"`
	RetakeTokenExpiresAt *time.Time `json:"retake_token_expires_at,omitempty"`
}

// KinetixTokenTTL is how long an upstream token lives (the upstream's five
// minutes); it dates the retake token shown to the client.
const KinetixTokenTTL = 5 * time.Minute

// Object is the emote as a job object; its result is the upstream's emote,
// as stored.
func (e *Emote) Object() *JobObject {
	d := &emoteDetails{UpstreamStatus: e.UpstreamStatus, ValidationFlow: e.ValidationFlow,
		VideoPending: e.VideoPending, RetakeCount: e.RetakeCount, PreviousProcessUUIDs: []string{}}
	if e.ProcessUUID != uuid.Nil {
		p := e.ProcessUUID.String()
		d.ProcessUUID = &p
	}
	for _, p := range e.PreviousProcessUUIDs {
		d.PreviousProcessUUIDs = append(d.PreviousProcessUUIDs, p.String())
	}
	// The retake's token is the client's while the emote waits for its new
	// video (gamepipe uses it for that video).
	if e.Status == EmoteAwaitingVideo && e.Token != "" {
		exp := e.TokenCreatedAt.Add(KinetixTokenTTL).UTC()
		d.RetakeToken, d.RetakeTokenExpiresAt = e.Token, &exp
	}
	return &JobObject{
		ID: e.ID.String(), Kind: JobKindEmote, Status: e.Status,
		Input: &emoteInput{UserID: e.UserID, Name: e.Name, Start: FormatEmoteClock(e.StartMS), End: FormatEmoteClock(e.EndMS),
			Mature: e.Mature, Video: emoteVideoView{Size: e.VideoSize, Format: e.VideoFormat}},
		Details: d, Result: rawOrNil(e.Result), Error: newJobObjectError(e.ErrorCode, e.ErrorMessage),
		CreatedAt: e.CreatedAt.UTC(), UpdatedAt: e.UpdatedAt.UTC(), FinishedAt: UTCOrNil(&e.FinishedAt),
	}
}

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

// Object is the generation as a job object; image URLs are absolute under
// publicBase when it is set, else relative. The result is null until the
// image is stored.
func (g *Generation) Object(publicBase string) *JobObject {
	in := &generationInput{Model: g.Model, Input: g.Input}
	if len(g.Publish) > 0 && string(g.Publish) != "null" {
		in.Publish = g.Publish
	}
	v := &JobObject{
		ID: g.ID.String(), Kind: JobKindGeneration, Status: g.Status, Input: in,
		Details: &generationDetails{Progress: g.Progress, WorkloadID: g.WorkloadID, DeadlineAt: g.DeadlineAt.UTC(),
			CompletedAt: UTCOrNil(g.CompletedAt)},
		Error:     newJobObjectError(g.ErrorCode, g.ErrorMessage),
		CreatedAt: g.CreatedAt.UTC(), UpdatedAt: g.UpdatedAt.UTC(), FinishedAt: UTCOrNil(g.FinishedAt),
	}
	if g.ImageKey != "" {
		res := &generationResult{ImageURL: publicBase + generationImagePath(g.ID.String()),
			Image: &imageView{ContentType: g.ImageContentType, Size: g.ImageSize}}
		if g.TokenID != nil {
			res.Token = &tokenView{ID: *g.TokenID, Collection: g.TokenCollection, Published: g.TokenCreated && g.UploadDone}
		}
		v.Result = res
	}
	return v
}

// generationImagePath is where the api serves a generation's image,
// relative to its base URL.
func generationImagePath(id string) string { return "/v1/generations/" + id + "/image" }
