package telemetry

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
)

func TestAppendJSON(t *testing.T) {
	t.Parallel()

	convert := func(t *testing.T, v any) (string, error) {
		t.Helper()
		r := reader{b: pack(t, v), maxDepth: 8}
		js, err := r.appendJSON(nil, jsonLimit{max: 1 << 10}, 1)
		if err == nil {
			require.Equal(t, len(r.b), r.off, "consumed the whole value")
			require.True(t, json.Valid(js), string(js))
		}
		return string(js), err
	}

	valid := []struct {
		name string
		in   any
		want string
	}{
		{"Bin", om{{"b", []byte{0, 1, 2, 0xff}}}, `{"b":"AAEC/w=="}`},
		{"Bools", om{{"t", true}, {"f", false}, {"n", nil}}, `{"t":true,"f":false,"n":null}`},
		{"Empty", om{}, `{}`},
		{"Escapes", om{{"s", "a\"b\\c\nd\te\x01é😀"}}, `{"s":"a\"b\\c\nd\te\u0001é😀"}`},
		{"Float32", om{{"f", float32(0.1)}}, `{"f":0.1}`},
		{"Float64", om{{"a", 1.5}, {"b", 1e21}, {"c", 1e-7}, {"d", -0.0}, {"e", 100.0}}, `{"a":1.5,"b":1e+21,"c":1e-7,"d":0,"e":100}`},
		{"Ints", om{{"a", int64(math.MinInt64)}, {"b", uint64(math.MaxUint64)}, {"c", -1}, {"d", 127}, {"e", -33}},
			`{"a":-9223372036854775808,"b":18446744073709551615,"c":-1,"d":127,"e":-33}`},
		{"Nested", om{{"a", []any{om{{"b", []any{}}}, "x"}}}, `{"a":[{"b":[]},"x"]}`},
		{"Order", om{{"z", 1}, {"a", 2}, {"m", 3}}, `{"z":1,"a":2,"m":3}`},
		{"Time", om{{"t", time.Date(2026, 2, 12, 10, 0, 0, 500, time.UTC)}}, `{"t":"2026-02-12T10:00:00.0000005Z"}`},
	}
	for _, tc := range valid {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			got, err := convert(t, tc.in)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}

	invalid := []struct {
		name      string
		in        any
		wantCode  string
		wantField string
	}{
		{"Ext", om{{"e", msgpack.RawMessage{0xd4, 0x07, 0x00}}}, CodeInvalidField, "e"},
		{"InvalidUTF8", om{{"s", "\xc3\x28"}}, CodeInvalidField, "s"},
		{"InvalidUTF8Key", om{{"\xff", 1}}, CodeInvalidField, ""},
		{"NaNFloat32", om{{"a", []any{float32(math.NaN())}}}, CodeInvalidField, "a[0]"},
		{"NonStringKey", om{{1.5, 1}}, CodeInvalidField, ""},
		{"NUL", om{{"s", "a\x00"}}, CodeInvalidField, "s"},
		{"TooLarge", om{{"s", string(make([]byte, 1<<10))}}, CodeTooLarge, "s"},
		{"TooLargeBin", om{{"s", make([]byte, 800)}}, CodeTooLarge, "s"},
		{"TooLargeMany", om{{"a", make([]int, 600)}}, CodeTooLarge, "a[509]"},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			_, err := convert(t, tc.in)
			ve, ok := AsValidationError(err)
			require.True(t, ok, "%v", err)
			require.Equal(t, tc.wantCode, ve.Code, ve.Message)
			require.Equal(t, tc.wantField, ve.Field, ve.Message)
		})
	}
}
