package eventstream

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// batchVersion and the header layout mirror telemetry's batch format
// (telemetry.AppendStoredBatchHeader; docs/telemetry.md, "Stream
// encoding"): an array of n+1 elements, the version first, then the items.
const (
	batchVersion   = 1
	batchHeaderMax = 6
)

// flight is one message being built or sent, and the callers waiting for
// its ack.
type flight struct {
	subject string
	buf     []byte // batchHeaderMax bytes left for the header, then items
	raw     bool   // buf is one raw Message's Data, sent as it is
	events  int
	ids     []string
	timer   *time.Timer
	expired bool // its Linger is over (or it has none): it waits only for the subject's last ack
	// own is set when one caller alone waits for f: it awaits the ack
	// itself rather than through a goroutine of its own.
	own bool
	fut jetstream.PubAckFuture // set once sent

	done      chan struct{}
	err       error
	duplicate bool
}

func newFlight(subject string, size int) *flight {
	return &flight{subject: subject, buf: make([]byte, batchHeaderMax, batchHeaderMax+size), done: make(chan struct{})}
}

// put adds m to f, copying its Data.
func (f *flight) put(m *Message) {
	if m.Events == 0 {
		f.raw, f.buf = true, m.Data
	} else {
		f.buf = append(f.buf, m.Data...)
		f.events += m.Events
	}
	f.ids = append(f.ids, m.ID)
}

// size is the bytes of items f holds.
func (f *flight) size() int { return len(f.buf) - batchHeaderMax }

// data writes the header in front of the items and returns the message.
func (f *flight) data() []byte {
	if f.raw {
		return f.buf
	}
	var hdr [batchHeaderMax]byte
	h := hdr[:0]
	switch n := f.events + 1; {
	case n < 16:
		h = append(h, 0x90|byte(n))
	case n <= math.MaxUint16:
		h = binary.BigEndian.AppendUint16(append(h, 0xdc), uint16(n))
	default:
		h = binary.BigEndian.AppendUint32(append(h, 0xdd), uint32(n))
	}
	h = append(h, batchVersion)
	start := batchHeaderMax - len(h)
	copy(f.buf[start:], h)
	return f.buf[start:]
}

// id is the message's Nats-Msg-Id: the ID of the one Message it holds, or
// a hash of the IDs of all of them.
func (f *flight) id() string {
	if len(f.ids) == 1 {
		return f.ids[0]
	}
	sum := sha256.Sum256([]byte(strings.Join(f.ids, "\n")))
	return "group:" + hex.EncodeToString(sum[:16])
}

// await settles f with its ack, its error, or once timeout has passed
// (none when 0); with ctx done first it returns leaving f unsettled (only an
// own flight's caller passes a ctx that can end).
func (f *flight) await(ctx context.Context, timeout time.Duration) {
	var expired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	select {
	case ack := <-f.fut.Ok():
		f.settle(nil, ack.Duplicate)
	case err := <-f.fut.Err():
		f.settle(fmt.Errorf("%w: error storing message %s: %w", ErrUnavailable, f.id(), err), false)
	case <-expired:
		f.settle(fmt.Errorf("%w: no ack for message %s within %s", ErrUnavailable, f.id(), timeout), false)
	case <-ctx.Done():
	}
}

// settle records the outcome and wakes the waiting callers.
func (f *flight) settle(err error, duplicate bool) {
	f.err, f.duplicate = err, duplicate
	close(f.done)
}
