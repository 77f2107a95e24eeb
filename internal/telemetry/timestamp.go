package telemetry

import (
	"encoding/binary"
	"time"
)

// timestampExt is the MessagePack timestamp extension type.
const timestampExt = -1

// Bounds of an accepted time: years 0001-9999, the range RFC 3339 and JSON
// can print. Decode also refuses the zero time.Time itself, which would read
// as "absent".
var (
	minTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)

	minUnix, maxUnix = minTime.Unix(), maxTime.Unix()
)

const timestampHint = "an ISO 8601 UTC string like 2026-02-12T10:00:00Z or 2026-02-12T10:00:00.123456+00:00"

// parseTimestamp parses the ISO 8601 / RFC 3339 subset the API accepts:
// YYYY-MM-DDTHH:MM:SS, an optional fraction of 1 to 9 digits, and a UTC
// designator: Z, +00:00 or -00:00 ('T' and 'Z' may be lower case). It returns
// a message for the client when the string is not accepted.
func parseTimestamp(s []byte) (time.Time, string) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
		s[13] != ':' || s[16] != ':' {
		return time.Time{}, "must be " + timestampHint
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	hour, ok4 := digits(s[11:13])
	minute, ok5 := digits(s[14:16])
	sec, ok6 := digits(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return time.Time{}, "must be " + timestampHint
	}
	rest := s[19:]
	nsec := 0
	if len(rest) > 0 && rest[0] == '.' {
		n := 1
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		frac := n - 1
		if frac == 0 || frac > 9 {
			return time.Time{}, "must have 1 to 9 digits of fractional seconds"
		}
		nsec, _ = digits(rest[1:n])
		for range 9 - frac {
			nsec *= 10
		}
		rest = rest[n:]
	}
	switch string(rest) {
	case "Z", "z", "+00:00", "-00:00":
	case "":
		return time.Time{}, "has no time zone; send UTC with a Z or +00:00 suffix"
	default:
		if len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':' {
			return time.Time{}, "must be in UTC (Z or +00:00), not offset " + string(rest)
		}
		return time.Time{}, "must be " + timestampHint
	}
	if year < 1 || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, "is not a valid date and time"
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC), ""
}

// digits parses a short run of ASCII digits.
func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// decodeTimestampExt decodes the payload of a MessagePack timestamp
// extension (4, 8 or 12 bytes) as a UTC time within [minTime, maxTime].
// The zero time is accepted here (a stored received_at may be zero).
func decodeTimestampExt(data []byte) (time.Time, string) {
	var sec int64
	var nsec uint32
	switch len(data) {
	case 4:
		sec = int64(binary.BigEndian.Uint32(data))
	case 8:
		u := binary.BigEndian.Uint64(data)
		nsec = uint32(u >> 34)
		sec = int64(u & (1<<34 - 1))
	case 12:
		nsec = binary.BigEndian.Uint32(data)
		sec = int64(binary.BigEndian.Uint64(data[4:]))
	default:
		return time.Time{}, "is a MessagePack timestamp of invalid length"
	}
	if nsec > 999999999 {
		return time.Time{}, "is a MessagePack timestamp with invalid nanoseconds"
	}
	if sec < minUnix || sec > maxUnix {
		return time.Time{}, "is a MessagePack timestamp outside years 0001-9999"
	}
	return time.Unix(sec, int64(nsec)).UTC(), ""
}

// appendTimestampExt appends t as a MessagePack timestamp extension, in the
// smallest of the three forms, as msgpack/v5 does.
func appendTimestampExt(b []byte, t time.Time) []byte {
	secs := uint64(t.Unix())
	nsec := uint64(t.Nanosecond())
	if secs>>34 == 0 {
		data := nsec<<34 | secs
		if data>>32 == 0 {
			b = append(b, mpFixExt4, 0xff)
			return binary.BigEndian.AppendUint32(b, uint32(data))
		}
		b = append(b, mpFixExt8, 0xff)
		return binary.BigEndian.AppendUint64(b, data)
	}
	b = append(b, mpExt8, 12, 0xff)
	b = binary.BigEndian.AppendUint32(b, uint32(nsec))
	return binary.BigEndian.AppendUint64(b, secs)
}
