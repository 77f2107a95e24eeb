package kinetix

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

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

// normalizedSentinels is sentinels keyed by normalizeWord of the code.
var normalizedSentinels = func() map[string]error {
	m := make(map[string]error, len(sentinels))
	for code, s := range sentinels {
		m[normalizeWord(code)] = s
	}
	return m
}()

// errorFor turns a non-2xx answer into an error: the *upstream.Error, in
// its sentinel when the code names one. The code is matched leniently
// (case and separators ignored: "TOKEN_USED", "tokenUsed"). When there is
// no code, or one we do not know, the HTTP status and the route decide
// (statusSentinel); 429 and 5xx stay plain retryable errors.
func errorFor(op string, resp *http.Response) error {
	e := upstream.FromResponse(service, op, resp, parseErrorBody)
	if s, ok := normalizedSentinels[normalizeWord(e.Code)]; ok && e.Code != "" {
		return fmt.Errorf("%w: %w", s, e)
	}
	if s := statusSentinel(op, e.Status); s != nil {
		return fmt.Errorf("%w: %w", s, e)
	}
	return e
}

// statusSentinel is the sentinel an HTTP status implies on a route when
// the body names no code we know.
func statusSentinel(op string, status int) error {
	switch status {
	case http.StatusBadRequest:
		return ErrInvalidRequest
	case http.StatusUnauthorized:
		if op == "POST /v1/process" {
			return ErrInvalidToken // the key was accepted to get the token
		}
		return ErrInvalidAPIKey
	case http.StatusForbidden:
		if strings.HasSuffix(op, "/validate") || strings.HasSuffix(op, "/retake") {
			return ErrValidationFlowDisabled
		}
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusConflict:
		if op == "POST /v1/process" {
			return ErrTokenUsed
		}
		return ErrInvalidState
	case http.StatusRequestEntityTooLarge:
		return ErrVideoTooLarge
	}
	return nil
}

// parseErrorBody reads {"error": code, "message": text}, or a "code"
// field, or {"error": {"code", "message"}}.
func parseErrorBody(body []byte) (code, message string) {
	var b struct {
		Error   any    `json:"error"`
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &b) != nil {
		return "", ""
	}
	switch e := b.Error.(type) {
	case string:
		code = e
	case map[string]any:
		code, _ = e["code"].(string)
		if m, ok := e["message"].(string); ok && b.Message == "" {
			b.Message = m
		}
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
