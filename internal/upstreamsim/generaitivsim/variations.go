package generaitivsim

import (
	"encoding/json"
	"net/http"
)

// variedWriter marks a response of a simulator in variations mode: its
// JSON varies from the examples in ways the document leaves open
// (docs/upstreams-generaitiv.md).
type variedWriter struct {
	http.ResponseWriter
}

// Unwrap lets http.ResponseController and the websocket library reach the
// connection.
func (w *variedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// varied adds fields the examples do not have to an object answer, and to
// each object of its "result" list.
func varied(v any) any {
	raw, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return v // a list (the trainings) stays as it is
	}
	m["requestId"] = "sim-variation"
	if items, ok := m["result"].([]any); ok {
		for _, it := range items {
			if o, ok := it.(map[string]any); ok {
				o["chain_id"] = 1
				o["extra"] = map[string]any{"rank": 3, "tags": []string{"x"}}
			}
		}
	}
	return m
}
