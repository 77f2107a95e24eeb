package telemetry

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseTimestamp(t *testing.T) {
	t.Parallel()

	base := time.Date(2026, 2, 12, 10, 0, 0, 0, time.UTC)
	accepted := []struct {
		in   string
		want time.Time
	}{
		{"2026-02-12T10:00:00Z", base},
		{"2026-02-12T10:00:00+00:00", base},
		{"2026-02-12T10:00:00-00:00", base},
		{"2026-02-12t10:00:00z", base},
		{"2026-02-12T10:00:00.1Z", base.Add(100 * time.Millisecond)},
		{"2026-02-12T10:00:00.123456+00:00", base.Add(123456 * time.Microsecond)},    // Python isoformat
		{"2026-02-12T10:00:00.1234567Z", base.Add(123456700 * time.Nanosecond)},      // .NET "o"
		{"2026-02-12T10:00:00.123456789Z", base.Add(123456789 * time.Nanosecond)},    // 9 digits
		{"2024-02-29T23:59:59Z", time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC)},    // leap day
		{"0001-01-01T00:00:00.000000001Z", time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)}, // smallest
	}
	for _, tc := range accepted {
		got, msg := parseTimestamp([]byte(tc.in))
		require.Empty(t, msg, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}

	rejected := []struct{ in, wantMsg string }{
		{"", "ISO 8601"},
		{"2026-02-12", "ISO 8601"},
		{"2026-02-12 10:00:00Z", "ISO 8601"},
		{"2026-02-12T10:00:00", "no time zone"},
		{"2026-02-12T10:00:00+02:00", "not offset +02:00"},
		{"2026-02-12T10:00:00-05:30", "not offset -05:30"},
		{"2026-02-12T10:00:00+0000", "ISO 8601"},
		{"2026-02-12T10:00:00.Z", "1 to 9 digits"},
		{"2026-02-12T10:00:00.1234567890Z", "1 to 9 digits"},
		{"2026-02-12T10:00:00ZZ", "ISO 8601"},
		{"2026-02-30T10:00:00Z", "not a valid date"},
		{"2025-02-29T10:00:00Z", "not a valid date"},
		{"2026-13-12T10:00:00Z", "not a valid date"},
		{"2026-02-12T24:00:00Z", "not a valid date"},
		{"2026-02-12T10:60:00Z", "not a valid date"},
		{"2026-02-12T10:00:60Z", "not a valid date"},
		{"0000-01-01T00:00:00Z", "not a valid date"},
		{"2026-0a-12T10:00:00Z", "ISO 8601"},
		{"+2026-02-12T10:00:00Z", "ISO 8601"},
	}
	for _, tc := range rejected {
		_, msg := parseTimestamp([]byte(tc.in))
		require.Contains(t, msg, tc.wantMsg, tc.in)
	}
}

func TestTimestampExt(t *testing.T) {
	t.Parallel()

	for _, tm := range []time.Time{
		time.Unix(0, 0).UTC(),                              // 4-byte form
		time.Date(2026, 2, 12, 10, 0, 0, 5, time.UTC),      // 8-byte form
		time.Date(1969, 12, 31, 23, 59, 59, 999, time.UTC), // 12-byte form, negative
		time.Date(2600, 1, 1, 0, 0, 0, 0, time.UTC),        // 12-byte form, past 34 bits
		{}, // zero, allowed for received_at
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
	} {
		b := appendTimestampExt(nil, tm)
		r := reader{b: b, maxDepth: 1}
		typ, data, ok, err := r.ext()
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, int8(timestampExt), typ)
		got, msg := decodeTimestampExt(data)
		require.Empty(t, msg)
		require.Equal(t, tm, got)
	}

	for _, data := range [][]byte{
		{1, 2, 3},                            // bad length
		{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, // nanoseconds > 999999999
		{0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, // year far past 9999
	} {
		_, msg := decodeTimestampExt(data)
		require.NotEmpty(t, msg)
	}
}
