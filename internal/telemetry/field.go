package telemetry

import "strconv"

// field is a known key of an event map. The text fields come first, in the
// order of the canonical encoding (see EventID), so that a field below
// numText indexes the decoder's text views and textFields directly.
type field uint8

const (
	fAppID field = iota
	fBuildID
	fPlayerID
	fEventName
	fFunnelStepName
	fSessionID
	fLevelID
	fRegion
	fInputMethod
	fStatus
	fEventID
	fHardware
	fCustomData
	fPosition
	fPositions
	fFPS
	fTimestamp
	fTimestampStart
	fTimestampEnd
	numFields

	numText = int(fEventID)
)

// fieldNames are the request keys, by field.
var fieldNames = [numFields]string{
	fAppID:          "app_id",
	fBuildID:        "build_id",
	fPlayerID:       "player_id",
	fEventName:      "event_name",
	fFunnelStepName: "funnel_step_name",
	fSessionID:      "session_id",
	fLevelID:        "level_id",
	fRegion:         "region",
	fInputMethod:    "input_method",
	fStatus:         "status",
	fEventID:        "event_id",
	fHardware:       "hardware",
	fCustomData:     "custom_data",
	fPosition:       "position",
	fPositions:      "positions",
	fFPS:            "fps",
	fTimestamp:      "timestamp",
	fTimestampStart: "timestamp_start",
	fTimestampEnd:   "timestamp_end",
}

func (f field) String() string {
	if f < numFields {
		return fieldNames[f]
	}
	return "field" + strconv.Itoa(int(f))
}

// lookupField maps a request key to its field. The switch on string(key)
// does not allocate.
func lookupField(key []byte) (field, bool) {
	switch string(key) {
	case "app_id":
		return fAppID, true
	case "build_id":
		return fBuildID, true
	case "player_id":
		return fPlayerID, true
	case "event_name":
		return fEventName, true
	case "funnel_step_name":
		return fFunnelStepName, true
	case "session_id":
		return fSessionID, true
	case "level_id":
		return fLevelID, true
	case "region":
		return fRegion, true
	case "input_method":
		return fInputMethod, true
	case "status":
		return fStatus, true
	case "event_id":
		return fEventID, true
	case "hardware":
		return fHardware, true
	case "custom_data":
		return fCustomData, true
	case "position":
		return fPosition, true
	case "positions":
		return fPositions, true
	case "fps":
		return fFPS, true
	case "timestamp":
		return fTimestamp, true
	case "timestamp_start":
		return fTimestampStart, true
	case "timestamp_end":
		return fTimestampEnd, true
	}
	return 0, false
}

// textFields returns pointers to ev's text fields, indexed by field.
func textFields(ev *Event) [numText]*string {
	return [numText]*string{
		fAppID:          &ev.AppID,
		fBuildID:        &ev.BuildID,
		fPlayerID:       &ev.PlayerID,
		fEventName:      &ev.EventName,
		fFunnelStepName: &ev.FunnelStepName,
		fSessionID:      &ev.SessionID,
		fLevelID:        &ev.LevelID,
		fRegion:         &ev.Region,
		fInputMethod:    &ev.InputMethod,
		fStatus:         &ev.Status,
	}
}
