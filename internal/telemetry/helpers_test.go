package telemetry

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
)

// Shared values of the ingestion document's examples.
const (
	docAppID   = "72ab8f81-ef36-4712-a046-399a62b9afaa"
	docBuildID = "Win64_Shipping_1.0.2"
	docTime    = "2026-02-12T10:00:00Z"
)

// docExample returns a fresh copy of the document's example payload for a
// kind, as a map the tests can mutate.
func docExample(kind Kind) map[string]any {
	m := map[string]any{
		"app_id":    docAppID,
		"build_id":  docBuildID,
		"player_id": "player_uuid",
	}
	switch kind {
	case KindPlayer:
		m["event_name"] = "Create_Player"
		m["region"] = "EU-West"
		m["hardware"] = map[string]any{"gpu": "RTX 4090", "ram": "32GB"}
		m["timestamp"] = docTime
	case KindFunnel:
		m["funnel_step_name"] = "Tutorial_Start"
		m["session_id"] = "session_uuid"
		m["level_id"] = "Training_Grounds"
		m["timestamp"] = docTime
	case KindGameplay:
		m["event_name"] = "Player_Jump"
		m["session_id"] = "session_uuid"
		m["level_id"] = "Level_1"
		m["position"] = []any{10.5, 0.0, -5.2}
		m["custom_data"] = map[string]any{"weapon": "Sword", "ammo": 10}
		m["input_method"] = "Gamepad"
		m["timestamp"] = docTime
	case KindRealtime:
		m["session_id"] = "session_uuid"
		m["status"] = "Gameplay"
		m["input_method"] = "Gamepad"
		m["fps"] = map[string]any{"mean": 60, "low_5": 55, "low_1": 30}
		m["positions"] = []any{10.0, 0.0, 1.0, 10.1, 0.0, 1.1, 10.2, 0.0, 1.2}
		m["timestamp_start"] = docTime
		m["timestamp_end"] = "2026-02-12T10:00:05Z"
	}
	return m
}

// pack encodes v as MessagePack, with map keys sorted so bodies are
// deterministic, and ints in their smallest form, as msgpack-python does.
func pack(tb testing.TB, v any) []byte {
	tb.Helper()
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.SetSortMapKeys(true)
	require.NoError(tb, enc.Encode(v))
	return buf.Bytes()
}

// om is an ordered map, for bodies whose key order or duplicate keys
// matter. Keys may be any type.
type om []kv

type kv struct {
	K, V any
}

// EncodeMsgpack writes the pairs in order.
func (m om) EncodeMsgpack(enc *msgpack.Encoder) error {
	if err := enc.EncodeMapLen(len(m)); err != nil {
		return err
	}
	for _, p := range m {
		if err := enc.Encode(p.K); err != nil {
			return err
		}
		if err := enc.Encode(p.V); err != nil {
			return err
		}
	}
	return nil
}

// orderedExample is docExample as an om in a fixed key order, with
// overrides replacing or appending keys.
func orderedExample(kind Kind, overrides ...kv) om {
	m := docExample(kind)
	keys := []string{"event_name", "funnel_step_name", "app_id", "build_id", "player_id", "session_id",
		"level_id", "region", "hardware", "position", "custom_data", "input_method", "status", "fps",
		"positions", "timestamp", "timestamp_start", "timestamp_end"}
	var out om
	for _, k := range keys {
		if v, ok := m[k]; ok {
			out = append(out, kv{k, v})
		}
	}
	for _, o := range overrides {
		replaced := false
		for i := range out {
			if out[i].K == o.K {
				out[i].V, replaced = o.V, true
			}
		}
		if !replaced {
			out = append(out, o)
		}
	}
	return out
}

// decodeErr decodes body and returns its *ValidationError, failing the test
// when there is none.
func decodeErr(t *testing.T, body []byte, lim *Limits) *ValidationError {
	t.Helper()
	evs, err := Decode(body, lim, nil)
	require.Error(t, err)
	require.Empty(t, evs)
	ve, ok := AsValidationError(err)
	require.True(t, ok, "error %v is not a *ValidationError", err)
	require.NotEmpty(t, ve.Message)
	return ve
}

// decodeOne decodes a body holding a single event.
func decodeOne(t *testing.T, body []byte) Event {
	t.Helper()
	evs, err := Decode(body, nil, nil)
	require.NoError(t, err)
	require.Len(t, evs, 1)
	return evs[0]
}
