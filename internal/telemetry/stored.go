package telemetry

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrInvalidStored is wrapped by every error of AppendStored, MarshalStored
// and UnmarshalStored. For UnmarshalStored it is permanent: the bytes will
// never decode, so a consumer should terminate the message (poison).
var ErrInvalidStored = errors.New("invalid stored event")

// MarshalStored encodes ev in the canonical stream encoding: the bytes
// published on the TELEMETRY stream and read back by the sink and the
// exporter with UnmarshalStored. See AppendStored.
func MarshalStored(ev *Event) ([]byte, error) {
	// One allocation: keys, headers, id, numbers and times of the largest
	// event take under 448 bytes besides its variable-length content.
	n := 448 + len(ev.Hardware) + len(ev.CustomData) + 9*len(ev.Positions)
	for _, s := range textFields(ev) {
		n += len(*s)
	}
	b, err := AppendStored(make([]byte, 0, n), ev)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// AppendStored appends the canonical stream encoding of ev to dst. It is a
// MessagePack map keyed by the Event's msgpack tags, in struct order, with
// empty optional fields left out: strings as str, hardware and custom_data
// as bin (their JSON bytes), floats as float64, times as timestamp
// extensions (type -1). msgpack/v5 can decode it into an Event too, though
// its times come back in the local zone.
//
// The event must satisfy what UnmarshalStored checks (the invariants of a
// decoded event, see UnmarshalStored), so that whatever is published can be
// read back; otherwise the error wraps ErrInvalidStored and dst is returned
// unchanged.
func AppendStored(dst []byte, ev *Event) ([]byte, error) {
	if msg := checkStored(ev); msg != "" {
		return dst, fmt.Errorf("error encoding event %q: %w: %s", ev.ID, ErrInvalidStored, msg)
	}
	p := textFields(ev)
	n := 3 // id, kind, received_at
	for _, s := range p {
		if *s != "" {
			n++
		}
	}
	for _, present := range [...]bool{
		len(ev.Hardware) > 0, len(ev.CustomData) > 0, ev.Position != nil, len(ev.Positions) > 0,
		ev.FPS != nil, !ev.Timestamp.IsZero(), !ev.TimestampStart.IsZero(), !ev.TimestampEnd.IsZero(),
	} {
		if present {
			n++
		}
	}
	b := appendMapLen(dst, n)
	b = appendStrKV(b, "id", ev.ID)
	b = appendStrKV(b, "kind", string(ev.Kind))
	for f, s := range p {
		if *s != "" {
			b = appendStrKV(b, field(f).String(), *s)
		}
	}
	b = appendBinKV(b, "hardware", ev.Hardware)
	b = appendBinKV(b, "custom_data", ev.CustomData)
	if ev.Position != nil {
		b = appendFloatsKV(b, "position", ev.Position[:])
	}
	if len(ev.Positions) > 0 {
		b = appendFloatsKV(b, "positions", ev.Positions)
	}
	if ev.FPS != nil {
		b = appendStr(b, "fps")
		b = appendMapLen(b, 3)
		b = appendFloat64(appendStr(b, "mean"), ev.FPS.Mean)
		b = appendFloat64(appendStr(b, "low_5"), ev.FPS.Low5)
		b = appendFloat64(appendStr(b, "low_1"), ev.FPS.Low1)
	}
	b = appendTimeKV(b, "timestamp", ev.Timestamp, false)
	b = appendTimeKV(b, "timestamp_start", ev.TimestampStart, false)
	b = appendTimeKV(b, "timestamp_end", ev.TimestampEnd, false)
	return appendTimeKV(b, "received_at", ev.ReceivedAt, true), nil
}

func appendStrKV(b []byte, key, val string) []byte {
	return appendStr(appendStr(b, key), val)
}

func appendBinKV(b []byte, key string, val []byte) []byte {
	if len(val) == 0 {
		return b
	}
	b = appendStr(b, key)
	switch n := len(val); {
	case n <= math.MaxUint8:
		b = append(b, mpBin8, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, mpBin16), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, mpBin32), uint32(n))
	}
	return append(b, val...)
}

func appendFloatsKV(b []byte, key string, fs []float64) []byte {
	b = appendArrayLen(appendStr(b, key), len(fs))
	for _, f := range fs {
		b = appendFloat64(b, f)
	}
	return b
}

func appendTimeKV(b []byte, key string, t time.Time, always bool) []byte {
	if t.IsZero() && !always {
		return b
	}
	return appendTimestampExt(appendStr(b, key), t)
}

func appendStr(b []byte, s string) []byte {
	switch n := len(s); {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n <= math.MaxUint8:
		b = append(b, mpStr8, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, mpStr16), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, mpStr32), uint32(n))
	}
	return append(b, s...)
}

func appendArrayLen(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x90|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, mpArray16), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, mpArray32), uint32(n))
}

func appendMapLen(b []byte, n int) []byte {
	if n < 16 {
		return append(b, 0x80|byte(n))
	}
	return binary.BigEndian.AppendUint16(append(b, mpMap16), uint16(n))
}

func appendFloat64(b []byte, f float64) []byte {
	return binary.BigEndian.AppendUint64(append(b, mpFloat64), math.Float64bits(f))
}
