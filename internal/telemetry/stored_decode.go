package telemetry

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
)

// storedMaxDepth bounds nesting in the stored encoding. The encoding itself
// nests two levels; the slack lets a newer writer add nested fields.
const storedMaxDepth = 8

// UnmarshalStored decodes the canonical stream encoding (see AppendStored)
// into ev, replacing its contents. It is as wary as Decode: garbage, such as
// a poison message on the stream, gets an error wrapping ErrInvalidStored,
// never a panic or an allocation sized by a length the bytes claim. Unknown
// keys are skipped so that older readers accept newer writers; nil values
// are absent. Times come back in UTC; the strings share one allocation and do
// not alias b.
//
// The event must then hold the invariants of a decoded event: a known kind,
// an id that is a lower-case canonical UUID, the required fields of its
// kind, text that is valid UTF-8 without NUL (app_id also a valid subject
// token), finite numbers, positions in triples, hardware and custom_data
// JSON objects, times within years 0001-9999 and timestamp_end not before
// timestamp_start. Limits are not applied: they are the API's business.
func UnmarshalStored(b []byte, ev *Event) error {
	*ev = Event{}
	var d storedDecoder
	d.r = reader{b: b, maxDepth: storedMaxDepth}
	msg := d.decode(ev)
	if msg == "" && d.r.off != len(b) {
		msg = fmt.Sprintf("%d unexpected bytes after the event", len(b)-d.r.off)
	}
	if msg == "" {
		d.finish(ev)
		// The decoder refused every number that is NaN or infinite.
		msg = checkEvent(ev, false)
	}
	if msg != "" {
		*ev = Event{}
		return fmt.Errorf("error decoding stored event: %w: %s", ErrInvalidStored, msg)
	}
	return nil
}

// storedDecoder holds UnmarshalStored's state.
type storedDecoder struct {
	r    reader
	text [numText][]byte
	id   []byte
}

// Keys of the stored encoding that are not request fields, numbered after
// the fields for the duplicate check.
const (
	sID field = numFields + iota
	sKind
	sReceivedAt
)

func (d *storedDecoder) decode(ev *Event) string {
	c, err := d.r.peek()
	if err != nil {
		return err.Error()
	}
	if c&0xf0 != 0x80 && c != mpMap16 && c != mpMap32 {
		return "expected a map, got " + typeName(c)
	}
	n, err := d.r.mapLen(1)
	if err != nil {
		return err.Error()
	}
	var seen uint32
	for range n {
		key, ok, err := d.r.str()
		if err != nil || !ok {
			return "keys must be strings"
		}
		f, known := lookupField(key)
		switch string(key) {
		case "id":
			f, known = sID, true
		case "kind":
			f, known = sKind, true
		case "received_at":
			f, known = sReceivedAt, true
		case "event_id":
			known = false // a request key; the stored id is "id"
		}
		if c, err := d.r.peek(); !known || (err == nil && c == mpNil) {
			if err := d.r.skip(2); err != nil {
				return string(key) + ": " + err.(*ValidationError).Message
			}
			continue
		}
		if seen&(1<<f) != 0 {
			return "duplicate key " + printableKey(key)
		}
		seen |= 1 << f
		if msg := d.value(ev, f); msg != "" {
			return printableKey(key) + " " + msg
		}
	}
	return ""
}

// value decodes the non-nil value of a known key.
func (d *storedDecoder) value(ev *Event, f field) string {
	var (
		s   []byte
		ok  bool
		err error
	)
	switch {
	case f < field(numText) || f == sID:
		s, ok, err = d.r.str()
		if err == nil && !ok {
			return "must be a string"
		}
		if f == sID {
			d.id = s
		} else {
			d.text[f] = s
		}
	case f == sKind:
		s, ok, err = d.r.str()
		if err != nil || !ok {
			return "must be a string"
		}
		ev.Kind = Kind("")
		for _, k := range Kinds {
			if string(s) == string(k) {
				ev.Kind = k
			}
		}
		if ev.Kind == "" {
			return "is not a known kind"
		}
	case f == fHardware || f == fCustomData:
		s, ok, err = d.r.bin()
		if err == nil && !ok {
			s, ok, err = d.r.str()
		}
		if err == nil && !ok {
			return "must be binary JSON"
		}
		if f == fHardware {
			ev.Hardware = bytes.Clone(s)
		} else {
			ev.CustomData = bytes.Clone(s)
		}
	case f == fPosition:
		var p [3]float64
		if msg := d.floats(p[:], 3); msg != "" {
			return msg
		}
		ev.Position = &p
	case f == fPositions:
		return d.positions(ev)
	case f == fFPS:
		return d.fps(ev)
	case f == fTimestamp || f == fTimestampStart || f == fTimestampEnd || f == sReceivedAt:
		return d.time(ev, f)
	}
	if err != nil {
		return err.(*ValidationError).Message
	}
	return ""
}

func (d *storedDecoder) positions(ev *Event) string {
	c, _ := d.r.peek()
	if c&0xf0 != 0x90 && c != mpArray16 && c != mpArray32 {
		return "must be an array"
	}
	n, err := d.r.arrayLen(2)
	if err != nil {
		return err.(*ValidationError).Message
	}
	ev.Positions = make([]float64, n)
	return d.floats(ev.Positions, -1)
}

// floats reads numbers into fs: an array of exactly want when want >= 0,
// or, with want < 0, the elements of an array whose header was just read.
func (d *storedDecoder) floats(fs []float64, want int) string {
	if want >= 0 {
		c, _ := d.r.peek()
		if c&0xf0 != 0x90 && c != mpArray16 && c != mpArray32 {
			return "must be an array"
		}
		if n, err := d.r.arrayLen(2); err != nil || n != want {
			return fmt.Sprintf("must be an array of %d numbers", want)
		}
	}
	// AppendStored writes every number as a float64: read runs of them
	// directly, 9 bytes at a time, within the bytes that remain.
	b := d.r.b[d.r.off:]
	i := 0
	for ; i < len(fs) && len(b) >= 9 && b[0] == mpFloat64; i++ {
		f := math.Float64frombits(binary.BigEndian.Uint64(b[1:9]))
		if f-f != 0 { // NaN or ±Inf
			return "must hold finite numbers"
		}
		fs[i] = f
		b = b[9:]
	}
	d.r.off = len(d.r.b) - len(b)
	// Any other encoding (a different writer), number by number.
	for ; i < len(fs); i++ {
		f, ok, err := d.r.number()
		if err != nil || !ok || f-f != 0 {
			return "must hold finite numbers"
		}
		fs[i] = f
	}
	return ""
}

func (d *storedDecoder) fps(ev *Event) string {
	c, _ := d.r.peek()
	if c&0xf0 != 0x80 && c != mpMap16 && c != mpMap32 {
		return "must be a map"
	}
	n, err := d.r.mapLen(2)
	if err != nil {
		return err.(*ValidationError).Message
	}
	var fps FPS
	var seen [3]bool
	for range n {
		key, ok, err := d.r.str()
		if err != nil || !ok {
			return "keys must be strings"
		}
		var dst *float64
		var i int
		switch string(key) {
		case "mean":
			dst, i = &fps.Mean, 0
		case "low_5":
			dst, i = &fps.Low5, 1
		case "low_1":
			dst, i = &fps.Low1, 2
		default:
			if err := d.r.skip(3); err != nil {
				return err.(*ValidationError).Message
			}
			continue
		}
		if seen[i] {
			return "has a duplicate key"
		}
		seen[i] = true
		f, ok, err := d.r.number()
		if err != nil || !ok || f-f != 0 { // NaN or ±Inf
			return "must hold finite numbers"
		}
		*dst = f
	}
	if !seen[0] || !seen[1] || !seen[2] {
		return "must have mean, low_5 and low_1"
	}
	ev.FPS = &fps
	return ""
}

func (d *storedDecoder) time(ev *Event, f field) string {
	typ, data, ok, err := d.r.ext()
	if err != nil || !ok || typ != timestampExt {
		return "must be a MessagePack timestamp"
	}
	t, msg := decodeTimestampExt(data)
	switch f {
	case fTimestamp:
		ev.Timestamp = t
	case fTimestampStart:
		ev.TimestampStart = t
	case fTimestampEnd:
		ev.TimestampEnd = t
	default:
		ev.ReceivedAt = t
	}
	return msg
}

// finish makes the event's strings, in one allocation.
func (d *storedDecoder) finish(ev *Event) {
	n := len(d.id)
	for _, s := range d.text {
		n += len(s)
	}
	var arena strings.Builder
	arena.Grow(n)
	for _, s := range d.text {
		arena.Write(s)
	}
	arena.Write(d.id)
	all := arena.String()
	ptrs := textFields(ev)
	off := 0
	for i, s := range d.text {
		*ptrs[i] = all[off : off+len(s)]
		off += len(s)
	}
	ev.ID = all[off:]
}
