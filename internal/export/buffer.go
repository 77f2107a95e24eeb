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

// buffer holds the NDJSON lines of one future file and the messages they
// came from, unacknowledged until the file is written.
type buffer struct {
	key   bufferKey
	lines bytes.Buffer
	enc   *json.Encoder // writes lines: one JSON value and '\n' each
	msgs  []jetstream.Msg
	seqs  []uint64 // stream sequence of each message
	// since is when the first line was added (for MaxAge).
	since time.Time
}

// add appends ev's line and keeps its message for the ack.
func (b *buffer) add(ev *telemetry.Event, msg jetstream.Msg, seq uint64, now time.Time) error {
	if b.enc == nil {
		b.enc = json.NewEncoder(&b.lines)
	}
	// Encode writes nothing when it fails.
	if err := b.enc.Encode(ev); err != nil {
		return fmt.Errorf("error encoding event %s: %w", ev.ID, err)
	}
	if len(b.msgs) == 0 {
		b.since = now
	}
	b.msgs = append(b.msgs, msg)
	b.seqs = append(b.seqs, seq)
	return nil
}

// buffers is the exporter's set of open buffers.
type buffers struct {
	byKey map[bufferKey]*buffer
	// bySeq finds a buffered message by stream sequence.
	bySeq  map[uint64]msgRef
	events int
}

// msgRef is where a message sits in the buffers.
type msgRef struct {
	b *buffer
	i int
}

func newBuffers() *buffers {
	return &buffers{byKey: make(map[bufferKey]*buffer), bySeq: make(map[uint64]msgRef)}
}

// redelivered reports whether the message with stream sequence seq is
// already buffered (the server redelivered it before its ack; a heartbeat
// came too late). If so it keeps the newer delivery, to ack that one, and
// the line is not added twice.
func (bs *buffers) redelivered(seq uint64, msg jetstream.Msg) bool {
	ref, ok := bs.bySeq[seq]
	if ok {
		ref.b.msgs[ref.i] = msg
	}
	return ok
}

// add puts ev's line in its buffer and returns the buffer.
func (bs *buffers) add(ev *telemetry.Event, msg jetstream.Msg, seq uint64, now time.Time) (*buffer, error) {
	key := keyOf(ev)
	b := bs.byKey[key]
	if b == nil {
		b = &buffer{key: key}
		bs.byKey[key] = b
	}
	if err := b.add(ev, msg, seq, now); err != nil {
		if len(b.msgs) == 0 {
			delete(bs.byKey, key)
		}
		return nil, err
	}
	bs.events++
	bs.bySeq[seq] = msgRef{b: b, i: len(b.msgs) - 1}
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

// remove takes b out of the set and returns it.
func (bs *buffers) remove(b *buffer) *buffer {
	delete(bs.byKey, b.key)
	for _, seq := range b.seqs {
		delete(bs.bySeq, seq)
	}
	bs.events -= len(b.msgs)
	return b
}

// each calls fn for every buffered message (for heartbeats).
func (bs *buffers) each(fn func(jetstream.Msg)) {
	for _, b := range bs.byKey {
		for _, m := range b.msgs {
			fn(m)
		}
	}
}
