package telemetry

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// kindCase mutates a valid event of a kind; an empty wantCode means the
// mutated event is still valid, and check (if any) inspects it.
type kindCase struct {
	name      string
	mutate    func(m map[string]any)
	wantCode  string
	wantField string
	check     func(t *testing.T, ev *Event)
}

func set(key string, v any) func(m map[string]any) {
	return func(m map[string]any) { m[key] = v }
}

func del(key string) func(m map[string]any) {
	return func(m map[string]any) { delete(m, key) }
}

func setIn(key, sub string, v any) func(m map[string]any) {
	return func(m map[string]any) { m[key].(map[string]any)[sub] = v }
}

func delIn(key, sub string) func(m map[string]any) {
	return func(m map[string]any) { delete(m[key].(map[string]any), sub) }
}

// commonCases apply to every kind.
func commonCases() []kindCase {
	return []kindCase{
		{name: "AppIDEmpty", mutate: set("app_id", ""), wantCode: CodeMissingField, wantField: "app_id"},
		{name: "AppIDMissing", mutate: del("app_id"), wantCode: CodeMissingField, wantField: "app_id"},
		{name: "AppIDNil", mutate: set("app_id", nil), wantCode: CodeMissingField, wantField: "app_id"},
		{name: "AppIDNotString", mutate: set("app_id", 42), wantCode: CodeInvalidField, wantField: "app_id"},
		{name: "AppIDSubjectUnsafe", mutate: set("app_id", "a.b"), wantCode: CodeInvalidField, wantField: "app_id"},
		{name: "AppIDTooLong", mutate: set("app_id", strings.Repeat("a", 257)), wantCode: CodeTooLarge, wantField: "app_id"},
		{name: "BuildIDBinary", mutate: set("build_id", []byte("x")), wantCode: CodeInvalidField, wantField: "build_id"},
		{name: "BuildIDMissing", mutate: del("build_id"), wantCode: CodeMissingField, wantField: "build_id"},
		{name: "EventIDInvalid", mutate: set("event_id", "not-a-uuid"), wantCode: CodeInvalidField, wantField: "event_id"},
		{name: "EventIDNilIsAbsent", mutate: set("event_id", nil),
			check: func(t *testing.T, ev *Event) { require.Equal(t, EventID(ev), ev.ID) }},
		{name: "EventIDNilUUID", mutate: set("event_id", "00000000-0000-0000-0000-000000000000"), wantCode: CodeInvalidField, wantField: "event_id"},
		{name: "EventIDNormalised", mutate: set("event_id", "0F8FAD5B-D9CB-469F-A165-70867728950E"),
			check: func(t *testing.T, ev *Event) { require.Equal(t, "0f8fad5b-d9cb-469f-a165-70867728950e", ev.ID) }},
		{name: "EventIDNotString", mutate: set("event_id", 7), wantCode: CodeInvalidField, wantField: "event_id"},
		{name: "PlayerIDInvalidUTF8", mutate: set("player_id", "\xff\xfe"), wantCode: CodeInvalidField, wantField: "player_id"},
		{name: "PlayerIDMissing", mutate: del("player_id"), wantCode: CodeMissingField, wantField: "player_id"},
		{name: "PlayerIDNUL", mutate: set("player_id", "a\x00b"), wantCode: CodeInvalidField, wantField: "player_id"},
		{name: "PlayerIDTooLongUnicode", mutate: set("player_id", strings.Repeat("é", 129)), wantCode: CodeTooLarge, wantField: "player_id"},
		{name: "UnknownKeysIgnored", mutate: set("extra", map[string]any{"deep": []any{1, "x", nil}}),
			check: func(t *testing.T, ev *Event) { require.Equal(t, docAppID, ev.AppID) }},
		{name: "Valid", mutate: func(map[string]any) {}},
	}
}

func TestDecodeKinds(t *testing.T) {
	t.Parallel()

	perKind := map[Kind][]kindCase{
		KindPlayer: {
			{name: "HardwareArray", mutate: set("hardware", []any{1}), wantCode: CodeInvalidField, wantField: "hardware"},
			{name: "HardwareNil", mutate: set("hardware", nil),
				check: func(t *testing.T, ev *Event) { require.Nil(t, ev.Hardware) }},
			{name: "HardwareTooLarge", mutate: setIn("hardware", "gpu", strings.Repeat("x", 17<<10)), wantCode: CodeTooLarge, wantField: "hardware"},
			{name: "RegionMissing", mutate: del("region"),
				check: func(t *testing.T, ev *Event) { require.Empty(t, ev.Region) }},
			{name: "RegionNumber", mutate: set("region", 3), wantCode: CodeInvalidField, wantField: "region"},
			{name: "TimestampMissing", mutate: del("timestamp"), wantCode: CodeMissingField, wantField: "timestamp"},
			{name: "TimestampNumber", mutate: set("timestamp", 1770890400), wantCode: CodeInvalidField, wantField: "timestamp"},
			{name: "TimestampOffset", mutate: set("timestamp", "2026-02-12T12:00:00+02:00"), wantCode: CodeInvalidField, wantField: "timestamp"},
		},
		KindFunnel: {
			{name: "FunnelStepNameNumber", mutate: set("funnel_step_name", 1), wantCode: CodeInvalidField, wantField: "funnel_step_name"},
			{name: "LevelIDMissing", mutate: del("level_id"),
				check: func(t *testing.T, ev *Event) { require.Empty(t, ev.LevelID) }},
			{name: "SessionIDMissing", mutate: del("session_id"), wantCode: CodeMissingField, wantField: "session_id"},
			{name: "TimestampNil", mutate: set("timestamp", nil), wantCode: CodeMissingField, wantField: "timestamp"},
			{name: "TimestampNoZone", mutate: set("timestamp", "2026-02-12T10:00:00"), wantCode: CodeInvalidField, wantField: "timestamp"},
		},
		KindGameplay: {
			{name: "CustomDataArray", mutate: set("custom_data", []any{1}), wantCode: CodeInvalidField, wantField: "custom_data"},
			{name: "CustomDataIntKey", mutate: set("custom_data", map[int]any{1: "x"}), wantCode: CodeInvalidField, wantField: "custom_data"},
			{name: "CustomDataNaN", mutate: setIn("custom_data", "ammo", math.NaN()), wantCode: CodeInvalidField, wantField: "custom_data.ammo"},
			{name: "CustomDataNested", mutate: setIn("custom_data", "buffs", []any{map[string]any{"n": "haste"}, true, nil}),
				check: func(t *testing.T, ev *Event) {
					require.JSONEq(t, `{"weapon":"Sword","ammo":10,"buffs":[{"n":"haste"},true,null]}`, string(ev.CustomData))
				}},
			{name: "CustomDataNestedInf", mutate: setIn("custom_data", "list", []any{1, map[string]any{"x": math.Inf(1)}}),
				wantCode: CodeInvalidField, wantField: "custom_data.list[1].x"},
			{name: "CustomDataTooLarge", mutate: setIn("custom_data", "blob", strings.Repeat("x", 16<<10)), wantCode: CodeTooLarge, wantField: "custom_data"},
			{name: "EventNameMissing", mutate: del("event_name"), wantCode: CodeUnknownEventType, wantField: "event_name"},
			{name: "EventNameNumber", mutate: set("event_name", 5), wantCode: CodeInvalidField, wantField: "event_name"},
			{name: "InputMethodMissing", mutate: del("input_method")},
			{name: "OtherKindsKeysIgnored", mutate: set("fps", "not a map"),
				check: func(t *testing.T, ev *Event) { require.Nil(t, ev.FPS) }},
			{name: "PositionFloat32", mutate: set("position", []float32{10.5, 0, -5.25}),
				check: func(t *testing.T, ev *Event) { require.Equal(t, &[3]float64{10.5, 0, -5.25}, ev.Position) }},
			{name: "PositionInfinite", mutate: set("position", []any{1, math.Inf(-1), 2}), wantCode: CodeInvalidField, wantField: "position[1]"},
			{name: "PositionInts", mutate: set("position", []any{int64(-3), uint64(4), int8(5)}),
				check: func(t *testing.T, ev *Event) { require.Equal(t, &[3]float64{-3, 4, 5}, ev.Position) }},
			{name: "PositionNil", mutate: set("position", nil),
				check: func(t *testing.T, ev *Event) { require.Nil(t, ev.Position) }},
			{name: "PositionString", mutate: set("position", "10,0,5"), wantCode: CodeInvalidField, wantField: "position"},
			{name: "PositionStringElement", mutate: set("position", []any{1, 2, "3"}), wantCode: CodeInvalidField, wantField: "position[2]"},
			{name: "PositionTwoNumbers", mutate: set("position", []any{1, 2}), wantCode: CodeInvalidField, wantField: "position"},
			{name: "SessionIDMissing", mutate: del("session_id"), wantCode: CodeMissingField, wantField: "session_id"},
			{name: "TimestampTooManyDigits", mutate: set("timestamp", "2026-02-12T10:00:00.1234567890Z"), wantCode: CodeInvalidField, wantField: "timestamp"},
		},
		KindRealtime: {
			{name: "EndBeforeStart", mutate: set("timestamp_end", "2026-02-12T09:59:59Z"), wantCode: CodeInvalidField, wantField: "timestamp_end"},
			{name: "EndEqualsStart", mutate: set("timestamp_end", docTime)},
			{name: "EventNameIgnored", mutate: set("event_name", 5),
				check: func(t *testing.T, ev *Event) { require.Empty(t, ev.EventName) }},
			{name: "FPSLow1String", mutate: setIn("fps", "low_1", "30"), wantCode: CodeInvalidField, wantField: "fps.low_1"},
			{name: "FPSLow5Missing", mutate: delIn("fps", "low_5"), wantCode: CodeMissingField, wantField: "fps.low_5"},
			{name: "FPSLow5Nil", mutate: setIn("fps", "low_5", nil), wantCode: CodeMissingField, wantField: "fps.low_5"},
			{name: "FPSMissing", mutate: del("fps"), wantCode: CodeMissingField, wantField: "fps"},
			{name: "FPSNotMap", mutate: set("fps", 60), wantCode: CodeInvalidField, wantField: "fps"},
			// level_id is gamepipe's extension for trajectories, checked as
			// on gameplay events; it is part of the derived event id.
			{name: "LevelID", mutate: set("level_id", "Level_2"),
				check: func(t *testing.T, ev *Event) {
					require.Equal(t, "Level_2", ev.LevelID)
					require.Equal(t, EventID(ev), ev.ID)
					without := *ev
					without.LevelID = ""
					require.NotEqual(t, EventID(&without), ev.ID)
				}},
			{name: "LevelIDEmpty", mutate: set("level_id", ""),
				check: func(t *testing.T, ev *Event) { require.Empty(t, ev.LevelID) }},
			{name: "LevelIDNUL", mutate: set("level_id", "a\x00"), wantCode: CodeInvalidField, wantField: "level_id"},
			{name: "LevelIDNumber", mutate: set("level_id", 2), wantCode: CodeInvalidField, wantField: "level_id"},
			{name: "LevelIDTooLong", mutate: set("level_id", strings.Repeat("l", 257)), wantCode: CodeTooLarge, wantField: "level_id"},
			{name: "PositionsEmpty", mutate: set("positions", []any{}), wantCode: CodeInvalidField, wantField: "positions"},
			{name: "PositionsMissing", mutate: del("positions"), wantCode: CodeMissingField, wantField: "positions"},
			{name: "PositionsNotTriples", mutate: set("positions", []any{1, 2, 3, 4}), wantCode: CodeInvalidField, wantField: "positions"},
			{name: "PositionsStringElement", mutate: set("positions", []any{1, 2, 3, 4, "5", 6}), wantCode: CodeInvalidField, wantField: "positions[4]"},
			{name: "PositionsTooMany", mutate: set("positions", make([]float32, 30003)), wantCode: CodeTooLarge, wantField: "positions"},
			{name: "SessionIDMissing", mutate: del("session_id"), wantCode: CodeMissingField, wantField: "session_id"},
			{name: "StatusMissing", mutate: del("status")},
			{name: "TimestampEndMissing", mutate: del("timestamp_end"), wantCode: CodeMissingField, wantField: "timestamp_end"},
			{name: "TimestampStartOnly", mutate: del("positions"), wantCode: CodeMissingField, wantField: "positions"},
		},
	}

	for _, kind := range Kinds {
		t.Run(strings.ToUpper(string(kind[:1]))+string(kind[1:]), func(t *testing.T) {
			t.Parallel()

			for _, tc := range append(commonCases(), perKind[kind]...) {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()

					m := docExample(kind)
					tc.mutate(m)
					body := pack(t, m)
					if tc.wantCode != "" {
						ve := decodeErr(t, body, nil)
						require.Equal(t, tc.wantCode, ve.Code, ve.Message)
						require.Equal(t, tc.wantField, ve.Field, ve.Message)
						require.Equal(t, -1, ve.Index)
						return
					}
					ev := decodeOne(t, body)
					require.Equal(t, kind, ev.Kind)
					if tc.check != nil {
						tc.check(t, &ev)
					}
				})
			}
		})
	}
}

func TestDecodeDocExamples(t *testing.T) {
	t.Parallel()

	at := time.Date(2026, 2, 12, 10, 0, 0, 0, time.UTC)
	want := map[Kind]Event{
		KindPlayer: {Kind: KindPlayer, AppID: docAppID, BuildID: docBuildID, PlayerID: "player_uuid",
			EventName: "Create_Player", Region: "EU-West", Hardware: json.RawMessage(`{"gpu":"RTX 4090","ram":"32GB"}`),
			Timestamp: at},
		KindFunnel: {Kind: KindFunnel, AppID: docAppID, BuildID: docBuildID, PlayerID: "player_uuid",
			FunnelStepName: "Tutorial_Start", SessionID: "session_uuid", LevelID: "Training_Grounds", Timestamp: at},
		KindGameplay: {Kind: KindGameplay, AppID: docAppID, BuildID: docBuildID, PlayerID: "player_uuid",
			EventName: "Player_Jump", SessionID: "session_uuid", LevelID: "Level_1", InputMethod: "Gamepad",
			Position: &[3]float64{10.5, 0, -5.2}, CustomData: json.RawMessage(`{"ammo":10,"weapon":"Sword"}`), Timestamp: at},
		KindRealtime: {Kind: KindRealtime, AppID: docAppID, BuildID: docBuildID, PlayerID: "player_uuid",
			SessionID: "session_uuid", Status: "Gameplay", InputMethod: "Gamepad", FPS: &FPS{Mean: 60, Low5: 55, Low1: 30},
			Positions:      []float64{10.0, 0.0, 1.0, 10.1, 0.0, 1.1, 10.2, 0.0, 1.2},
			TimestampStart: at, TimestampEnd: at.Add(5 * time.Second)},
	}
	for _, kind := range Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()

			ev := decodeOne(t, pack(t, docExample(kind))) // pack sorts keys: ammo before weapon
			w := want[kind]
			w.ID = EventID(&w)
			require.Equal(t, w, ev)
			require.True(t, ev.ReceivedAt.IsZero())
		})
	}
}

// TestDecodePythonExample encodes the document's Python example the way
// msgpack.packb(event, use_bin_type=True) does, with an isoformat() time.
func TestDecodePythonExample(t *testing.T) {
	t.Parallel()

	body := pack(t, orderedExample(KindGameplay,
		kv{"custom_data", om{{"weapon", "Sword"}, {"ammo", 10}}},
		kv{"timestamp", "2026-02-12T10:00:00.123456+00:00"}))
	ev := decodeOne(t, body)
	require.Equal(t, KindGameplay, ev.Kind)
	require.Equal(t, time.Date(2026, 2, 12, 10, 0, 0, 123456000, time.UTC), ev.Timestamp)
	require.Equal(t, `{"weapon":"Sword","ammo":10}`, string(ev.CustomData), "keys keep the order received")
	require.Equal(t, "Player_Jump", ev.EventName)
}

// TestDecodeUnityExample sends what MessagePack-CSharp makes of the Unity
// example: float32 positions and DateTime.ToString("o") with 7 digits.
func TestDecodeUnityExample(t *testing.T) {
	t.Parallel()

	body := pack(t, orderedExample(KindGameplay,
		kv{"position", []float32{10.5, 0, -5.2}},
		kv{"timestamp", "2026-02-12T10:00:00.1234567Z"}))
	ev := decodeOne(t, body)
	require.Equal(t, KindGameplay, ev.Kind)
	require.Equal(t, float64(float32(-5.2)), ev.Position[2])
	require.Equal(t, 123456700, ev.Timestamp.Nanosecond())
}
