package kinetixsim

import (
	"encoding/json"
	"net/http"
	"strings"
)

// variedWriter marks a response of a simulator in variations mode: the
// JSON it writes varies from our own choices in ways the document leaves
// open (docs/upstreams-kinetix.md).
type variedWriter struct {
	http.ResponseWriter
}

// Unwrap lets http.ResponseController reach the connection.
func (w *variedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// variedStatus holds the status words of variations mode: other words for
// the working states, other casing for the rest.
var variedStatus = map[string]string{
	StatusPending:            "Queued",
	StatusProcessing:         "RUNNING",
	StatusAwaitingValidation: "AWAITING_VALIDATION",
	StatusDone:               "Done",
	StatusFailed:             "FAILED",
	StatusRejected:           "Rejected",
	TokenUnused:              "UNUSED",
	TokenUsed:                "Used",
	TokenExpired:             "EXPIRED",
}

// varied rewrites an answer: its status word varied, and fields our
// choices do not have.
func varied(v any) any {
	raw, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return v // not an object
	}
	if s, ok := m["status"].(string); ok {
		if alt, ok := variedStatus[s]; ok {
			m["status"] = alt
		}
	}
	m["apiVersion"] = "2025-01"
	m["_meta"] = map[string]any{"region": "eu-west", "trace": []string{"a", "b"}}
	return m
}

// variedError is an error body in another shape: the status echoed, the
// code in upper case under "code", and no code at all for the answers the
// HTTP status already explains (not found, a conflict of state).
func variedError(status int, code, msg string) map[string]any {
	b := map[string]any{"statusCode": status, "message": msg}
	if code != "not_found" && code != "invalid_state" {
		b["code"] = strings.ToUpper(code)
	}
	return b
}
