package telemetry

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
)

func TestDecodeBatch(t *testing.T) {
	t.Parallel()

	batch := func(n int) []any {
		items := make([]any, n)
		for i := range items {
			items[i] = docExample(Kinds[i%len(Kinds)])
		}
		return items
	}

	t.Run("Empty", func(t *testing.T) {
		t.Parallel()

		ve := decodeErr(t, pack(t, []any{}), nil)
		require.Equal(t, ValidationError{Index: -1, Code: CodeBatchEmpty, Message: ve.Message}, *ve)
	})

	t.Run("Item37MissingAppID", func(t *testing.T) {
		t.Parallel()

		items := batch(50)
		delete(items[37].(map[string]any), "app_id")
		ve := decodeErr(t, pack(t, items), nil)
		require.Equal(t, 37, ve.Index)
		require.Equal(t, "app_id", ve.Field)
		require.Equal(t, CodeMissingField, ve.Code)
		require.Equal(t, "event 37: app_id is required (missing_field)", ve.Error())
	})

	t.Run("ItemNotMap", func(t *testing.T) {
		t.Parallel()

		items := batch(3)
		items[1] = []any{docExample(KindPlayer)}
		ve := decodeErr(t, pack(t, items), nil)
		require.Equal(t, ValidationError{Index: 1, Code: CodeInvalidField, Message: ve.Message}, *ve)
	})

	t.Run("Mixed", func(t *testing.T) {
		t.Parallel()

		evs, err := Decode(pack(t, batch(8)), nil, nil)
		require.NoError(t, err)
		require.Len(t, evs, 8)
		for i, ev := range evs {
			require.Equal(t, Kinds[i%len(Kinds)], ev.Kind)
		}
	})

	t.Run("ReusesDst", func(t *testing.T) {
		t.Parallel()

		dst := make([]Event, 1, 10)
		dst[0].AppID = "kept"
		evs, err := Decode(pack(t, batch(4)), nil, dst)
		require.NoError(t, err)
		require.Len(t, evs, 5)
		require.Equal(t, "kept", evs[0].AppID)
		require.Same(t, &dst[0], &evs[0])

		items := batch(4)
		delete(items[3].(map[string]any), "player_id")
		evs, err = Decode(pack(t, items), nil, evs[:1])
		require.Error(t, err)
		require.Len(t, evs, 1, "all or nothing: nothing appended")
		require.Equal(t, "kept", evs[0].AppID)
	})

	t.Run("TooLarge", func(t *testing.T) {
		t.Parallel()

		ve := decodeErr(t, pack(t, batch(4)), &Limits{MaxBatch: 3})
		require.Equal(t, ValidationError{Index: -1, Code: CodeBatchTooLarge, Message: ve.Message}, *ve)
		ve = decodeErr(t, pack(t, batch(501)), nil)
		require.Equal(t, CodeBatchTooLarge, ve.Code)
	})
}

func TestDecodeBody(t *testing.T) {
	t.Parallel()

	valid := pack(t, docExample(KindGameplay))

	tests := []struct {
		name      string
		body      []byte
		wantCode  string
		wantField string
		wantMsg   string
	}{
		{"DuplicateKey", pack(t, append(orderedExample(KindFunnel), kv{"app_id", "other"})), CodeInvalidField, "app_id", "duplicate"},
		{"Empty", nil, CodeEmptyBody, "", "empty"},
		{"JSONArray", []byte(`[{"app_id":"x"}]`), CodeInvalidMsgpack, "", "JSON"},
		{"JSONObject", []byte(`{"app_id":"x"}`), CodeInvalidMsgpack, "", "JSON"},
		{"NonStringKey", pack(t, append(orderedExample(KindFunnel), kv{1, "x"})), CodeInvalidField, "", "keys must be strings"},
		{"ReservedByte", pack(t, append(orderedExample(KindFunnel), kv{"extra", msgpack.RawMessage{0xc1}})), CodeInvalidMsgpack, "extra", "0xc1"},
		{"Scalar", pack(t, "hello"), CodeInvalidMsgpack, "", "map or an array"},
		{"TrailingBytes", append(append([]byte{}, valid...), 0x00), CodeInvalidMsgpack, "", "unexpected bytes"},
		{"Truncated", valid[:len(valid)-1], CodeInvalidMsgpack, "timestamp", "truncated"},
		{"UnknownType", pack(t, map[string]any{"app_id": docAppID}), CodeUnknownEventType, "event_name", "infer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			ve := decodeErr(t, tc.body, nil)
			require.Equal(t, tc.wantCode, ve.Code, ve.Message)
			require.Equal(t, tc.wantField, ve.Field)
			require.Equal(t, -1, ve.Index)
			require.Contains(t, ve.Message, tc.wantMsg)
		})
	}
}

func TestDecodeDepth(t *testing.T) {
	t.Parallel()

	// nested returns n nested maps; the outermost is custom_data itself.
	nested := func(n int) any {
		var v any = "leaf"
		for range n {
			v = map[string]any{"k": v}
		}
		return v
	}
	// A single event is level 1, custom_data level 2: 31 maps reach level 32.
	ev := decodeOne(t, pack(t, orderedExample(KindGameplay, kv{"custom_data", nested(31)})))
	require.Equal(t, strings.Repeat(`{"k":`, 31)+`"leaf"`+strings.Repeat("}", 31), string(ev.CustomData))

	ve := decodeErr(t, pack(t, orderedExample(KindGameplay, kv{"custom_data", nested(32)})), nil)
	require.Equal(t, CodeTooDeep, ve.Code)
	require.Equal(t, "custom_data", ve.Field)

	// In a batch the event is one level deeper.
	ve = decodeErr(t, pack(t, []any{orderedExample(KindGameplay, kv{"custom_data", nested(31)})}), nil)
	require.Equal(t, CodeTooDeep, ve.Code)
	require.Equal(t, 0, ve.Index)

	// Unknown keys are bounded too.
	ve = decodeErr(t, pack(t, orderedExample(KindGameplay, kv{"junk", nested(40)})), nil)
	require.Equal(t, ValidationError{Index: -1, Field: "junk", Code: CodeTooDeep, Message: ve.Message}, *ve)

	ve = decodeErr(t, pack(t, orderedExample(KindGameplay, kv{"custom_data", nested(4)})), &Limits{MaxDepth: 4})
	require.Equal(t, CodeTooDeep, ve.Code)
}

func TestDecodeLimits(t *testing.T) {
	t.Parallel()

	lim := &Limits{MaxStringLen: 8, MaxCustomDataBytes: 20, MaxPositions: 6}
	ve := decodeErr(t, pack(t, docExample(KindFunnel)), lim)
	require.Equal(t, ValidationError{Index: -1, Field: "app_id", Code: CodeTooLarge, Message: ve.Message}, *ve)

	long := &Limits{MaxStringLen: 64, MaxCustomDataBytes: 20}
	ve = decodeErr(t, pack(t, docExample(KindGameplay)), long)
	require.Equal(t, ValidationError{Index: -1, Field: "custom_data", Code: CodeTooLarge, Message: ve.Message}, *ve)

	ve = decodeErr(t, pack(t, docExample(KindRealtime)), &Limits{MaxPositions: 6})
	require.Equal(t, ValidationError{Index: -1, Field: "positions", Code: CodeTooLarge, Message: ve.Message}, *ve)
}

func TestDecodeTimestampExtension(t *testing.T) {
	t.Parallel()

	at := time.Date(2026, 2, 12, 10, 0, 0, 987654321, time.FixedZone("CET", 3600))
	ev := decodeOne(t, pack(t, orderedExample(KindFunnel, kv{"timestamp", at})))
	require.Equal(t, at.UTC(), ev.Timestamp)
	require.Equal(t, time.UTC, ev.Timestamp.Location())

	ve := decodeErr(t, pack(t, orderedExample(KindFunnel, kv{"timestamp", msgpack.RawMessage{0xd6, 0x05, 0, 0, 0, 1}})), nil)
	require.Equal(t, ValidationError{Index: -1, Field: "timestamp", Code: CodeInvalidField, Message: ve.Message}, *ve)
}
