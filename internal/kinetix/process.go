package kinetix

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ProcessStatus is an upstream process status (docs/upstreams-kinetix.md).
type ProcessStatus string

// The process statuses.
const (
	StatusPending            ProcessStatus = "pending"
	StatusProcessing         ProcessStatus = "processing"
	StatusAwaitingValidation ProcessStatus = "awaiting_validation"
	StatusDone               ProcessStatus = "done"
	StatusFailed             ProcessStatus = "failed"
	StatusRejected           ProcessStatus = "rejected"
)

// Working reports a process still generating: pending, processing, or a
// status word this client does not know, which it treats as still running
// until the caller's deadline rather than as a failure.
func (s ProcessStatus) Working() bool {
	switch s {
	case StatusAwaitingValidation, StatusDone, StatusFailed, StatusRejected:
		return false
	}
	return true
}

// processSynonyms maps other words a service may use for our statuses
// (after normalizeWord) to them.
var processSynonyms = map[string]ProcessStatus{
	"completed": StatusDone, "complete": StatusDone, "succeeded": StatusDone, "success": StatusDone,
	"finished": StatusDone, "error": StatusFailed, "errored": StatusFailed,
	"awaitingvalidation": StatusAwaitingValidation, "pendingvalidation": StatusAwaitingValidation,
}

// UnmarshalJSON reads a status word leniently: case, spaces, hyphens and
// underscores do not matter, and a few synonyms map to our words. Any
// other word is kept as it came (Working then reports true).
func (s *ProcessStatus) UnmarshalJSON(b []byte) error {
	var w string
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	n := normalizeWord(w)
	for _, known := range []ProcessStatus{StatusPending, StatusProcessing, StatusAwaitingValidation, StatusDone, StatusFailed, StatusRejected} {
		if normalizeWord(string(known)) == n {
			*s = known
			return nil
		}
	}
	if syn, ok := processSynonyms[n]; ok {
		*s = syn
		return nil
	}
	*s = ProcessStatus(w)
	return nil
}

// UnmarshalJSON reads a token status leniently, like ProcessStatus.
func (s *TokenState) UnmarshalJSON(b []byte) error {
	var w string
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	n := normalizeWord(w)
	for _, known := range []TokenState{TokenUnused, TokenUsed, TokenExpired} {
		if normalizeWord(string(known)) == n {
			*s = known
			return nil
		}
	}
	*s = TokenState(w)
	return nil
}

// normalizeWord lower-cases s and keeps only letters and digits, so that
// "TOKEN_USED", "tokenUsed" and "token-used" compare alike.
func normalizeWord(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Process is an ML process.
type Process struct {
	UUID           string        `json:"uuid"`
	UserID         string        `json:"userId"`
	Name           string        `json:"name"`
	Mature         bool          `json:"mature"`
	Start          string        `json:"start"`
	End            string        `json:"end"`
	Status         ProcessStatus `json:"status"`
	Progress       int           `json:"progress"`
	ValidationFlow bool          `json:"validationFlow"`
	Validated      bool          `json:"validated"`
	RetakeOf       string        `json:"retakeOf"`
	// Emote is the generated emote, once there is one.
	Emote *Emote `json:"emote"`
	// Error says why a failed process failed.
	Error     *ProcessError `json:"error"`
	CreatedAt time.Time     `json:"createdAt"`
}

// Emote is a generated emote. Raw keeps the upstream's JSON whole, unknown
// fields included.
type Emote struct {
	UUID         string          `json:"uuid"`
	Name         string          `json:"name"`
	AnimationURL string          `json:"animationUrl"`
	ThumbnailURL string          `json:"thumbnailUrl"`
	Duration     float64         `json:"duration"`
	Raw          json.RawMessage `json:"-"`
}

// UnmarshalJSON keeps the raw object as well as the known fields.
func (e *Emote) UnmarshalJSON(b []byte) error {
	type plain Emote
	if err := json.Unmarshal(b, (*plain)(e)); err != nil {
		return err
	}
	e.Raw = append(json.RawMessage(nil), b...)
	return nil
}

// ProcessError is why a process failed.
type ProcessError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// TokenState is a token's status.
type TokenState string

// The token statuses.
const (
	TokenUnused  TokenState = "unused"
	TokenUsed    TokenState = "used"
	TokenExpired TokenState = "expired"
)

// Token is a process token (the answer of the token, retake and token
// status routes). It is a credential: never log it.
type Token struct {
	Token     string     `json:"token"`
	UserID    string     `json:"userId"`
	Status    TokenState `json:"status"`
	ExpiresAt time.Time  `json:"expiresAt"`
	// ProcessUUID is the process a used token created.
	ProcessUUID string `json:"processUuid"`
	// RetakeOf is the process a retake token retakes.
	RetakeOf string `json:"retakeOf"`
}

// CreateToken is GET /v1/process/token: a token for the user, usable once
// for five minutes to create a process.
func (c *Client) CreateToken(ctx context.Context, userID string) (*Token, error) {
	var t Token
	if err := c.call(ctx, c.userRequest("GET /v1/process/token", "/v1/process/token", userID), &t); err != nil {
		return nil, err
	}
	t.UserID = c.localUserID(t.UserID)
	return &t, nil
}

// TokenStatus is GET /v1/process/token/{token}: whether the token is
// unused, used (and by which process) or expired. The document lists the
// token among the headers as well: it is sent in both places.
func (c *Client) TokenStatus(ctx context.Context, token, userID string) (*Token, error) {
	var t Token
	req := c.userRequest("GET /v1/process/token/{token}", "/v1/process/token/"+url.PathEscape(token), userID)
	req.header = http.Header{"Token": {token}}
	if err := c.call(ctx, req, &t); err != nil {
		return nil, err
	}
	t.UserID = c.localUserID(t.UserID)
	return &t, nil
}

// Process is GET /v1/process/{uuid}.
func (c *Client) Process(ctx context.Context, uuid string) (*Process, error) {
	var p Process
	req := &request{op: "GET /v1/process/{uuid}", method: http.MethodGet, path: "/v1/process/" + url.PathEscape(uuid)}
	if err := c.call(ctx, req, &p); err != nil {
		return nil, err
	}
	p.UserID = c.localUserID(p.UserID)
	return &p, nil
}

// Validate is POST /v1/process/{uuid}/validate: the player keeps the
// emote, which becomes available (validation flow only).
func (c *Client) Validate(ctx context.Context, uuid string) (*Process, error) {
	var p Process
	if err := c.call(ctx, uuidPost("POST /v1/process/{uuid}/validate", uuid, "validate"), &p); err != nil {
		return nil, err
	}
	p.UserID = c.localUserID(p.UserID)
	return &p, nil
}

// Retake is POST /v1/process/{uuid}/retake: the player rejects the emote;
// the answer is a new token to create the next process with (validation
// flow only).
func (c *Client) Retake(ctx context.Context, uuid string) (*Token, error) {
	var t Token
	if err := c.call(ctx, uuidPost("POST /v1/process/{uuid}/retake", uuid, "retake"), &t); err != nil {
		return nil, err
	}
	t.UserID = c.localUserID(t.UserID)
	return &t, nil
}

// uuidPost sends the uuid in the path and, as the document lists it, in a
// JSON body.
func uuidPost(op, uuid, action string) *request {
	body, _ := json.Marshal(map[string]string{"uuid": uuid})
	return &request{op: op, method: http.MethodPost, path: "/v1/process/" + url.PathEscape(uuid) + "/" + action,
		body: bytes.NewReader(body), length: int64(len(body))}
}
