package httpapi

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/telemetry"
)

// defaultMessageBytes caps a Message's items when the Publisher does not
// say (see messageBytes).
const defaultMessageBytes = 256 << 10

// messageBytes is the most bytes of items one published Message should
// hold: the Publisher's MaxBytes when it has one.
func messageBytes(p Publisher) int {
	if mb, ok := p.(interface{ MaxBytes() int }); ok && mb.MaxBytes() > 0 {
		return mb.MaxBytes()
	}
	return defaultMessageBytes
}

// encode turns a request's events into what is published: one Message per
// kind (subject telemetry.<app_id>.<kind>) holding that kind's events as
// batch items, in request order. A kind's items past maxBytes start another
// Message, split the same way on every retry of the same request. Each
// Message's ID is derived from its events' ids (see messageID). The
// Messages' Data share buf.data.
func (buf *ingestBuf) encode(appID string, events []telemetry.Event, maxBytes int) ([]eventstream.Message, error) {
	data := buf.data[:0]
	msgs := buf.msgs[:0]
	defer func() { buf.data, buf.msgs = data[:0], msgs[:0] }()
	for k := range telemetry.NumKinds {
		start, chunk := len(data), buf.chunk[:0]
		subject := ""
		for i := range events {
			ev := &events[i]
			if ev.Kind.Index() != k { // valid: decoded
				continue
			}
			if subject == "" {
				subject = ev.Subject()
			}
			itemStart := len(data)
			var err error
			if data, err = telemetry.AppendStoredItem(data, ev); err != nil {
				return nil, err
			}
			if len(chunk) > 0 && len(data)-start > maxBytes {
				msgs = append(msgs, eventstream.Message{Subject: subject, ID: buf.messageID(appID, events, chunk),
					Data: data[start:itemStart:itemStart], Events: len(chunk)})
				start, chunk = itemStart, chunk[:0]
			}
			chunk = append(chunk, i)
		}
		if len(chunk) > 0 {
			msgs = append(msgs, eventstream.Message{Subject: subject, ID: buf.messageID(appID, events, chunk),
				Data: data[start:len(data):len(data)], Events: len(chunk)})
		}
		buf.chunk = chunk[:0]
	}
	return msgs, nil
}

// messageID is the dedup id of the events chunk names: for one event, its
// id; for several, a hash of their ids in order. Either is scoped by app: a
// client chooses its event_id, and must not be able to shadow another
// app's events with it. A lone event keeps the id a one-event message had,
// so a request retried across an upgrade is still deduplicated.
func (buf *ingestBuf) messageID(appID string, events []telemetry.Event, chunk []int) string {
	if len(chunk) == 1 {
		return appID + ":" + events[chunk[0]].ID
	}
	ids := buf.ids[:0]
	for _, i := range chunk {
		ids = append(append(ids, events[i].ID...), '\n')
	}
	buf.ids = ids[:0]
	sum := sha256.Sum256(ids)
	return appID + ":batch:" + hex.EncodeToString(sum[:16])
}
