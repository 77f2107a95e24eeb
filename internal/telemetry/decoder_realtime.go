package telemetry

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
)

// positions reads a realtime trajectory's flat [x,y,z,x,y,z,...] array.
func (d *decoder) positions() ([]float64, error) {
	const name = "positions"
	if d.vals[fPositions] == 0 {
		return nil, newError(CodeMissingField, name, "positions is required")
	}
	d.r.off = d.vals[fPositions]
	c := d.r.b[d.r.off]
	if c&0xf0 != 0x90 && c != mpArray16 && c != mpArray32 {
		return nil, newError(CodeInvalidField, name, "positions must be a flat array of numbers, got "+typeName(c))
	}
	n, err := d.r.arrayLen(d.depth + 1)
	switch {
	case err != nil:
		return nil, withField(err.(*ValidationError), name)
	case n == 0:
		return nil, newError(CodeInvalidField, name, "positions must not be empty")
	case n > d.lim.MaxPositions:
		return nil, newError(CodeTooLarge, name, fmt.Sprintf(
			"positions has %d numbers; the limit is %d", n, d.lim.MaxPositions))
	case n%3 != 0:
		return nil, newError(CodeInvalidField, name, fmt.Sprintf(
			"positions must be a flat [x,y,z,x,y,z,...] array; its length %d is not a multiple of 3", n))
	}
	ps := d.scratchFloats.take(n)
	b, off := d.r.b, d.r.off
	for i := range ps {
		// Fast path for the common encodings; anything else, and any
		// failure, goes through the reader.
		if off >= len(b) { // unreachable: scan checked the array
			return nil, d.positionError(i)
		}
		var f float64
		switch c := b[off]; {
		case c == mpFloat32 && off+5 <= len(b):
			f = float64(math.Float32frombits(binary.BigEndian.Uint32(b[off+1:])))
			off += 5
		case c == mpFloat64 && off+9 <= len(b):
			f = math.Float64frombits(binary.BigEndian.Uint64(b[off+1:]))
			off += 9
		case c <= 0x7f:
			f = float64(c)
			off++
		default:
			d.r.off = off
			var ok bool
			var err error
			if f, ok, err = d.r.number(); !ok || err != nil {
				return nil, d.positionError(i)
			}
			off = d.r.off
		}
		if f-f != 0 { // NaN or ±Inf
			return nil, d.positionError(i)
		}
		ps[i] = f
	}
	d.r.off = off
	return ps, nil
}

// positionError re-reads element i of positions to describe why it failed;
// it runs only on the failure path, so the loop above stays lean.
func (d *decoder) positionError(i int) error {
	d.r.off = d.vals[fPositions]
	_, _ = d.r.arrayLen(d.depth + 1)
	for range i {
		_ = d.r.skip(d.depth + 2)
	}
	_, err := d.number("positions[" + strconv.Itoa(i) + "]")
	return err
}

// fps reads a realtime trajectory's frame-rate summary; mean, low_5 and
// low_1 are all required, other keys are ignored.
func (d *decoder) fps() (*FPS, error) {
	const name = "fps"
	if d.vals[fFPS] == 0 {
		return nil, newError(CodeMissingField, name, "fps is required")
	}
	d.r.off = d.vals[fFPS]
	c := d.r.b[d.r.off]
	if c&0xf0 != 0x80 && c != mpMap16 && c != mpMap32 {
		return nil, newError(CodeInvalidField, name, "fps must be a map with mean, low_5 and low_1, got "+typeName(c))
	}
	n, err := d.r.mapLen(d.depth + 1)
	if err != nil {
		return nil, withField(err.(*ValidationError), name)
	}
	var fps FPS
	var seen, present [3]bool
	for range n {
		c, err := d.r.peek()
		if err != nil {
			return nil, withField(err.(*ValidationError), name)
		}
		key, ok, err := d.r.str()
		if err != nil {
			return nil, withField(err.(*ValidationError), name)
		}
		if !ok {
			return nil, newError(CodeInvalidField, name, "fps has a key that is not a string but "+typeName(c))
		}
		var dst *float64
		var i int
		var path string
		switch string(key) {
		case "mean":
			dst, i, path = &fps.Mean, 0, "fps.mean"
		case "low_5":
			dst, i, path = &fps.Low5, 1, "fps.low_5"
		case "low_1":
			dst, i, path = &fps.Low1, 2, "fps.low_1"
		}
		if dst == nil {
			if err := d.r.skip(d.depth + 2); err != nil {
				return nil, withField(err.(*ValidationError), name)
			}
			continue
		}
		if seen[i] {
			return nil, newError(CodeInvalidField, path, "duplicate key "+path)
		}
		seen[i] = true
		if c, err := d.r.peek(); err == nil && c == mpNil {
			d.r.off++ // nil means absent
			continue
		}
		present[i] = true
		if *dst, err = d.number(path); err != nil {
			return nil, err
		}
	}
	for i, k := range [...]string{"mean", "low_5", "low_1"} {
		if !present[i] {
			return nil, newError(CodeMissingField, "fps."+k, "fps."+k+" is required")
		}
	}
	return &fps, nil
}
