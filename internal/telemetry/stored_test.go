package telemetry

import (
	"bytes"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
)

// decodedExamples returns the document's examples as decoded events, with
// ReceivedAt stamped as the API would.
func decodedExamples(t *testing.T) []Event {
	t.Helper()
	var evs []Event
	for _, kind := range Kinds {
		ev := decodeOne(t, pack(t, docExample(kind)))
		ev.ReceivedAt = time.Date(2026, 2, 12, 10, 0, 1, 42, time.UTC)
		evs = append(evs, ev)
	}
	return evs
}

func TestStoredRoundTrip(t *testing.T) {
	t.Parallel()

	for _, ev := range decodedExamples(t) {
		b, err := MarshalStored(&ev)
		require.NoError(t, err)
		var got Event
		require.NoError(t, UnmarshalStored(b, &got))
		require.Equal(t, ev, got)

		prefixed, err := AppendStored([]byte("prefix"), &ev)
		require.NoError(t, err)
		require.Equal(t, append([]byte("prefix"), b...), prefixed)
	}

	// So does a trajectory's level_id (docs/telemetry.md's extension).
	m := docExample(KindRealtime)
	m["level_id"] = "Level_2"
	rt := decodeOne(t, pack(t, m))
	b, err := MarshalStored(&rt)
	require.NoError(t, err)
	var back Event
	require.NoError(t, UnmarshalStored(b, &back))
	require.Equal(t, "Level_2", back.LevelID)
	require.Equal(t, rt, back)

	// A zero ReceivedAt survives too.
	ev := decodedExamples(t)[0]
	ev.ReceivedAt = time.Time{}
	b, err = MarshalStored(&ev)
	require.NoError(t, err)
	var got Event
	require.NoError(t, UnmarshalStored(b, &got))
	require.Equal(t, ev, got)
}

// TestStoredMsgpackInterop checks that msgpack/v5 reads and writes the
// stored encoding, for any consumer that uses it directly.
func TestStoredMsgpackInterop(t *testing.T) {
	t.Parallel()

	for _, ev := range decodedExamples(t) {
		b, err := MarshalStored(&ev)
		require.NoError(t, err)
		var viaLib Event
		require.NoError(t, msgpack.Unmarshal(b, &viaLib))
		for _, tm := range []*time.Time{&viaLib.Timestamp, &viaLib.TimestampStart, &viaLib.TimestampEnd, &viaLib.ReceivedAt} {
			*tm = tm.UTC() // msgpack/v5 returns local times
		}
		require.Equal(t, ev, viaLib)

		b, err = msgpack.Marshal(&ev)
		require.NoError(t, err)
		var fromLib Event
		require.NoError(t, UnmarshalStored(b, &fromLib))
		require.Equal(t, ev, fromLib)
	}
}

func TestAppendStoredRefusesInvalid(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		mutate func(ev *Event)
	}{
		{"AppIDMissing", func(ev *Event) { ev.AppID = "" }},
		{"AppIDSubject", func(ev *Event) { ev.AppID = "a>b" }},
		{"CustomDataArray", func(ev *Event) { ev.CustomData = []byte(`[1]`) }},
		{"CustomDataInvalid", func(ev *Event) { ev.CustomData = []byte(`{"a":`) }},
		{"IDMissing", func(ev *Event) { ev.ID = "" }},
		{"IDUpperCase", func(ev *Event) { ev.ID = "0F8FAD5B-D9CB-469F-A165-70867728950E" }},
		{"KindUnknown", func(ev *Event) { ev.Kind = "session" }},
		{"PositionNaN", func(ev *Event) { ev.Position = &[3]float64{math.NaN(), 0, 0} }},
		{"SessionIDMissing", func(ev *Event) { ev.SessionID = "" }},
		{"TextNUL", func(ev *Event) { ev.LevelID = "a\x00" }},
		{"TimestampMissing", func(ev *Event) { ev.Timestamp = time.Time{} }},
		{"TimestampYear10000", func(ev *Event) { ev.Timestamp = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			ev := decodedExamples(t)[2] // gameplay
			tc.mutate(&ev)
			b, err := AppendStored([]byte("x"), &ev)
			require.ErrorIs(t, err, ErrInvalidStored)
			require.Equal(t, []byte("x"), b)
		})
	}
}

func TestUnmarshalStoredGarbage(t *testing.T) {
	t.Parallel()

	good, err := MarshalStored(&decodedExamples(t)[3]) // realtime
	require.NoError(t, err)
	var asMap map[string]any
	require.NoError(t, msgpack.Unmarshal(good, &asMap))
	with := func(key string, v any) []byte {
		m := map[string]any{}
		for k, v := range asMap {
			m[k] = v
		}
		if v == nil {
			delete(m, key)
		} else {
			m[key] = v
		}
		return pack(t, m)
	}

	tests := map[string][]byte{
		"Array":              pack(t, []any{1}),
		"Empty":              nil,
		"FPSMissingLow1":     with("fps", map[string]any{"mean": 1, "low_5": 1}),
		"IDMissing":          with("id", nil),
		"JSON":               []byte(`{"id":"x"}`),
		"KindBinary":         with("kind", []byte("realtime")),
		"KindUnknown":        with("kind", "other"),
		"Nil":                {0xc0},
		"PositionsNaN":       with("positions", []any{1, 2, math.NaN()}),
		"PositionsNotTriple": with("positions", []any{1, 2}),
		"PositionsBomb":      with("positions", msgpack.RawMessage{0xdd, 0xff, 0xff, 0xff, 0xff}),
		"ReceivedAtString":   with("received_at", "2026-02-12T10:00:00Z"),
		"TimestampEndEarly":  with("timestamp_end", time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)),
		"Trailing":           append(append([]byte{}, good...), 0xc0),
		"Truncated":          good[:len(good)-3],
		"Map32Bomb":          {0xdf, 0xff, 0xff, 0xff, 0xff},
		"Nested":             with("extra", msgpack.RawMessage(bytes.Repeat([]byte{0x91}, 10000))),
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()

			ev := Event{AppID: "stale"}
			err := UnmarshalStored(b, &ev)
			require.ErrorIs(t, err, ErrInvalidStored)
			_, isValidation := AsValidationError(err)
			require.False(t, isValidation, "stored errors are not client errors")
			require.Equal(t, Event{}, ev)
		})
	}

	t.Run("UnknownKeysAndNilsIgnored", func(t *testing.T) {
		t.Parallel()

		var ev Event
		require.NoError(t, UnmarshalStored(with("future_field", map[string]any{"a": []any{1}}), &ev))
		require.NoError(t, UnmarshalStored(with("region", msgpack.RawMessage{0xc0}), &ev))
		require.Empty(t, ev.Region)
	})

	t.Run("ErrorsWrap", func(t *testing.T) {
		t.Parallel()

		err := UnmarshalStored([]byte{0x01}, new(Event))
		require.True(t, errors.Is(err, ErrInvalidStored))
		require.Contains(t, err.Error(), "error decoding stored event")
	})
}
