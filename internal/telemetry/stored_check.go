package telemetry

import (
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"
)

// checkStored returns a message when ev breaks an invariant that every
// event from Decode holds; see UnmarshalStored.
func checkStored(ev *Event) string { return checkEvent(ev, true) }

// checkEvent is checkStored, leaving out the check that every number is
// finite when numbers is false (the caller has made it).
func checkEvent(ev *Event, numbers bool) string {
	if !ev.Kind.Valid() {
		return "kind " + strings.ToValidUTF8(string(ev.Kind), "?") + " is not a known kind"
	}
	if !isCanonicalUUID(ev.ID) {
		return "id is not a lower-case canonical UUID"
	}
	for f, s := range textFields(ev) {
		if !utf8.ValidString(*s) || strings.IndexByte(*s, 0) >= 0 {
			return field(f).String() + " is not valid UTF-8 text without NUL"
		}
	}
	if !subjectToken(ev.AppID) {
		return "app_id is not a valid subject token"
	}
	required := uint32(1<<fAppID | 1<<fBuildID | 1<<fPlayerID)
	var times [2]time.Time // required timestamps, checked for zero below
	switch ev.Kind {
	case KindPlayer:
		required |= 1 << fEventName
		times = [2]time.Time{ev.Timestamp, ev.Timestamp}
	case KindFunnel:
		required |= 1<<fFunnelStepName | 1<<fSessionID
		times = [2]time.Time{ev.Timestamp, ev.Timestamp}
	case KindGameplay:
		required |= 1<<fEventName | 1<<fSessionID
		times = [2]time.Time{ev.Timestamp, ev.Timestamp}
	case KindRealtime:
		required |= 1 << fSessionID
		times = [2]time.Time{ev.TimestampStart, ev.TimestampEnd}
		switch {
		case len(ev.Positions) == 0 || len(ev.Positions)%3 != 0:
			return "positions must be non-empty triples"
		case ev.FPS == nil:
			return "fps is required"
		case ev.TimestampEnd.Before(ev.TimestampStart):
			return "timestamp_end is before timestamp_start"
		}
	}
	for f, s := range textFields(ev) {
		if required&(1<<f) != 0 && *s == "" {
			return field(f).String() + " is required"
		}
	}
	if times[0].IsZero() || times[1].IsZero() {
		return "a required timestamp is missing"
	}
	for _, t := range [...]time.Time{ev.Timestamp, ev.TimestampStart, ev.TimestampEnd, ev.ReceivedAt} {
		if t.Before(minTime) || t.After(maxTime) {
			return "a time is outside years 0001-9999"
		}
	}
	if numbers && (!finite(ev.Positions) || ev.Position != nil && !finite(ev.Position[:]) ||
		ev.FPS != nil && !finite([]float64{ev.FPS.Mean, ev.FPS.Low5, ev.FPS.Low1})) {
		return "a number is NaN or infinite"
	}
	for _, js := range [...]json.RawMessage{ev.Hardware, ev.CustomData} {
		if len(js) > 0 && (js[0] != '{' || !json.Valid(js)) {
			return "hardware and custom_data must be JSON objects"
		}
	}
	return ""
}

// finite reports whether no number in fs is NaN or infinite: f-f is 0 for
// every finite f and NaN (!= 0) for NaN and ±Inf, one test instead of two.
func finite(fs []float64) bool {
	for _, f := range fs {
		if f-f != 0 {
			return false
		}
	}
	return true
}

// isCanonicalUUID reports whether s is a UUID in lower-case canonical form.
func isCanonicalUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		}
	}
	return true
}
