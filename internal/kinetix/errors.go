package kinetix

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/gamepipe/gamepipe/internal/upstream"
)

// Sentinels for the error codes of docs/upstreams-kinetix.md. The client's
// errors wrap both the sentinel and the *upstream.Error, so callers use
// errors.Is for the condition and upstream.IsRetryable or errors.As for the
// rest.
var (
	// ErrInvalidAPIKey: the x-api-key is missing or unknown (401).
	ErrInvalidAPIKey = errors.New("kinetix: invalid api key")
	// ErrInvalidToken: the x-api-token is missing or not a token of this
	// virtual world (401).
	ErrInvalidToken = errors.New("kinetix: invalid token")
	// ErrTokenExpired: the token is older than its 5 minutes (401).
	ErrTokenExpired = errors.New("kinetix: token expired")
	// ErrTokenUsed: the token already created a process (409); ask
	// TokenStatus which.
	ErrTokenUsed = errors.New("kinetix: token already used")
	// ErrNotFound: no such process or token for this key and user (404).
	ErrNotFound = errors.New("kinetix: not found")
	// ErrInvalidState: the process is not in a state that allows the call
	// (409), such as validating a process still processing.
	ErrInvalidState = errors.New("kinetix: invalid process state")
	// ErrValidationFlowDisabled: validate or retake on a virtual world
	// without the validation flow (403).
	ErrValidationFlowDisabled = errors.New("kinetix: validation flow disabled")
	// ErrUnsupportedVideo: the video is not one of the supported formats
	// (400).
	ErrUnsupportedVideo = errors.New("kinetix: unsupported video format")
	// ErrInvalidRequest: a field is missing or malformed (400).
	ErrInvalidRequest = errors.New("kinetix: invalid request")
	// ErrVideoTooLarge: the video exceeds the upstream's limit (413).
	ErrVideoTooLarge = errors.New("kinetix: video too large")
)

var sentinels = map[string]error{
	"missing_api_key":          ErrInvalidAPIKey,
	"invalid_api_key":          ErrInvalidAPIKey,
	"missing_token":            ErrInvalidToken,
	"invalid_token":            ErrInvalidToken,
	"token_expired":            ErrTokenExpired,
	"token_used":               ErrTokenUsed,
	"not_found":                ErrNotFound,
	"invalid_state":            ErrInvalidState,
	"validation_flow_disabled": ErrValidationFlowDisabled,
	"unsupported_video_format": ErrUnsupportedVideo,
	"invalid_request":          ErrInvalidRequest,
	"payload_too_large":        ErrVideoTooLarge,
}

// errorFor turns a non-2xx answer into an error: the *upstream.Error, in
// its sentinel when the code has one (or, for a body without a code, when
// the status alone says it: 404).
func errorFor(op string, resp *http.Response) error {
	e := upstream.FromResponse(service, op, resp, parseErrorBody)
	if s, ok := sentinels[e.Code]; ok {
		return fmt.Errorf("%w: %w", s, e)
	}
	if e.Code == "" && e.Status == http.StatusNotFound {
		return fmt.Errorf("%w: %w", ErrNotFound, e)
	}
	return e
}

// parseErrorBody reads {"error": code, "message": text}; a string "error"
// with no "message" is taken as the message.
func parseErrorBody(body []byte) (code, message string) {
	var b struct {
		Error   any    `json:"error"`
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &b) != nil {
		return "", ""
	}
	if s, ok := b.Error.(string); ok {
		code = s
	}
	if b.Code != "" {
		code = b.Code
	}
	return code, b.Message
}

// IsPermanent reports an error that retrying the same call cannot fix: a
// typed upstream answer other than 408, 425, 429 or 5xx.
func IsPermanent(err error) bool {
	var e *upstream.Error
	return errors.As(err, &e) && !e.Retryable()
}
