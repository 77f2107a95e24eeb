package telemetry

import (
	"encoding/binary"
	"fmt"
	"math"
)

// reader is a bounded MessagePack reader over a byte slice. It never sizes
// anything by a claimed length before checking that the length fits in the
// bytes that remain (an array element takes at least 1 byte, a map entry 2),
// and it refuses containers deeper than maxDepth. Strings and binaries are
// returned as views into the input; the reader itself never allocates except
// to build an error.
type reader struct {
	b        []byte
	off      int
	maxDepth int
}

func (r *reader) remaining() int { return len(r.b) - r.off }

// peek returns the next format byte without consuming it.
func (r *reader) peek() (byte, error) {
	if r.off >= len(r.b) {
		return 0, errTruncated("a value")
	}
	return r.b[r.off], nil
}

// readN consumes n bytes and returns them as a view.
func (r *reader) readN(n uint64) ([]byte, error) {
	if n > uint64(r.remaining()) {
		return nil, newError(CodeInvalidMsgpack, "", fmt.Sprintf(
			"truncated MessagePack: %d bytes claimed but only %d remain", n, r.remaining()))
	}
	start := r.off
	r.off += int(n)
	return r.b[start:r.off:r.off], nil
}

// uintN reads a big-endian unsigned integer of size bytes.
func (r *reader) uintN(size int) (uint64, error) {
	b, err := r.readN(uint64(size))
	if err != nil {
		return 0, err
	}
	switch size {
	case 1:
		return uint64(b[0]), nil
	case 2:
		return uint64(binary.BigEndian.Uint16(b)), nil
	case 4:
		return uint64(binary.BigEndian.Uint32(b)), nil
	default:
		return binary.BigEndian.Uint64(b), nil
	}
}

// arrayLen reads an array header for a container at nesting level depth.
func (r *reader) arrayLen(depth int) (int, error) {
	c, err := r.peek()
	if err != nil {
		return 0, err
	}
	var n uint64
	switch {
	case c&0xf0 == 0x90:
		r.off++
		n = uint64(c & 0x0f)
	case c == mpArray16 || c == mpArray32:
		r.off++
		if n, err = r.uintN(2 << (c - mpArray16)); err != nil {
			return 0, err
		}
	default:
		return 0, newError(CodeInvalidField, "", "expected an array, got "+typeName(c))
	}
	return r.container(n, 1, depth, "array")
}

// mapLen reads a map header for a container at nesting level depth.
func (r *reader) mapLen(depth int) (int, error) {
	c, err := r.peek()
	if err != nil {
		return 0, err
	}
	var n uint64
	switch {
	case c&0xf0 == 0x80:
		r.off++
		n = uint64(c & 0x0f)
	case c == mpMap16 || c == mpMap32:
		r.off++
		if n, err = r.uintN(2 << (c - mpMap16)); err != nil {
			return 0, err
		}
	default:
		return 0, newError(CodeInvalidField, "", "expected a map, got "+typeName(c))
	}
	return r.container(n, 2, depth, "map")
}

// container checks a claimed element count against depth and the bytes left.
func (r *reader) container(n, minBytes uint64, depth int, what string) (int, error) {
	if depth > r.maxDepth {
		return 0, newError(CodeTooDeep, "", fmt.Sprintf(
			"maps and arrays nest deeper than %d levels", r.maxDepth))
	}
	if n*minBytes > uint64(r.remaining()) {
		return 0, newError(CodeInvalidMsgpack, "", fmt.Sprintf(
			"truncated MessagePack: %s claims %d entries but only %d bytes remain", what, n, r.remaining()))
	}
	return int(n), nil
}

// str reads a str value as a view, or returns ok false (nothing consumed)
// when the next value is not a str.
func (r *reader) str() (s []byte, ok bool, err error) {
	c, err := r.peek()
	if err != nil {
		return nil, false, err
	}
	var n uint64
	switch {
	case c&0xe0 == 0xa0:
		r.off++
		n = uint64(c & 0x1f)
	case c >= mpStr8 && c <= mpStr32:
		r.off++
		if n, err = r.uintN(1 << (c - mpStr8)); err != nil {
			return nil, true, err
		}
	default:
		return nil, false, nil
	}
	s, err = r.readN(n)
	return s, true, err
}

// bin reads a bin value as a view, or returns ok false (nothing consumed).
func (r *reader) bin() (b []byte, ok bool, err error) {
	c, err := r.peek()
	if err != nil || c < mpBin8 || c > mpBin32 {
		return nil, false, err
	}
	r.off++
	n, err := r.uintN(1 << (c - mpBin8))
	if err != nil {
		return nil, true, err
	}
	b, err = r.readN(n)
	return b, true, err
}

// ext reads an extension's type and payload, or returns ok false.
func (r *reader) ext() (typ int8, data []byte, ok bool, err error) {
	c, err := r.peek()
	if err != nil {
		return 0, nil, false, err
	}
	var n uint64
	switch {
	case c >= mpFixExt1 && c <= mpFix16:
		r.off++
		n = 1 << (c - mpFixExt1)
	case c >= mpExt8 && c <= mpExt32:
		r.off++
		if n, err = r.uintN(1 << (c - mpExt8)); err != nil {
			return 0, nil, true, err
		}
	default:
		return 0, nil, false, nil
	}
	t, err := r.uintN(1)
	if err != nil {
		return 0, nil, true, err
	}
	data, err = r.readN(n)
	return int8(t), data, true, err
}

// number reads any integer or float as a float64, or returns ok false
// (nothing consumed) when the next value is not a number. NaN and infinities
// are returned as they are; callers reject them.
func (r *reader) number() (f float64, ok bool, err error) {
	c, err := r.peek()
	if err != nil {
		return 0, false, err
	}
	switch {
	case c <= 0x7f:
		r.off++
		return float64(c), true, nil
	case c >= 0xe0:
		r.off++
		return float64(int8(c)), true, nil
	case c == mpFloat32:
		r.off++
		u, err := r.uintN(4)
		return float64(math.Float32frombits(uint32(u))), true, err
	case c == mpFloat64:
		r.off++
		u, err := r.uintN(8)
		return math.Float64frombits(u), true, err
	case c >= mpUint8 && c <= mpUint64:
		r.off++
		u, err := r.uintN(1 << (c - mpUint8))
		return float64(u), true, err
	case c >= mpInt8 && c <= mpInt64:
		r.off++
		size := 1 << (c - mpInt8)
		u, err := r.uintN(size)
		return float64(signExtend(u, size)), true, err
	}
	return 0, false, nil
}

// signExtend interprets the low size bytes of u as a two's complement int.
func signExtend(u uint64, size int) int64 {
	shift := 64 - 8*size
	return int64(u<<shift) >> shift
}

// skip consumes one value, checking every length and the depth of every
// container in it. depth is the nesting level the value would have if it is
// a container.
func (r *reader) skip(depth int) error {
	c, err := r.peek()
	if err != nil {
		return err
	}
	switch {
	case c <= 0x7f || c >= 0xe0 || c == mpNil || c == mpFalse || c == mpTrue:
		r.off++
		return nil
	case c&0xe0 == 0xa0:
		r.off++
		_, err = r.readN(uint64(c & 0x1f))
		return err
	case c&0xf0 == 0x80 || c == mpMap16 || c == mpMap32:
		n, err := r.mapLen(depth)
		if err != nil {
			return err
		}
		for range 2 * n {
			if err := r.skip(depth + 1); err != nil {
				return err
			}
		}
		return nil
	case c&0xf0 == 0x90 || c == mpArray16 || c == mpArray32:
		n, err := r.arrayLen(depth)
		if err != nil {
			return err
		}
		for n > 0 {
			// Runs of scalars (a trajectory's positions) in a tight loop;
			// the first element that is not one goes through skip.
			if n -= r.skipScalars(n); n == 0 {
				break
			}
			if err := r.skip(depth + 1); err != nil {
				return err
			}
			n--
		}
		return nil
	case c >= mpFloat32 && c <= mpInt64:
		r.off++
		_, err = r.readN(fixedSize[c-mpFloat32])
		return err
	case c >= mpFixExt1 && c <= mpFix16:
		r.off++
		_, err = r.readN(1 + 1<<(c-mpFixExt1))
		return err
	case c >= mpStr8 && c <= mpStr32:
		return r.skipSized(1<<(c-mpStr8), 0)
	case c >= mpBin8 && c <= mpBin32:
		return r.skipSized(1<<(c-mpBin8), 0)
	case c >= mpExt8 && c <= mpExt32:
		return r.skipSized(1<<(c-mpExt8), 1)
	}
	return newError(CodeInvalidMsgpack, "", "invalid MessagePack: reserved byte 0xc1")
}

// skipScalars consumes up to n consecutive fixed-size scalars (numbers, nil
// and booleans) and returns how many it consumed. It stops before the first
// value that is not one, or whose payload does not fit in the bytes that
// remain, leaving it (and its error) to skip.
func (r *reader) skipScalars(n int) int {
	b, off := r.b, r.off
	i := 0
	for ; i < n && off < len(b); i++ {
		size := int(scalarSize[b[off]])
		if size == 0 || size > len(b)-off {
			break
		}
		off += size
	}
	r.off = off
	return i
}

// scalarSize is the encoded size, format byte included, of each format byte
// that starts a fixed-size scalar: fixints, nil, booleans, floats and sized
// integers; 0 for every other byte.
var scalarSize = func() (t [256]uint8) {
	for c := range 0x80 {
		t[c] = 1 // positive fixint
	}
	for c := 0xe0; c <= 0xff; c++ {
		t[c] = 1 // negative fixint
	}
	t[mpNil], t[mpFalse], t[mpTrue] = 1, 1, 1
	for c := mpFloat32; c <= mpInt64; c++ {
		t[c] = 1 + uint8(fixedSize[c-mpFloat32])
	}
	return t
}()

// skipSized skips a value whose format byte is followed by a length of
// lenSize bytes, extra bytes (an extension's type) and the payload.
func (r *reader) skipSized(lenSize int, extra uint64) error {
	r.off++
	n, err := r.uintN(lenSize)
	if err != nil {
		return err
	}
	_, err = r.readN(n + extra)
	return err
}

// fixedSize is the payload size of float32 (0xca) through int64 (0xd3).
var fixedSize = [...]uint64{4, 8, 1, 2, 4, 8, 1, 2, 4, 8}
