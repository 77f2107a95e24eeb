package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gamepipe/gamepipe/internal/telemetry"
)

// bufferKey names the file an event goes to: app, kind and the UTC hour of
// its received_at.
type bufferKey struct {
	appID string
	kind  telemetry.Kind
	hour  time.Time
}

func keyOf(ev *telemetry.Event) bufferKey {
	return bufferKey{appID: ev.AppID, kind: ev.Kind, hour: ev.ReceivedAt.UTC().Truncate(time.Hour)}
}

// dayKey names a day directory.
type dayKey struct {
	appID string
	kind  telemetry.Kind
	day   string
}

func (k bufferKey) day() dayKey {
	return dayKey{appID: k.appID, kind: k.kind, day: dayName(k.hour)}
}

// pending is a fetched message whose events are buffered: it is acked
// once all of them are in files, or nak'd as soon as one cannot be written.
type pending struct {
	msg jetstream.Msg
	seq uint64 // stream sequence
	// left counts its buffered events not yet written.
	left int
	// failed is set once it is nak'd; it is no longer acked.
	failed bool
}

// buffer holds the NDJSON lines of one future file and, for each line, the
// message it came from (unacknowledged until all its lines are written).
type buffer struct {
	key   bufferKey
	lines bytes.Buffer
	enc   *json.Encoder // writes lines: one JSON value and '\n' each
	refs  []*pending    // refs[i] holds line i's event
	// since is when the first line was added (for MaxAge).
	since time.Time
}

// add appends ev's line and keeps its message for the ack.
func (b *buffer) add(ev *telemetry.Event, p *pending, now time.Time) error {
	if b.enc == nil {
		b.enc = json.NewEncoder(&b.lines)
	}
	// Encode writes nothing when it fails.
	if err := b.enc.Encode(ev); err != nil {
		return fmt.Errorf("error encoding event %s: %w", ev.ID, err)
	}
	if len(b.refs) == 0 {
		b.since = now
	}
	b.refs = append(b.refs, p)
	p.left++
	return nil
}

// buffers is the exporter's set of open buffers.
type buffers struct {
	byKey map[bufferKey]*buffer
	// bySeq finds a message with buffered events by stream sequence.
	bySeq  map[uint64]*pending
	events int
}

func newBuffers() *buffers {
	return &buffers{byKey: make(map[bufferKey]*buffer), bySeq: make(map[uint64]*pending)}
}

// redelivered reports whether the message with stream sequence seq has
// events buffered (the server redelivered it before its ack; a heartbeat
// came too late). If so it keeps the newer delivery, to ack that one, and
// the lines are not added twice.
func (bs *buffers) redelivered(seq uint64, msg jetstream.Msg) bool {
	p, ok := bs.bySeq[seq]
	if ok {
		p.msg = msg
	}
	return ok
}

// track starts keeping msg, whose events are about to be added.
func (bs *buffers) track(msg jetstream.Msg, seq uint64) *pending {
	p := &pending{msg: msg, seq: seq}
	bs.bySeq[seq] = p
	return p
}

// untrack forgets p once it is acked or nak'd, or holds no event.
func (bs *buffers) untrack(p *pending) {
	if bs.bySeq[p.seq] == p {
		delete(bs.bySeq, p.seq)
	}
}

// add puts ev's line in its buffer and returns the buffer.
func (bs *buffers) add(ev *telemetry.Event, p *pending, now time.Time) (*buffer, error) {
	key := keyOf(ev)
	b := bs.byKey[key]
	if b == nil {
		b = &buffer{key: key}
		bs.byKey[key] = b
	}
	if err := b.add(ev, p, now); err != nil {
		if len(b.refs) == 0 {
			delete(bs.byKey, key)
		}
		return nil, err
	}
	bs.events++
	return b, nil
}

// take removes and returns the buffers chosen by keep (all when keep is nil).
func (bs *buffers) take(keep func(*buffer) bool) []*buffer {
	var out []*buffer
	for _, b := range bs.byKey {
		if keep == nil || keep(b) {
			out = append(out, bs.remove(b))
		}
	}
	return out
}

// remove takes b out of the set and returns it. Its messages stay tracked
// until the flush acks or naks them.
func (bs *buffers) remove(b *buffer) *buffer {
	delete(bs.byKey, b.key)
	bs.events -= len(b.refs)
	return b
}

// written records that b's lines are in a file and acks each message
// whose events are now all written.
func (bs *buffers) written(b *buffer, ack func(jetstream.Msg)) {
	for _, p := range b.refs {
		p.left--
		if p.left == 0 && !p.failed {
			bs.untrack(p)
			ack(p.msg)
		}
	}
}

// failed naks each message with a line in b, once: it is redelivered whole
// and all its events buffered again (those written meanwhile repeat).
func (bs *buffers) failed(b *buffer, nak func(jetstream.Msg)) {
	for _, p := range b.refs {
		p.left--
		if !p.failed {
			p.failed = true
			bs.untrack(p)
			nak(p.msg)
		}
	}
}

// each calls fn for every message with buffered events (for heartbeats).
func (bs *buffers) each(fn func(jetstream.Msg)) {
	for _, p := range bs.bySeq {
		fn(p.msg)
	}
}
