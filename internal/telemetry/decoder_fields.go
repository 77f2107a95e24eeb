package telemetry

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"
)

// decodeFields is the second pass over an event map: it decodes and checks
// the fields of ev.Kind, in a fixed order so the first error reported is
// stable. Keys that belong to other kinds are ignored like unknown keys.
func (d *decoder) decodeFields(ev *Event) error {
	for _, f := range [...]field{fAppID, fBuildID, fPlayerID} {
		if err := d.textField(f, true); err != nil {
			return err
		}
	}
	if err := d.eventID(); err != nil {
		return err
	}
	var err error
	switch ev.Kind {
	case KindPlayer:
		err = d.texts(fEventName, fRegion)
		if err == nil {
			ev.Timestamp, err = d.timeField(fTimestamp)
		}
		if err == nil {
			ev.Hardware, err = d.object(fHardware)
		}
	case KindFunnel:
		err = d.texts(fFunnelStepName, fSessionID, fLevelID)
		if err == nil {
			ev.Timestamp, err = d.timeField(fTimestamp)
		}
	case KindGameplay:
		err = d.texts(fEventName, fSessionID, fLevelID, fInputMethod)
		if err == nil {
			ev.Position, err = d.position()
		}
		if err == nil {
			ev.CustomData, err = d.object(fCustomData)
		}
		if err == nil {
			ev.Timestamp, err = d.timeField(fTimestamp)
		}
	case KindRealtime:
		// level_id is gamepipe's extension of the realtime kind
		// (docs/telemetry.md).
		err = d.texts(fSessionID, fLevelID, fStatus, fInputMethod)
		if err == nil {
			ev.Positions, err = d.positions()
		}
		if err == nil {
			ev.FPS, err = d.fps()
		}
		if err == nil {
			ev.TimestampStart, err = d.timeField(fTimestampStart)
		}
		if err == nil {
			ev.TimestampEnd, err = d.timeField(fTimestampEnd)
		}
		if err == nil && ev.TimestampEnd.Before(ev.TimestampStart) {
			err = newError(CodeInvalidField, "timestamp_end", "timestamp_end is before timestamp_start")
		}
	}
	return err
}

// optionalText lists the text fields that a kind may leave out.
const optionalText = 1<<fLevelID | 1<<fRegion | 1<<fInputMethod | 1<<fStatus

// texts reads the text fields fs of the event's kind.
func (d *decoder) texts(fs ...field) error {
	for _, f := range fs {
		if err := d.textField(f, optionalText&(1<<f) == 0); err != nil {
			return err
		}
	}
	return nil
}

// textField reads an id or name into d.text.
func (d *decoder) textField(f field, required bool) error {
	name := f.String()
	if d.vals[f] == 0 {
		if required {
			return newError(CodeMissingField, name, name+" is required")
		}
		return nil
	}
	d.r.off = d.vals[f]
	c := d.r.b[d.r.off]
	s, ok, err := d.r.str()
	switch {
	case err != nil:
		return withField(err.(*ValidationError), name)
	case !ok:
		return newError(CodeInvalidField, name, name+" must be a string, got "+typeName(c))
	case len(s) == 0 && required:
		return newError(CodeMissingField, name, name+" is required and must not be empty")
	case len(s) > d.lim.MaxStringLen:
		return newError(CodeTooLarge, name, fmt.Sprintf(
			"%s is %d bytes; the limit is %d", name, len(s), d.lim.MaxStringLen))
	}
	if msg := checkText(s); msg != "" {
		return newError(CodeInvalidField, name, name+" "+msg)
	}
	if f == fAppID && !subjectToken(s) {
		return newError(CodeInvalidField, name,
			"app_id must be printable ASCII without spaces, '.', '*' or '>'")
	}
	d.text[f] = s
	return nil
}

// subjectToken reports whether s can be one token of a NATS subject, which
// app_id becomes in telemetry.<app_id>.<kind>.
func subjectToken[S ~string | ~[]byte](s S) bool {
	for i := range len(s) {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '.' || c == '*' || c == '>' {
			return false
		}
	}
	return true
}

// eventID reads the optional client event_id as a UUID in canonical form.
func (d *decoder) eventID() error {
	const name = "event_id"
	if d.vals[fEventID] == 0 {
		return nil
	}
	d.r.off = d.vals[fEventID]
	c := d.r.b[d.r.off]
	s, ok, err := d.r.str()
	switch {
	case err != nil:
		return withField(err.(*ValidationError), name)
	case !ok:
		return newError(CodeInvalidField, name, "event_id must be a UUID string, got "+typeName(c))
	}
	u, err := uuid.ParseBytes(s)
	if err != nil {
		return newError(CodeInvalidField, name, "event_id must be a UUID like 0f8fad5b-d9cb-469f-a165-70867728950e")
	}
	if u == (uuid.UUID{}) {
		return newError(CodeInvalidField, name, "event_id must not be the nil UUID")
	}
	formatUUID(&d.id, u)
	d.hasID = true
	return nil
}

// formatUUID writes u in canonical lower-case form.
func formatUUID(dst *[36]byte, u [16]byte) {
	hex.Encode(dst[0:8], u[0:4])
	dst[8] = '-'
	hex.Encode(dst[9:13], u[4:6])
	dst[13] = '-'
	hex.Encode(dst[14:18], u[6:8])
	dst[18] = '-'
	hex.Encode(dst[19:23], u[8:10])
	dst[23] = '-'
	hex.Encode(dst[24:], u[10:])
}

// timeField reads a required timestamp: an ISO 8601 UTC string or a
// MessagePack timestamp extension.
func (d *decoder) timeField(f field) (time.Time, error) {
	name := f.String()
	if d.vals[f] == 0 {
		return time.Time{}, newError(CodeMissingField, name, name+" is required")
	}
	d.r.off = d.vals[f]
	c := d.r.b[d.r.off]
	var t time.Time
	var msg string
	if s, ok, err := d.r.str(); err != nil {
		return t, withField(err.(*ValidationError), name)
	} else if ok {
		t, msg = parseTimestamp(s)
	} else if typ, data, ok, err := d.r.ext(); err != nil {
		return t, withField(err.(*ValidationError), name)
	} else if ok && typ == timestampExt {
		t, msg = decodeTimestampExt(data)
	} else {
		msg = "must be " + timestampHint + ", got " + typeName(c)
	}
	if msg == "" && t.IsZero() {
		msg = "must not be the zero time 0001-01-01T00:00:00Z"
	}
	if msg != "" {
		return time.Time{}, newError(CodeInvalidField, name, name+" "+msg)
	}
	return t, nil
}

// number reads a finite number for the field path name.
func (d *decoder) number(name string) (float64, error) {
	c, err := d.r.peek()
	if err != nil {
		return 0, withField(err.(*ValidationError), name)
	}
	f, ok, err := d.r.number()
	switch {
	case err != nil:
		return 0, withField(err.(*ValidationError), name)
	case !ok:
		return 0, newError(CodeInvalidField, name, name+" must be a number, got "+typeName(c))
	case math.IsNaN(f) || math.IsInf(f, 0):
		return 0, newError(CodeInvalidField, name, name+" must be a finite number")
	}
	return f, nil
}

// position reads the optional gameplay [x, y, z].
func (d *decoder) position() (*[3]float64, error) {
	const name = "position"
	if d.vals[fPosition] == 0 {
		return nil, nil
	}
	d.r.off = d.vals[fPosition]
	c := d.r.b[d.r.off]
	if c&0xf0 != 0x90 && c != mpArray16 && c != mpArray32 {
		return nil, newError(CodeInvalidField, name, "position must be an array of 3 numbers, got "+typeName(c))
	}
	n, err := d.r.arrayLen(d.depth + 1)
	if err != nil {
		return nil, withField(err.(*ValidationError), name)
	}
	if n != 3 {
		return nil, newError(CodeInvalidField, name, fmt.Sprintf(
			"position must be an array of 3 numbers, got %d elements", n))
	}
	var p [3]float64
	for i, path := range [...]string{"position[0]", "position[1]", "position[2]"} {
		if p[i], err = d.number(path); err != nil {
			return nil, err
		}
	}
	return &p, nil
}

// object converts custom_data or hardware to compact JSON.
func (d *decoder) object(f field) ([]byte, error) {
	name := f.String()
	if d.vals[f] == 0 {
		return nil, nil
	}
	d.r.off = d.vals[f]
	if c := d.r.b[d.r.off]; c&0xf0 != 0x80 && c != mpMap16 && c != mpMap32 {
		return nil, newError(CodeInvalidField, name, name+" must be a map, got "+typeName(c))
	}
	js, err := d.r.appendJSON(d.scratch[:0], jsonLimit{max: d.lim.MaxCustomDataBytes}, d.depth+1)
	d.scratch = js
	if err != nil {
		ve := withField(err.(*ValidationError), name)
		if ve.Code == CodeTooLarge {
			ve.Field = name
		}
		ve.Message = ve.Field + " " + ve.Message
		return nil, ve
	}
	return bytes.Clone(js), nil
}
