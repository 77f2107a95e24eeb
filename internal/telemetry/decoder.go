package telemetry

import (
	"fmt"
	"sync"
)

// Decode validates a POST /api/events body and appends its events to dst.
// The body is raw MessagePack: a map is one event, an array is a batch of
// them. Validation is all or nothing: on error, dst is returned at its
// original length and the error is a *ValidationError naming the first
// problem (its Index is the batch position, or -1). lim may be nil for the
// default limits; zero fields of *lim take their defaults.
//
// Decode is bounded against hostile input: no length the body claims is
// trusted before it is checked against the bytes that remain, nesting is
// bounded by Limits.MaxDepth, and allocations are limited to the events'
// own strings and slices. The events it returns have ID set (the client's
// event_id, or EventID) and ReceivedAt left zero for the caller to stamp.
// Their strings do not alias body.
//
// See docs/telemetry.md for the type inference, the fields of each kind and
// the accepted timestamp forms.
func Decode(body []byte, lim *Limits, dst []Event) ([]Event, error) {
	return DecodeWith(body, lim, dst, nil)
}

// DecodeWith is Decode with the events' numbers (Event.Positions) taken from
// s instead of allocated for each event, so that a caller decoding request
// after request reuses the same storage. s is reset first: every event an
// earlier DecodeWith with s returned then shares storage with the new ones
// and must no longer be used. A nil s is Decode. Each Positions slice is
// capped at its length, so appending to it never overwrites another's.
func DecodeWith(body []byte, lim *Limits, dst []Event, s *Scratch) ([]Event, error) {
	if len(body) == 0 {
		return dst, newError(CodeEmptyBody, "", "the request body is empty")
	}
	var l Limits
	if lim != nil {
		l = *lim
	}
	d := decoderPool.Get().(*decoder)
	defer d.release()
	d.lim = l.WithDefaults()
	d.r = reader{b: body, maxDepth: d.lim.MaxDepth}
	if s != nil {
		s.floats = s.floats[:0]
		d.scratchFloats = s
	}

	n0 := len(dst)
	dst, err := d.decodeBody(dst)
	if err == nil && d.r.off != len(body) {
		err = newError(CodeInvalidMsgpack, "", fmt.Sprintf(
			"invalid MessagePack: %d unexpected bytes after the top-level value", len(body)-d.r.off))
	}
	if err != nil {
		clear(dst[n0:])
		return dst[:n0], err
	}
	return dst, nil
}

func (d *decoder) decodeBody(dst []Event) ([]Event, error) {
	c := d.r.b[0]
	switch {
	case c&0xf0 == 0x80 || c == mpMap16 || c == mpMap32:
		dst = append(dst, Event{})
		return dst, d.decodeEvent(&dst[len(dst)-1], 1)
	case c&0xf0 == 0x90 || c == mpArray16 || c == mpArray32:
	default:
		msg := "expected a map or an array at the top level, got " + typeName(c)
		if c == '{' || c == '[' {
			msg += "; the body looks like JSON, send MessagePack"
		}
		return dst, newError(CodeInvalidMsgpack, "", msg)
	}
	n, err := d.r.arrayLen(1)
	if err != nil {
		return dst, err
	}
	if n == 0 {
		return dst, newError(CodeBatchEmpty, "", "the batch is empty")
	}
	if n > d.lim.MaxBatch {
		return dst, newError(CodeBatchTooLarge, "", fmt.Sprintf(
			"the batch has %d events; the limit is %d", n, d.lim.MaxBatch))
	}
	dst = growEvents(dst, n)
	for i := range n {
		c, err := d.r.peek()
		if err == nil && c&0xf0 != 0x80 && c != mpMap16 && c != mpMap32 {
			err = newError(CodeInvalidField, "", "each batch item must be a map, got "+typeName(c))
		}
		if err == nil {
			dst = append(dst, Event{})
			err = d.decodeEvent(&dst[len(dst)-1], 2)
		}
		if err != nil {
			err.(*ValidationError).Index = i
			return dst, err
		}
	}
	return dst, nil
}

// growEvents makes room for n more events in one allocation.
func growEvents(dst []Event, n int) []Event {
	if cap(dst)-len(dst) >= n {
		return dst
	}
	grown := make([]Event, len(dst), len(dst)+n)
	copy(grown, dst)
	return grown
}

// decoder holds the per-call state of Decode. It is pooled, so that its
// scratch buffer is reused across requests.
type decoder struct {
	r     reader
	lim   Limits
	depth int // nesting level of the event map being decoded
	end   int // offset just past the event map

	// vals holds the offset of each known key's value, 0 when the key is
	// absent or nil; seen has a bit per key met, to refuse duplicates.
	vals [numFields]int
	seen uint32

	// text views into the body, indexed by field; id is the client's
	// event_id in canonical form when hasID.
	text  [numText][]byte
	id    [36]byte
	hasID bool

	scratch []byte // JSON conversion, canonical encoding, string arena

	scratchFloats *Scratch // DecodeWith's caller-owned storage for numbers, or nil
}

// Scratch is caller-owned storage that DecodeWith takes the events' numbers
// from; see DecodeWith. The zero value is ready to use. A Scratch must not be
// used by two DecodeWith calls at once.
type Scratch struct {
	floats []float64
}

// Bounds of a Scratch's storage, in float64s: it starts at minScratchFloats
// and doubles, up to maxScratchFloats (1 MiB, like maxPooledScratch), so that
// a Scratch kept in a pool never pins more than that. A body with more
// numbers than that gets further storage allocated, as Decode does.
const (
	minScratchFloats = 1 << 10
	maxScratchFloats = maxPooledScratch / 8
)

// take returns n float64s: a slice of the Scratch's storage, capped at n,
// or a new slice when there is no Scratch.
func (s *Scratch) take(n int) []float64 {
	if s == nil {
		return make([]float64, n)
	}
	l := len(s.floats)
	if cap(s.floats)-l < n {
		// The events already decoded keep the old storage; it is not reused.
		c := min(max(2*cap(s.floats), l+n, minScratchFloats), maxScratchFloats)
		if c < n {
			return make([]float64, n)
		}
		s.floats, l = make([]float64, 0, c), 0
	}
	s.floats = s.floats[:l+n]
	return s.floats[l : l+n : l+n]
}

var decoderPool = sync.Pool{New: func() any { return new(decoder) }}

// maxPooledScratch keeps one huge request from pinning memory in the pool.
const maxPooledScratch = 1 << 20

func (d *decoder) release() {
	d.r = reader{}
	d.text = [numText][]byte{}
	d.scratchFloats = nil
	if cap(d.scratch) > maxPooledScratch {
		d.scratch = nil
	}
	decoderPool.Put(d)
}

// decodeEvent decodes the event map at the reader's offset into ev, which
// must be zero. depth is the nesting level of the map.
func (d *decoder) decodeEvent(ev *Event, depth int) error {
	d.depth = depth
	if err := d.scan(); err != nil {
		return err
	}
	d.end = d.r.off
	kind, err := d.infer()
	if err != nil {
		return err
	}
	ev.Kind = kind
	d.text = [numText][]byte{}
	d.hasID = false
	if err := d.decodeFields(ev); err != nil {
		return err
	}
	d.finish(ev)
	d.r.off = d.end
	return nil
}

// scan is the first pass over an event map: it checks the structure of every
// value (lengths, depth), refuses duplicate known keys and records where each
// known key's value starts.
func (d *decoder) scan() error {
	n, err := d.r.mapLen(d.depth)
	if err != nil {
		return err
	}
	d.vals = [numFields]int{}
	d.seen = 0
	for range n {
		c, err := d.r.peek()
		if err != nil {
			return err
		}
		key, ok, err := d.r.str()
		if err != nil {
			return err
		}
		if !ok {
			return newError(CodeInvalidField, "", "event keys must be strings, got "+typeName(c))
		}
		name := ""
		if f, known := lookupField(key); known {
			name = f.String()
			if d.seen&(1<<f) != 0 {
				return newError(CodeInvalidField, name, "duplicate key "+name)
			}
			d.seen |= 1 << f
			if c, err := d.r.peek(); err == nil && c != mpNil {
				d.vals[f] = d.r.off
			}
		}
		if err := d.r.skip(d.depth + 1); err != nil {
			if name == "" {
				name = printableKey(key)
			}
			return withField(err.(*ValidationError), name)
		}
	}
	return nil
}

// infer applies the type inference rule of docs/telemetry.md.
func (d *decoder) infer() (Kind, error) {
	switch {
	case d.vals[fPositions] != 0 || d.vals[fTimestampStart] != 0:
		return KindRealtime, nil
	case d.vals[fFunnelStepName] != 0:
		return KindFunnel, nil
	case d.vals[fEventName] != 0:
		d.r.off = d.vals[fEventName]
		if s, ok, _ := d.r.str(); ok && string(s) == "Create_Player" {
			return KindPlayer, nil
		}
		return KindGameplay, nil
	}
	return "", newError(CodeUnknownEventType, "event_name",
		"cannot infer the event type: send event_name, funnel_step_name, or positions and timestamp_start")
}

// finish sets the event's id and its strings, which share one allocation.
func (d *decoder) finish(ev *Event) {
	if !d.hasID {
		d.scratch = appendCanonical(d.scratch[:0], ev, &d.text)
		formatEventID(&d.id, d.scratch)
	}
	arena := d.scratch[:0]
	for _, s := range d.text {
		arena = append(arena, s...)
	}
	arena = append(arena, d.id[:]...)
	d.scratch = arena
	all := string(arena)
	ptrs := textFields(ev)
	off := 0
	for i, s := range d.text {
		*ptrs[i] = all[off : off+len(s)]
		off += len(s)
	}
	ev.ID = all[off:]
}

// BatchSize is how many events a request body holds as far as its first
// bytes tell, for counting a refused request: the length its top-level
// array declares when the body has at least a byte for each, else 1 (a
// single event, or a body that is not a batch).
func BatchSize(body []byte) int {
	if len(body) == 0 {
		return 1
	}
	if c := body[0]; c&0xf0 != 0x90 && c != mpArray16 && c != mpArray32 {
		return 1
	}
	r := reader{b: body, maxDepth: 1}
	n, err := r.arrayLen(1)
	if err != nil || n == 0 {
		return 1
	}
	return n
}
