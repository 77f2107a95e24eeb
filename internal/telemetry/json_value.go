package telemetry

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// jsonLimit bounds the JSON that appendJSON may write: dst[start:] must stay
// within max bytes.
type jsonLimit struct {
	start, max int
}

func (l jsonLimit) check(dst []byte, extra int) error {
	if len(dst)-l.start+extra > l.max {
		return newError(CodeTooLarge, "", fmt.Sprintf("is larger than %d bytes as JSON", l.max))
	}
	return nil
}

// appendJSON converts the next MessagePack value to compact JSON, appended
// to dst. Map keys must be strings and keep the order received; bin becomes
// a base64 string (standard alphabet, padded); a timestamp extension becomes
// an RFC 3339 string in UTC; other extensions, NaN and infinities are
// refused, as are strings PostgreSQL's jsonb cannot hold (invalid UTF-8,
// NUL). depth is the value's nesting level if it is a container.
func (r *reader) appendJSON(dst []byte, lim jsonLimit, depth int) ([]byte, error) {
	c, err := r.peek()
	if err != nil {
		return dst, err
	}
	switch {
	case c == mpNil:
		r.off++
		dst = append(dst, "null"...)
	case c == mpFalse:
		r.off++
		dst = append(dst, "false"...)
	case c == mpTrue:
		r.off++
		dst = append(dst, "true"...)
	case c <= 0x7f:
		r.off++
		dst = strconv.AppendUint(dst, uint64(c), 10)
	case c >= 0xe0:
		r.off++
		dst = strconv.AppendInt(dst, int64(int8(c)), 10)
	case c >= mpUint8 && c <= mpUint64:
		r.off++
		u, err := r.uintN(1 << (c - mpUint8))
		if err != nil {
			return dst, err
		}
		dst = strconv.AppendUint(dst, u, 10)
	case c >= mpInt8 && c <= mpInt64:
		r.off++
		size := 1 << (c - mpInt8)
		u, err := r.uintN(size)
		if err != nil {
			return dst, err
		}
		dst = strconv.AppendInt(dst, signExtend(u, size), 10)
	case c == mpFloat32 || c == mpFloat64:
		f, _, err := r.number()
		if err != nil {
			return dst, err
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return dst, newError(CodeInvalidField, "", "must be a finite number")
		}
		dst = appendJSONFloat(dst, f, 32<<(c-mpFloat32))
	case c&0xf0 == 0x80 || c == mpMap16 || c == mpMap32:
		return r.appendJSONObject(dst, lim, depth)
	case c&0xf0 == 0x90 || c == mpArray16 || c == mpArray32:
		return r.appendJSONArray(dst, lim, depth)
	default:
		return r.appendJSONBytes(dst, lim)
	}
	return dst, lim.check(dst, 0)
}

// appendJSONBytes converts a str, bin or extension value.
func (r *reader) appendJSONBytes(dst []byte, lim jsonLimit) ([]byte, error) {
	if s, ok, err := r.str(); ok || err != nil {
		if err != nil {
			return dst, err
		}
		if err := lim.check(dst, len(s)+2); err != nil {
			return dst, err
		}
		dst, msg := appendJSONString(dst, s)
		if msg != "" {
			return dst, newError(CodeInvalidField, "", msg)
		}
		return dst, lim.check(dst, 0)
	}
	if b, ok, err := r.bin(); ok || err != nil {
		if err != nil {
			return dst, err
		}
		if err := lim.check(dst, base64.StdEncoding.EncodedLen(len(b))+2); err != nil {
			return dst, err
		}
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, b)
		return append(dst, '"'), nil
	}
	if typ, data, ok, err := r.ext(); ok || err != nil {
		if err != nil {
			return dst, err
		}
		if typ != timestampExt {
			return dst, newError(CodeInvalidField, "", fmt.Sprintf("has an unsupported MessagePack extension type %d", typ))
		}
		t, msg := decodeTimestampExt(data)
		if msg != "" {
			return dst, newError(CodeInvalidField, "", msg)
		}
		dst = append(dst, '"')
		dst = t.AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, '"')
		return dst, lim.check(dst, 0)
	}
	return dst, newError(CodeInvalidMsgpack, "", "invalid MessagePack: reserved byte 0xc1")
}

func (r *reader) appendJSONObject(dst []byte, lim jsonLimit, depth int) ([]byte, error) {
	n, err := r.mapLen(depth)
	if err != nil {
		return dst, err
	}
	dst = append(dst, '{')
	for i := range n {
		if i > 0 {
			dst = append(dst, ',')
		}
		c, err := r.peek()
		if err != nil {
			return dst, err
		}
		key, ok, err := r.str()
		if err != nil {
			return dst, err
		}
		if !ok {
			return dst, newError(CodeInvalidField, "", "has a key that is not a string but "+typeName(c))
		}
		if err := lim.check(dst, len(key)+3); err != nil {
			return dst, err
		}
		var msg string
		if dst, msg = appendJSONString(dst, key); msg != "" {
			return dst, newError(CodeInvalidField, "", "has a key that "+msg)
		}
		dst = append(dst, ':')
		if dst, err = r.appendJSON(dst, lim, depth+1); err != nil {
			return dst, withField(err.(*ValidationError), printableKey(key))
		}
	}
	dst = append(dst, '}')
	return dst, lim.check(dst, 0)
}

func (r *reader) appendJSONArray(dst []byte, lim jsonLimit, depth int) ([]byte, error) {
	n, err := r.arrayLen(depth)
	if err != nil {
		return dst, err
	}
	dst = append(dst, '[')
	for i := range n {
		if i > 0 {
			dst = append(dst, ',')
		}
		if dst, err = r.appendJSON(dst, lim, depth+1); err != nil {
			return dst, withField(err.(*ValidationError), "["+strconv.Itoa(i)+"]")
		}
	}
	dst = append(dst, ']')
	return dst, lim.check(dst, 0)
}

// appendJSONFloat formats f as encoding/json does: shortest representation
// for its bit size, exponent form only for very small or large magnitudes.
func appendJSONFloat(b []byte, f float64, bits int) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (bits == 64 && (abs < 1e-6 || abs >= 1e21) ||
		bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21)) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, bits)
	if format == 'e' {
		// Clean up e-09 to e-9, as encoding/json does.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendJSONString appends s as a JSON string. It returns a message when s
// cannot be stored: invalid UTF-8 or a NUL character.
func appendJSONString(b, s []byte) ([]byte, string) {
	if msg := checkText(s); msg != "" {
		return b, msg
	}
	b = append(b, '"')
	start := 0
	for i, c := range s {
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			const hex = "0123456789abcdef"
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"'), ""
}

// checkText returns a message when s is not text PostgreSQL can store:
// invalid UTF-8 or a NUL character.
func checkText(s []byte) string {
	if !utf8.Valid(s) {
		return "is not valid UTF-8"
	}
	if bytes.IndexByte(s, 0) >= 0 {
		return "contains a NUL character"
	}
	return ""
}
