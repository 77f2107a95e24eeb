// Package telemetry is the ingestion API's domain: the four event kinds of the
// telemetry Developer API, bounded MessagePack decoding and validation of
// request bodies, the canonical encoding that travels on the TELEMETRY stream,
// and the deterministic event id. It is pure: no I/O. The contract is
// docs/telemetry.md.
//
// The request decoder is hand-written rather than vmihailenco/msgpack's,
// which the rest of gamepipe uses, for two reasons. Safety: it checks every
// length prefix against the bytes actually present before it allocates, and
// bounds depth, strings and collections, so a 5-byte body cannot claim 4
// billion elements (msgpack's generic decoder allocates from the prefix).
// Speed: it decodes straight into the typed events with fast paths for runs
// of numbers (trajectory positions), which the benchmarks in this package
// measure at a third of the generic path's time; TestReaderMatchesMsgpack
// keeps it in agreement with the library.
package telemetry

import (
	"encoding/json"
	"strings"
	"time"
)

// Kind is the inferred type of an event. Its string form is the last token of
// the JetStream subject telemetry.<app_id>.<kind>.
type Kind string

// The four event kinds of the ingestion document.
const (
	KindPlayer   Kind = "player"   // Player Identity (Create_Player)
	KindFunnel   Kind = "funnel"   // Funnel Step
	KindGameplay Kind = "gameplay" // Gameplay Event
	KindRealtime Kind = "realtime" // Realtime Trajectory
)

// Kinds lists every kind, in a stable order: Kind.Index's.
var Kinds = []Kind{KindPlayer, KindFunnel, KindGameplay, KindRealtime}

// NumKinds is len(Kinds), for arrays indexed by Kind.Index.
const NumKinds = 4

// Index is k's position in Kinds, or -1 for a kind that is not valid.
func (k Kind) Index() int {
	switch k {
	case KindPlayer:
		return 0
	case KindFunnel:
		return 1
	case KindGameplay:
		return 2
	case KindRealtime:
		return 3
	}
	return -1
}

// Valid reports whether k is one of the four kinds.
func (k Kind) Valid() bool { return k.Index() >= 0 }

// FPS is a realtime trajectory's frame-rate summary.
type FPS struct {
	Mean float64 `msgpack:"mean" json:"mean"`
	Low5 float64 `msgpack:"low_5" json:"low_5"`
	Low1 float64 `msgpack:"low_1" json:"low_1"`
}

// Event is one validated telemetry event of any kind. Fields that a kind does
// not use are zero. It is the canonical form: what the API publishes (see
// MarshalStored), what the sink writes and the exporter prints.
type Event struct {
	// ID is the event id: the client's event_id (a UUID, lower case) or, when
	// absent, the deterministic id derived from the canonical event (EventID).
	ID   string `msgpack:"id" json:"id"`
	Kind Kind   `msgpack:"kind" json:"kind"`

	AppID    string `msgpack:"app_id" json:"app_id"`
	BuildID  string `msgpack:"build_id,omitempty" json:"build_id,omitempty"`
	PlayerID string `msgpack:"player_id" json:"player_id"`

	// EventName is set for player ("Create_Player") and gameplay events.
	EventName string `msgpack:"event_name,omitempty" json:"event_name,omitempty"`
	// FunnelStepName is set for funnel events.
	FunnelStepName string `msgpack:"funnel_step_name,omitempty" json:"funnel_step_name,omitempty"`

	SessionID   string `msgpack:"session_id,omitempty" json:"session_id,omitempty"`
	LevelID     string `msgpack:"level_id,omitempty" json:"level_id,omitempty"`
	Region      string `msgpack:"region,omitempty" json:"region,omitempty"`
	InputMethod string `msgpack:"input_method,omitempty" json:"input_method,omitempty"`
	Status      string `msgpack:"status,omitempty" json:"status,omitempty"`

	// Hardware (player) and CustomData (gameplay) are kept as compact JSON
	// objects, converted from MessagePack at validation time, so the sink can
	// write them to jsonb and the exporter can print them as they are.
	Hardware   json.RawMessage `msgpack:"hardware,omitempty" json:"hardware,omitempty"`
	CustomData json.RawMessage `msgpack:"custom_data,omitempty" json:"custom_data,omitempty"`

	// Position is a gameplay event's [x, y, z].
	Position *[3]float64 `msgpack:"position,omitempty" json:"position,omitempty"`
	// Positions is a realtime trajectory's flat [x,y,z,x,y,z,...] array.
	Positions []float64 `msgpack:"positions,omitempty" json:"positions,omitempty"`
	FPS       *FPS      `msgpack:"fps,omitempty" json:"fps,omitempty"`

	// Timestamp is set for player, funnel and gameplay events;
	// TimestampStart and TimestampEnd for realtime trajectories. All UTC.
	Timestamp      time.Time `msgpack:"timestamp,omitempty" json:"timestamp,omitzero"`
	TimestampStart time.Time `msgpack:"timestamp_start,omitempty" json:"timestamp_start,omitzero"`
	TimestampEnd   time.Time `msgpack:"timestamp_end,omitempty" json:"timestamp_end,omitzero"`

	// ReceivedAt is when the API accepted the event. It is not part of the
	// canonical event used for the deterministic id.
	ReceivedAt time.Time `msgpack:"received_at" json:"received_at"`
}

// OccurredAt is the client's time for the event: Timestamp, or for a realtime
// trajectory its TimestampStart. Telemetry tables are partitioned by it.
func (e *Event) OccurredAt() time.Time {
	if e.Kind == KindRealtime {
		return e.TimestampStart
	}
	return e.Timestamp
}

// Subject is the JetStream subject the event is published on.
func (e *Event) Subject() string {
	return Subject(e.AppID, e.Kind)
}

// HasSubject reports whether subject is e.Subject(), without building it.
func (e *Event) HasSubject(subject string) bool {
	rest, ok := strings.CutPrefix(subject, "telemetry.")
	if !ok {
		return false
	}
	if rest, ok = strings.CutPrefix(rest, e.AppID); !ok {
		return false
	}
	return rest == "."+string(e.Kind)
}

// Subject names the TELEMETRY stream subject for an app and kind.
func Subject(appID string, kind Kind) string {
	return "telemetry." + appID + "." + string(kind)
}
