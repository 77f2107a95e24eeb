package generaitiv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gamepipe/gamepipe/internal/upstream"
)

// ErrCustomModelUnsupported is wrapped in the error of a generation the
// upstream refused because its model is a custom one (a training id): the
// document says custom models are not supported yet.
var ErrCustomModelUnsupported = errors.New("generaitiv: custom models are not supported yet")

// GenInput is the generation input the document shows. Nil fields are left
// to the upstream's defaults.
type GenInput struct {
	Prompt               string   `json:"prompt"`
	PromptStrength       *float64 `json:"prompt_strength,omitempty"`
	Refine               string   `json:"refine,omitempty"`
	Scheduler            string   `json:"scheduler,omitempty"`
	DisableSafetyChecker *bool    `json:"disable_safety_checker,omitempty"`
	HighNoiseFrac        *float64 `json:"high_noise_frac,omitempty"`
	LoraScale            *float64 `json:"lora_scale,omitempty"`
	GuidanceScale        *float64 `json:"guidance_scale,omitempty"`
	Width                *int     `json:"width,omitempty"`
	Height               *int     `json:"height,omitempty"`
	NumInferenceSteps    *int     `json:"num_inference_steps,omitempty"`
}

// GenRequest is the body of POST /consumer/gen.
type GenRequest struct {
	Input GenInput `json:"input"`
	// Model is a model slug or a training id.
	Model string `json:"model"`
	// Webhook, when set, is POSTed the result; otherwise follow the
	// websocket with the answer's WorkloadID and JWT.
	Webhook string `json:"webhook,omitempty"`
}

// GenResponse is the answer to POST /consumer/gen.
type GenResponse struct {
	// ID is the workload id.
	ID string `json:"id"`
	// WorkloadID and JWT are given when no webhook was: they open the
	// websocket.
	WorkloadID string `json:"workload_id,omitempty"`
	JWT        string `json:"jwt,omitempty"`
}

// Workload returns the workload id, whichever field carried it.
func (r *GenResponse) Workload() string {
	if r.WorkloadID != "" {
		return r.WorkloadID
	}
	return r.ID
}

// Generate starts a generation (POST /consumer/gen). 429 is retryable with
// its Retry-After; 402 (IsPaymentRequired) means the account needs a
// subscription.
func (c *Client) Generate(ctx context.Context, req *GenRequest) (*GenResponse, error) {
	var out GenResponse
	if err := c.do(ctx, "POST", "POST /consumer/gen", "consumer/gen", nil, req, &out); err != nil {
		if refusesCustomModel(err) {
			return nil, fmt.Errorf("%w (model %q): %w", ErrCustomModelUnsupported, req.Model, err)
		}
		return nil, err
	}
	return &out, nil
}

// refusesCustomModel reports a 4xx whose code or message speaks of custom
// models. The match is lenient (case, separators) since the document names
// no error code.
func refusesCustomModel(err error) bool {
	var ue *upstream.Error
	if !errors.As(err, &ue) || ue.Status < 400 || ue.Status >= 500 || ue.Status == http.StatusTooManyRequests {
		return false
	}
	return strings.Contains(normalizeWord(ue.Code+" "+ue.Message), "custommodel")
}

// normalizeWord lower-cases s and drops everything but letters and digits,
// so "CUSTOM_MODELS", "custom-model" and "Custom models" compare alike.
func normalizeWord(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Callback is the body of a generation webhook.
type Callback struct {
	// Status is COMPLETED or FAILED.
	Status string `json:"status"`
	// Link is the image, for COMPLETED.
	Link string `json:"link,omitempty"`
	// Message optionally explains a FAILED.
	Message string `json:"message,omitempty"`
}

// UnmarshalJSON reads a callback leniently: the status word in any case,
// and the failure's text from "message" or, failing that, a string
// "error".
func (cb *Callback) UnmarshalJSON(b []byte) error {
	var raw struct {
		Status  string          `json:"status"`
		Link    string          `json:"link"`
		Message string          `json:"message"`
		Error   json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*cb = Callback{Status: strings.ToUpper(strings.TrimSpace(raw.Status)), Link: raw.Link, Message: raw.Message}
	if cb.Message == "" {
		_ = json.Unmarshal(raw.Error, &cb.Message)
	}
	return nil
}

// Callback statuses.
const (
	CallbackCompleted = "COMPLETED"
	CallbackFailed    = "FAILED"
)
