package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ModelAlignment places a level's telemetry in its model's space
// (docs/dashboard.md, "Levels"): a telemetry point p is drawn at
// R(UpAxis)·(Scale·p) + Offset, R the identity for "y" and
// (x, y, z) → (x, z, −y) for "z". Each model version has its own.
type ModelAlignment struct {
	// UpAxis is the telemetry's up axis: "y" or "z".
	UpAxis string `json:"up_axis"`
	// Scale is the model's units per telemetry unit; positive.
	Scale float64 `json:"scale"`
	// Offset is added after scaling and rotating, in model units.
	Offset [3]float64 `json:"offset"`
}

// DefaultAlignment is a model's alignment until one is set: y up, scale 1,
// no offset.
func DefaultAlignment() ModelAlignment {
	return ModelAlignment{UpAxis: "y", Scale: 1}
}

// FieldError is a value a store function refuses, naming its field.
// An empty Field means the value as a whole (a body that is not a JSON
// object, say).
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Validate reports the first field that is not allowed, as a *FieldError.
func (a *ModelAlignment) Validate() error {
	switch {
	case a.UpAxis != "y" && a.UpAxis != "z":
		return &FieldError{Field: "up_axis", Message: `must be "y" or "z"`}
	case !(a.Scale > 0) || math.IsInf(a.Scale, 0):
		return &FieldError{Field: "scale", Message: "must be a positive finite number"}
	}
	for _, v := range a.Offset {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return &FieldError{Field: "offset", Message: "must be three finite numbers [x, y, z]"}
		}
	}
	return nil
}

// UnmarshalJSON reads {"up_axis":…, "scale":…, "offset":[x, y, z]}. A field
// left out keeps its default (DefaultAlignment), so the object replaces a
// model's alignment whole; an unknown field, a null, a number JSON cannot
// hold as a float64 (1e999) or an offset of other than three numbers is a
// *FieldError naming the field.
func (a *ModelAlignment) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil || raw == nil {
		return &FieldError{Message: alignmentBody}
	}
	out := DefaultAlignment()
	// Fields in name order, so that the field named is the same for the
	// same body.
	names := make([]string, 0, len(raw))
	for k := range raw {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := raw[k]
		switch k {
		case "up_axis":
			if err := json.Unmarshal(v, &out.UpAxis); err != nil || isNull(v) {
				return &FieldError{Field: k, Message: `must be "y" or "z"`}
			}
		case "scale":
			f, ok := jsonNumber(v)
			if !ok {
				return &FieldError{Field: k, Message: "must be a positive finite number"}
			}
			out.Scale = f
		case "offset":
			var parts []json.RawMessage
			if err := json.Unmarshal(v, &parts); err != nil || len(parts) != 3 {
				return &FieldError{Field: k, Message: "must be three finite numbers [x, y, z]"}
			}
			for i, p := range parts {
				f, ok := jsonNumber(p)
				if !ok {
					return &FieldError{Field: k, Message: "must be three finite numbers [x, y, z]"}
				}
				out.Offset[i] = f
			}
		default:
			return &FieldError{Field: k, Message: "unknown field; the fields are up_axis, scale and offset"}
		}
	}
	if err := out.Validate(); err != nil {
		return err
	}
	*a = out
	return nil
}

// DecodeAlignment reads one alignment object from r, and nothing after it.
// Every error is a *FieldError: one naming a field, or (Field empty) one
// about the body as a whole.
func DecodeAlignment(r io.Reader) (ModelAlignment, error) {
	var a ModelAlignment
	dec := json.NewDecoder(r)
	err := dec.Decode(&a)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			err = errors.New("data after the JSON object")
		}
	}
	var fe *FieldError
	switch {
	case err == nil:
		return a, nil
	case errors.As(err, &fe) && fe.Field != "":
		return a, fe
	}
	return a, &FieldError{Message: alignmentBody}
}

// alignmentBody describes the body that sets an alignment.
const alignmentBody = `the body must be one JSON object {"up_axis":"y"|"z","scale":<positive number>,"offset":[x,y,z]}`

// jsonNumber reads a JSON number (not a string, not null) that fits a
// float64.
func jsonNumber(v json.RawMessage) (float64, bool) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || (v[0] != '-' && (v[0] < '0' || v[0] > '9')) {
		return 0, false
	}
	var f float64
	if err := json.Unmarshal(v, &f); err != nil {
		return 0, false
	}
	return f, true
}

func isNull(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) == "null" }

// Alignment is the model's alignment as stored.
func (m *LevelModel) Alignment() ModelAlignment {
	a := ModelAlignment{UpAxis: m.UpAxis, Scale: m.Scale}
	copy(a.Offset[:], m.Offset)
	return a
}

// LevelModelSetAlignmentParams name one of an app's models and its new
// alignment.
type LevelModelSetAlignmentParams struct {
	AppID     uuid.UUID
	ID        uuid.UUID
	Alignment ModelAlignment
}

// LevelModelSetAlignment replaces a model's alignment and returns the
// model: a *FieldError for an alignment Validate refuses, ErrNotFound for
// an id that is not one of the app's models. Every route that sets an
// alignment goes through it.
func LevelModelSetAlignment(ctx context.Context, db DBTX, params *LevelModelSetAlignmentParams) (*LevelModel, error) {
	a := params.Alignment
	if err := a.Validate(); err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, `UPDATE level_models SET up_axis = $3, scale = $4, offset_xyz = $5
		WHERE id = $1 AND app_id = $2
		RETURNING `+levelModelColumns, params.ID, params.AppID, a.UpAxis, a.Scale, a.Offset[:])
	if err != nil {
		return nil, fmt.Errorf("error setting the alignment of model %s: %w", params.ID, err)
	}
	m, err := pgx.CollectExactlyOneRow(rows, pgx.RowToAddrOfStructByName[LevelModel])
	if err != nil {
		return nil, fmt.Errorf("error setting the alignment of model %s: %w", params.ID, mapErr(err))
	}
	return m, nil
}

// LevelModelsByLevelParams select the latest versions of each of an app's
// levels.
type LevelModelsByLevelParams struct {
	AppID uuid.UUID
	// PerLevel is how many versions of each level, the newest first.
	PerLevel int
}

// LevelModelsByLevel lists the newest PerLevel versions of each of the
// app's levels, by level_name, then version, the newest first.
func LevelModelsByLevel(ctx context.Context, db DBTX, params *LevelModelsByLevelParams) ([]LevelModel, error) {
	rows, err := db.Query(ctx, `SELECT `+levelModelColumns+` FROM (
			SELECT m.*, row_number() OVER (PARTITION BY m.level_name ORDER BY m.version DESC) AS rn
			FROM level_models m WHERE m.app_id = $1
		) m
		WHERE m.rn <= $2
		ORDER BY m.level_name, m.version DESC`, params.AppID, params.PerLevel)
	if err != nil {
		return nil, fmt.Errorf("error listing models of app %s by level: %w", params.AppID, err)
	}
	models, err := pgx.CollectRows(rows, pgx.RowToStructByName[LevelModel])
	if err != nil {
		return nil, fmt.Errorf("error listing models of app %s by level: %w", params.AppID, err)
	}
	return models, nil
}
