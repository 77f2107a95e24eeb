package telemetry

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
)

// TestReaderMatchesMsgpack checks the hand-rolled reader against
// msgpack/v5's encoder, for every format family and size class.
func TestReaderMatchesMsgpack(t *testing.T) {
	t.Parallel()

	numbers := []any{
		0, 127, 128, 255, 256, 65535, 65536, math.MaxUint32, uint64(math.MaxUint32) + 1,
		-1, -32, -33, -128, -129, -32768, -32769, math.MinInt32, int64(math.MinInt32) - 1,
		float32(1.5), 2.25, math.Inf(1),
	}
	others := []any{
		nil, true, false, "", "a", strings.Repeat("s", 31), strings.Repeat("s", 32),
		strings.Repeat("s", 256), strings.Repeat("s", 65536), []byte{}, make([]byte, 256), make([]byte, 65536),
		[]int{}, make([]int, 15), make([]int, 16), make([]int, 65536),
		map[string]int{}, map[string]any{"a": []any{map[string]any{"b": nil}}},
		time.Unix(1, 0), time.Unix(1, 1), time.Unix(1<<35, 1),
		msgpack.RawMessage{0xd4, 1, 0}, msgpack.RawMessage{0xd5, 1, 0, 0}, msgpack.RawMessage{0xd8, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		msgpack.RawMessage{0xc7, 0, 1}, msgpack.RawMessage{0xc8, 0, 1, 5, 0}, msgpack.RawMessage{0xc9, 0, 0, 0, 1, 5, 0},
	}
	big := map[string]int{}
	for i := range 70000 {
		big[strconv.Itoa(i)] = i // map32
	}
	others = append(others, big)

	for _, v := range append(numbers, others...) {
		b := pack(t, v)
		r := reader{b: b, maxDepth: 8}
		require.NoError(t, r.skip(1), "%T", v)
		require.Equal(t, len(b), r.off, "skip consumed the value %T", v)
	}
	for _, v := range numbers {
		b := pack(t, v)
		var want float64
		require.NoError(t, msgpack.Unmarshal(b, &want))
		r := reader{b: b, maxDepth: 8}
		got, ok, err := r.number()
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, want, got, "%v", v)
		require.Equal(t, len(b), r.off)
	}
}

func TestReaderBounds(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		body     []byte
		wantCode string
	}{
		{"Array32Claim", []byte{0xdd, 0, 0, 0, 2, 0x01}, CodeInvalidMsgpack},
		{"Bin8Claim", []byte{0xc4, 2, 0}, CodeInvalidMsgpack},
		{"Ext8Claim", []byte{0xc7, 2, 1, 0}, CodeInvalidMsgpack},
		{"FixExtTruncated", []byte{0xd8, 1, 0}, CodeInvalidMsgpack},
		{"Float64Truncated", []byte{0xcb, 0, 0}, CodeInvalidMsgpack},
		{"Map16Claim", []byte{0xde, 0, 2, 0xa0, 0xa0, 0xa0}, CodeInvalidMsgpack},
		{"Reserved", []byte{0xc1}, CodeInvalidMsgpack},
		{"Str16Truncated", []byte{0xda, 0}, CodeInvalidMsgpack},
		{"TooDeep", []byte{0x91, 0x91, 0x91, 0xc0}, CodeTooDeep},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			r := reader{b: tc.body, maxDepth: 2}
			err := r.skip(1)
			ve, ok := AsValidationError(err)
			require.True(t, ok, "%v", err)
			require.Equal(t, tc.wantCode, ve.Code)
		})
	}
}
