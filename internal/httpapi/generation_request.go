package httpapi

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/gamepipe/gamepipe/internal/jobs"
)

// generationRequest is a validated POST /v1/generations body.
type generationRequest struct {
	Model string `json:"model"`
	// Input holds the document's input fields, checked one by one.
	Input map[string]any `json:"input"`
	// Publish is nil when the image is not to be published.
	Publish *jobs.GeneraitivPublish `json:"publish,omitempty"`
}

// inputRule bounds one input field of POST /consumer/gen. The document
// shows the fields and one example value each; the bounds are ours
// (docs/upstreams-generaitiv.md), chosen to refuse nonsense early.
type inputRule struct {
	kind     string // string, number, integer, bool
	min, max float64
	multiple int
	enum     []string
	required bool
}

var inputRules = map[string]inputRule{
	"prompt":                 {kind: "string", min: 1, max: 2000, required: true},
	"prompt_strength":        {kind: "number", min: 0, max: 1},
	"refine":                 {kind: "string", enum: []string{"no_refiner", "expert_ensemble_refiner", "base_image_refiner"}},
	"scheduler":              {kind: "string", enum: []string{"DDIM", "DPMSolverMultistep", "HeunDiscrete", "KarrasDPM", "K_EULER_ANCESTRAL", "K_EULER", "PNDM"}},
	"disable_safety_checker": {kind: "bool"},
	"high_noise_frac":        {kind: "number", min: 0, max: 1},
	"lora_scale":             {kind: "number", min: 0, max: 1},
	"guidance_scale":         {kind: "number", min: 1, max: 50},
	"width":                  {kind: "integer", min: 128, max: 2048, multiple: 8},
	"height":                 {kind: "integer", min: 128, max: 2048, multiple: 8},
	"num_inference_steps":    {kind: "integer", min: 1, max: 150},
}

// inputNames are inputRules' names, sorted: the order fields are checked in.
var inputNames = slices.Sorted(maps.Keys(inputRules))

var (
	modelPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$`)
	// trainingIDPattern is a custom model's id; Generaitiv does not take
	// custom models yet (docs/upstreams-generaitiv.md).
	trainingIDPattern = regexp.MustCompile(`^0x[0-9a-fA-F]{64}$`)
	slugPattern       = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
)

func invalidField(field, format string, args ...any) *APIError {
	return &APIError{Status: http.StatusBadRequest, Code: "invalid_request", Message: fmt.Sprintf(format, args...), Field: field}
}

// decodeObject decodes one JSON object into raw fields, refusing fields
// not in allowed (named with prefix in the error).
func decodeObject(data []byte, prefix string, allowed ...string) (map[string]json.RawMessage, *APIError) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil || m == nil {
		field := strings.TrimSuffix(prefix, ".")
		return nil, invalidField(field, "%s must be a JSON object", cmp.Or(field, "the body"))
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(allowed, k) {
			return nil, invalidField(prefix+k, "unknown field %s%s", prefix, k)
		}
	}
	return m, nil
}

// parseGenerationRequest validates a request body; the error names the
// offending field.
func parseGenerationRequest(body []byte) (*generationRequest, *APIError) {
	top, apiErr := decodeObject(body, "", "model", "input", "publish")
	if apiErr != nil {
		return nil, apiErr
	}
	req := &generationRequest{Input: map[string]any{}}
	if err := json.Unmarshal(top["model"], &req.Model); err != nil || !modelPattern.MatchString(req.Model) {
		return nil, invalidField("model", "model is required: a model slug (letters, digits, . _ : / -, at most 200)")
	}
	if trainingIDPattern.MatchString(req.Model) {
		return nil, &APIError{Status: http.StatusBadRequest, Code: "custom_model_unsupported", Field: "model",
			Message: "model is a training id: Generaitiv does not support custom models yet; use a model slug"}
	}
	if top["input"] == nil {
		return nil, invalidField("input", "input is required")
	}
	in, apiErr := decodeObject(top["input"], "input.", inputNames...)
	if apiErr != nil {
		return nil, apiErr
	}
	for _, name := range inputNames {
		v, err := checkInput(name, inputRules[name], in[name])
		if err != nil {
			return nil, err
		}
		if v != nil {
			req.Input[name] = v
		}
	}
	if raw, ok := top["publish"]; ok && !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		pub, err := parsePublish(raw)
		if err != nil {
			return nil, err
		}
		req.Publish = pub
	}
	return req, nil
}

func checkInput(name string, rule inputRule, raw json.RawMessage) (any, *APIError) {
	field := "input." + name
	if raw == nil || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		if rule.required {
			return nil, invalidField(field, "%s is required", field)
		}
		return nil, nil
	}
	switch rule.kind {
	case "bool":
		var b bool
		if json.Unmarshal(raw, &b) != nil {
			return nil, invalidField(field, "%s must be true or false", field)
		}
		return b, nil
	case "string":
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, invalidField(field, "%s must be a string", field)
		}
		if rule.enum != nil {
			if !slices.Contains(rule.enum, s) {
				return nil, invalidField(field, "%s must be one of %s", field, strings.Join(rule.enum, ", "))
			}
			return s, nil
		}
		if n := utf8.RuneCountInString(strings.TrimSpace(s)); float64(n) < rule.min || float64(utf8.RuneCountInString(s)) > rule.max {
			return nil, invalidField(field, "%s must be %g to %g characters", field, rule.min, rule.max)
		}
		return s, nil
	default:
		var f float64
		if json.Unmarshal(raw, &f) != nil || math.IsNaN(f) {
			return nil, invalidField(field, "%s must be a number", field)
		}
		if f < rule.min || f > rule.max {
			return nil, invalidField(field, "%s must be between %g and %g", field, rule.min, rule.max)
		}
		if rule.kind == "integer" {
			if f != math.Trunc(f) {
				return nil, invalidField(field, "%s must be an integer", field)
			}
			if rule.multiple > 0 && int(f)%rule.multiple != 0 {
				return nil, invalidField(field, "%s must be a multiple of %d", field, rule.multiple)
			}
			return int(f), nil
		}
		return f, nil
	}
}

func parsePublish(raw json.RawMessage) (*jobs.GeneraitivPublish, *APIError) {
	m, apiErr := decodeObject(raw, "publish.", "collection", "name", "description", "attributes")
	if apiErr != nil {
		return nil, apiErr
	}
	pub := &jobs.GeneraitivPublish{}
	if json.Unmarshal(m["collection"], &pub.Collection) != nil || !slugPattern.MatchString(pub.Collection) {
		return nil, invalidField("publish.collection", "publish.collection must be a collection slug (letters, digits, . _ -, at most 128)")
	}
	if json.Unmarshal(m["name"], &pub.Name) != nil || strings.TrimSpace(pub.Name) == "" || utf8.RuneCountInString(pub.Name) > 200 {
		return nil, invalidField("publish.name", "publish.name is required, at most 200 characters")
	}
	if m["description"] != nil && (json.Unmarshal(m["description"], &pub.Description) != nil || utf8.RuneCountInString(pub.Description) > 2000) {
		return nil, invalidField("publish.description", "publish.description must be a string of at most 2000 characters")
	}
	if m["attributes"] != nil {
		var attrs []map[string]json.RawMessage
		if json.Unmarshal(m["attributes"], &attrs) != nil || len(attrs) > 50 {
			return nil, invalidField("publish.attributes", "publish.attributes must be a list of at most 50 {trait_type, value}")
		}
		for i, a := range attrs {
			field := fmt.Sprintf("publish.attributes[%d]", i)
			var attr jobs.GeneraitivAttribute
			if json.Unmarshal(a["trait_type"], &attr.TraitType) != nil || attr.TraitType == "" || len(attr.TraitType) > 100 || len(a) != 2 {
				return nil, invalidField(field, "%s must be {trait_type: a string of 1 to 100 characters, value}", field)
			}
			var s string
			var f float64
			switch {
			case json.Unmarshal(a["value"], &s) == nil && utf8.RuneCountInString(s) <= 200:
				attr.Value = s
			case json.Unmarshal(a["value"], &f) == nil:
				attr.Value = f
			default:
				return nil, invalidField(field+".value", "%s.value must be a string of at most 200 characters or a number", field)
			}
			pub.Attributes = append(pub.Attributes, attr)
		}
	}
	return pub, nil
}
