package testutil

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/gamepipe/gamepipe/internal/telemetry"
)

// Event is a valid, decoded telemetry event of the kind for the app, with a
// fresh random id and player, every timestamp at at (truncated to the
// microsecond, as Postgres keeps it) and received at at. A test changes the
// fields it cares about on the copy it gets.
func Event(kind telemetry.Kind, appID string, at time.Time) telemetry.Event {
	at = at.UTC().Truncate(time.Microsecond)
	ev := telemetry.Event{
		ID: uuid.NewString(), Kind: kind, AppID: appID, BuildID: "Win64_Shipping_1.0.2",
		PlayerID: "player-" + uuid.NewString()[:8], ReceivedAt: at,
	}
	switch kind {
	case telemetry.KindPlayer:
		ev.EventName, ev.Region, ev.Timestamp = "Create_Player", "EU-West", at
		ev.Hardware = json.RawMessage(`{"gpu":"RTX 4090","ram":"32GB"}`)
	case telemetry.KindFunnel:
		ev.FunnelStepName, ev.SessionID, ev.LevelID, ev.Timestamp = "Tutorial_Start", "session-1", "Training_Grounds", at
	case telemetry.KindGameplay:
		ev.EventName, ev.SessionID, ev.LevelID, ev.InputMethod, ev.Timestamp = "Player_Jump", "session-1", "Level_1", "Gamepad", at
		ev.Position = &[3]float64{10.5, 0, -5.2}
		ev.CustomData = json.RawMessage(`{"ammo":10,"weapon":"Sword"}`)
	case telemetry.KindRealtime:
		ev.SessionID, ev.Status, ev.InputMethod = "session-1", "Gameplay", "Gamepad"
		ev.FPS = &telemetry.FPS{Mean: 60, Low5: 55, Low1: 30}
		ev.Positions = []float64{10, 0, 1, 10.1, 0, 1.1, 10.2, 0, 1.2}
		ev.TimestampStart, ev.TimestampEnd = at, at.Add(5*time.Second)
	}
	return ev
}

// Events is n events of Event's kind for the app, at at.
func Events(n int, kind telemetry.Kind, appID string, at time.Time) []telemetry.Event {
	out := make([]telemetry.Event, n)
	for i := range out {
		out[i] = Event(kind, appID, at)
	}
	return out
}
