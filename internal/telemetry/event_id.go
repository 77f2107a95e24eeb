package telemetry

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
	"sync"
	"time"
)

// canonicalVersion starts the canonical encoding. Changing the encoding in
// any way must change it, since it changes every derived id.
const canonicalVersion = "gamepipe.telemetry.event.v1\x00"

// EventID returns the deterministic id of an event: the first 16 bytes of
// the SHA-256 of its canonical encoding, formatted as a UUID with version 8
// and the RFC 9562 variant bits. The canonical encoding covers the kind and
// every field except ID and ReceivedAt, so the same event always gets the
// same id and any change to its content gives another. Decode uses it when
// the client sends no event_id, which makes a retried event a duplicate for
// JetStream's Nats-Msg-Id window and for the sink's primary key.
//
// The canonical encoding is, in order: canonicalVersion; the kind and the
// text fields (app_id, build_id, player_id, event_name, funnel_step_name,
// session_id, level_id, region, input_method, status), each as a uvarint
// length and its bytes; hardware and custom_data the same way; position and
// fps each as a presence byte and three IEEE 754 float64s (big endian);
// positions as a uvarint count and its float64s; timestamp, timestamp_start
// and timestamp_end each as a presence byte, Unix seconds (int64) and
// nanoseconds (uint32). Every field is always written, so no two events
// share an encoding.
func EventID(ev *Event) string {
	p := textFields(ev)
	var text [numText]string
	for i, s := range p {
		text[i] = *s
	}
	bp := canonicalPool.Get().(*[]byte)
	*bp = appendCanonical((*bp)[:0], ev, &text)
	var id [36]byte
	formatEventID(&id, *bp)
	if cap(*bp) <= maxPooledScratch {
		canonicalPool.Put(bp)
	}
	return string(id[:])
}

var canonicalPool = sync.Pool{New: func() any { return new([]byte) }}

// appendCanonical appends the canonical encoding of ev, with its text fields
// taken from text: Decode passes views into the request body before it has
// made the event's strings, EventID passes the strings.
func appendCanonical[S ~string | ~[]byte](b []byte, ev *Event, text *[numText]S) []byte {
	b = append(b, canonicalVersion...)
	b = binary.AppendUvarint(b, uint64(len(ev.Kind)))
	b = append(b, ev.Kind...)
	for _, s := range text {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, uint64(len(ev.Hardware)))
	b = append(b, ev.Hardware...)
	b = binary.AppendUvarint(b, uint64(len(ev.CustomData)))
	b = append(b, ev.CustomData...)
	if ev.Position == nil {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = appendFloats(b, ev.Position[:])
	}
	b = binary.AppendUvarint(b, uint64(len(ev.Positions)))
	b = appendFloats(b, ev.Positions)
	if ev.FPS == nil {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = appendFloats(b, []float64{ev.FPS.Mean, ev.FPS.Low5, ev.FPS.Low1})
	}
	b = appendCanonicalTime(b, ev.Timestamp)
	b = appendCanonicalTime(b, ev.TimestampStart)
	return appendCanonicalTime(b, ev.TimestampEnd)
}

func appendFloats(b []byte, fs []float64) []byte {
	for _, f := range fs {
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(f))
	}
	return b
}

func appendCanonicalTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	b = append(b, 1)
	b = binary.BigEndian.AppendUint64(b, uint64(t.Unix()))
	return binary.BigEndian.AppendUint32(b, uint32(t.Nanosecond()))
}

// formatEventID writes the UUIDv8 derived from a canonical encoding.
func formatEventID(dst *[36]byte, canonical []byte) {
	sum := sha256.Sum256(canonical)
	sum[6] = sum[6]&0x0f | 0x80 // version 8
	sum[8] = sum[8]&0x3f | 0x80 // RFC 9562 variant
	formatUUID(dst, [16]byte(sum[:16]))
}
