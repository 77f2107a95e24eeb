package telemetry

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
)

// bodyLimit is the HTTP body limit the allocation bound is relative to
// (docs/reliability.md #7: TotalAlloc delta < 16 × the body limit).
const bodyLimit = 1 << 20

// bomb is a hostile body and the codes it may be refused with.
type bomb struct {
	name  string
	body  []byte
	codes []string
}

// bombs returns the length-prefix and nesting bombs of docs/reliability.md #7
// and #8, plus a few relatives. Each body is under bodyLimit.
func bombs(tb testing.TB) []bomb {
	tb.Helper()
	raw := func(b ...byte) msgpack.RawMessage { return b }
	rep := func(unit []byte, n int, tail ...byte) msgpack.RawMessage {
		return append(bytes.Repeat(unit, n), tail...)
	}
	custom := func(v msgpack.RawMessage) []byte {
		return pack(tb, orderedExample(KindGameplay, kv{"custom_data", om{{"x", v}}}))
	}
	bad := []string{CodeInvalidMsgpack}
	deep := []string{CodeTooDeep}
	return []bomb{
		{"Array16ChainTop", rep([]byte{0xdc, 0xff, 0xff}, 20000), bad},
		{"Array16ChainTopLong", rep([]byte{0xdc, 0xff, 0xff}, 300000), []string{CodeBatchTooLarge}},
		{"Array16ChainInCustomData", custom(rep([]byte{0xdc, 0xff, 0xff}, 20000)), bad},
		{"Array32InBatch", pack(tb, []any{docExample(KindFunnel), orderedExample(KindGameplay, kv{"custom_data", raw(0xdd, 0xff, 0xff, 0xff, 0xff)})}), bad},
		{"Array32InPositions", pack(tb, orderedExample(KindRealtime, kv{"positions", raw(0xdd, 0xff, 0xff, 0xff, 0xff)})), bad},
		{"Array32Top", []byte{0xdd, 0xff, 0xff, 0xff, 0xff}, bad},
		{"Array32TopBatchOfOne", append([]byte{0xdd, 0xff, 0xff, 0xff, 0xff}, pack(tb, docExample(KindFunnel))...), bad},
		{"Bin32InCustomData", custom(raw(0xc6, 0xff, 0xff, 0xff, 0xff)), bad},
		{"Bin32Top", []byte{0xc6, 0xff, 0xff, 0xff, 0xff}, bad},
		{"Ext32InCustomData", custom(raw(0xc9, 0xff, 0xff, 0xff, 0xff, 0xff)), bad},
		{"Map16ChainTop", rep([]byte{0xde, 0xff, 0xff, 0xa1, 'k'}, 20000), bad},
		{"Map32InCustomData", pack(tb, orderedExample(KindGameplay, kv{"custom_data", raw(0xdf, 0xff, 0xff, 0xff, 0xff)})), bad},
		{"Map32Top", []byte{0xdf, 0xff, 0xff, 0xff, 0xff}, bad},
		{"NestedFixarraysInCustomData", custom(rep([]byte{0x91}, 100000, 0xc0)), deep},
		{"NestedFixarraysTop", rep([]byte{0x91}, 100000, 0xc0), []string{CodeInvalidField}}, // item 0 is not a map
		{"NestedFixarraysTopBatch", append([]byte{0x91, 0x81, 0xa1, 'k'}, rep([]byte{0x91}, 100000, 0xc0)...), deep},
		{"NestedFixmapsInCustomData", custom(rep([]byte{0x81, 0xa1, 'k'}, 100000, 0xc0)), deep},
		{"NestedFixmapsUnknownKey", pack(tb, orderedExample(KindFunnel, kv{"junk", rep([]byte{0x91}, 100000, 0xc0)})), deep},
		{"Str32InPlayerID", pack(tb, orderedExample(KindFunnel, kv{"player_id", raw(0xdb, 0xff, 0xff, 0xff, 0xff)})), bad},
		{"Str32Key", []byte{0x81, 0xdb, 0xff, 0xff, 0xff, 0xff}, bad},
		{"Str32Top", []byte{0xdb, 0xff, 0xff, 0xff, 0xff}, bad},
	}
}

// TestDecodeBombs checks that each bomb is refused with a ValidationError and
// allocates less than 16 × the body limit. It is not parallel: TotalAlloc is
// process-wide.
func TestDecodeBombs(t *testing.T) { //nolint:paralleltest // measures process-wide allocation
	for _, b := range bombs(t) {
		t.Run(b.name, func(t *testing.T) {
			require.Less(t, len(b.body), bodyLimit)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			evs, err := Decode(b.body, nil, nil)
			runtime.ReadMemStats(&after)

			require.Empty(t, evs)
			ve, ok := AsValidationError(err)
			require.True(t, ok, "error %v is not a *ValidationError", err)
			require.Contains(t, b.codes, ve.Code, ve.Error())
			require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(16*bodyLimit))
		})
	}
}
