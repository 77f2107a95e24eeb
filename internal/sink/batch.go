package sink

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/telemetry"
)

// batch is one fetched batch: its messages, the events decoded from them
// (a message holds one event or many, see telemetry.SplitStored), and the
// poison found among them. Its slices are reused from batch to batch.
type batch struct {
	msgs []jetstream.Msg
	// events[i] was decoded from item eventItem[i] of msgs[eventMsg[i]],
	// whose stored bytes are eventData[i].
	events    []telemetry.Event
	eventMsg  []int
	eventItem []int
	eventData [][]byte
	// letters are the poison messages and events found while decoding.
	letters []letter
	items   [][]byte // SplitStored's scratch
}

// letter is one poison event (item >= 0) or a whole poison message
// (item < 0) of the batch.
type letter struct {
	msg    int
	item   int
	data   []byte
	reason string
}

// decode fills the batch from msgs: each message's events, or a letter for
// each event that is poison (and one for a message that cannot be split).
func (b *batch) decode(logger zerolog.Logger, msgs []jetstream.Msg) {
	b.msgs = msgs
	b.events = b.events[:0]
	b.eventMsg = b.eventMsg[:0]
	b.eventItem = b.eventItem[:0]
	clear(b.eventData) // drop references to earlier payloads
	b.eventData = b.eventData[:0]
	clear(b.letters)
	b.letters = b.letters[:0]
	for i, msg := range msgs {
		items, err := telemetry.SplitStored(msg.Data(), b.items[:0])
		b.items = items[:0]
		if err != nil {
			b.letters = append(b.letters, newLetter(logger, msg, i, -1, msg.Data(), err.Error()))
			continue
		}
		for j, item := range items {
			b.events = append(b.events, telemetry.Event{})
			ev := &b.events[len(b.events)-1]
			reason := ""
			if err := telemetry.UnmarshalStored(item, ev); err != nil {
				reason = err.Error()
			} else if !ev.HasSubject(msg.Subject()) {
				reason = fmt.Sprintf("subject %q does not match the event's app_id and kind (%s)", msg.Subject(), ev.Subject())
			} else if err := store.CheckEvent(ev); err != nil {
				reason = err.Error()
			}
			if reason != "" {
				b.events = b.events[:len(b.events)-1]
				b.letters = append(b.letters, newLetter(logger, msg, i, j, item, reason))
				continue
			}
			b.eventMsg = append(b.eventMsg, i)
			b.eventItem = append(b.eventItem, j)
			b.eventData = append(b.eventData, item)
		}
	}
	clear(b.items[:cap(b.items)])
}

// insertEachEvent writes the batch's events one by one, each on a savepoint
// of tx, and returns letters extended with a letter for every event
// Postgres refuses as data. Any other error is returned.
func (b *batch) insertEachEvent(ctx context.Context, logger zerolog.Logger, tx pgx.Tx, letters []letter) (*store.InsertResult, []letter, error) {
	// Never append into b.letters: a retry of the transaction starts over.
	letters = letters[:len(letters):len(letters)]
	total := &store.InsertResult{Inserted: map[telemetry.Kind]int{}}
	for i := range b.events {
		var res *store.InsertResult
		err := pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error {
			var err error
			res, err = store.InsertEvents(ctx, sp, b.events[i:i+1])
			return err
		})
		switch {
		case err == nil:
			for kind, n := range res.Inserted {
				total.Inserted[kind] += n
			}
			total.Skipped += res.Skipped
			total.Players += res.Players
		case store.IsDataError(err):
			m := b.eventMsg[i]
			letters = append(letters, newLetter(logger, b.msgs[m], m, b.eventItem[i], b.eventData[i], "refused by Postgres: "+err.Error()))
		default:
			return nil, nil, err
		}
	}
	return total, letters, nil
}

// deadLetters makes one dead letter per message with poison: the message's
// own bytes when it is poison as a whole or holds one event, otherwise a
// batch (telemetry.AppendStoredBatchHeader) of just its poison events, with
// a reason naming each by its index in the message. The message's other
// events are stored as usual.
func (b *batch) deadLetters(letters []letter) []store.DeadLetter {
	if len(letters) == 0 {
		return nil
	}
	var out []store.DeadLetter
	done := make(map[int]bool)
	for i, l := range letters {
		if done[l.msg] {
			continue
		}
		done[l.msg] = true
		var group []letter
		for _, g := range letters[i:] {
			if g.msg == l.msg {
				group = append(group, g)
			}
		}
		out = append(out, b.deadLetter(l.msg, group))
	}
	return out
}

func (b *batch) deadLetter(m int, group []letter) store.DeadLetter {
	msg := b.msgs[m]
	l := store.DeadLetter{Subject: msg.Subject(), StreamSeq: streamSeq(msg)}
	if len(group) == 1 && (group[0].item < 0 || !telemetry.IsStoredBatch(msg.Data())) {
		l.Data, l.Reason = msg.Data(), group[0].reason
		return l
	}
	data := telemetry.AppendStoredBatchHeader(nil, len(group))
	var reason strings.Builder
	for i, g := range group {
		data = telemetry.AppendStoredItemBytes(data, g.data)
		if i > 0 {
			reason.WriteString("; ")
		}
		reason.WriteString("event " + strconv.Itoa(g.item) + " of the message: " + g.reason)
	}
	l.Data, l.Reason = data, reason.String()
	return l
}

func streamSeq(msg jetstream.Msg) uint64 {
	if meta, err := msg.Metadata(); err == nil {
		return meta.Sequence.Stream
	}
	return 0
}

// newLetter makes the letter for a poison message or event, and logs it.
func newLetter(logger zerolog.Logger, msg jetstream.Msg, m, item int, data []byte, reason string) letter {
	var seq, delivered uint64
	if meta, err := msg.Metadata(); err == nil {
		seq, delivered = meta.Sequence.Stream, meta.NumDelivered
	}
	logger.Warn().Str("subject", msg.Subject()).Uint64("stream_seq", seq).Int("item", item).Uint64("num_delivered", delivered).
		Int("size", len(data)).Str("reason", reason).Msg("sink: Poison message, keeping it as a dead letter")
	return letter{msg: m, item: item, data: data, reason: reason}
}
