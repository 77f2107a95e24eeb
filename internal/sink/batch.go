package sink

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/telemetry"
)

// batch is one fetched batch: its messages, the events decoded from them,
// and dead letters for the messages that are poison. Its slices are reused
// from batch to batch.
type batch struct {
	msgs []jetstream.Msg
	// events[i] was decoded from msgs[eventMsg[i]].
	events   []telemetry.Event
	eventMsg []int
	// letters are the poison messages found while decoding.
	letters []store.DeadLetter
}

// decode fills the batch from msgs: each message becomes an event, or a
// dead letter when it is poison.
func (b *batch) decode(logger zerolog.Logger, msgs []jetstream.Msg) {
	b.msgs = msgs
	b.events = b.events[:0]
	b.eventMsg = b.eventMsg[:0]
	clear(b.letters) // drop references to earlier payloads
	b.letters = b.letters[:0]
	for i, msg := range msgs {
		b.events = append(b.events, telemetry.Event{})
		ev := &b.events[len(b.events)-1]
		reason := ""
		if err := telemetry.UnmarshalStored(msg.Data(), ev); err != nil {
			reason = err.Error()
		} else if !ev.HasSubject(msg.Subject()) {
			reason = fmt.Sprintf("subject %q does not match the event's app_id and kind (%s)", msg.Subject(), ev.Subject())
		} else if err := store.CheckEvent(ev); err != nil {
			reason = err.Error()
		}
		if reason != "" {
			b.events = b.events[:len(b.events)-1]
			b.letters = append(b.letters, deadLetter(logger, msg, reason))
			continue
		}
		b.eventMsg = append(b.eventMsg, i)
	}
}

// insertEachEvent writes the batch's events one by one, each on a savepoint
// of tx, and returns letters extended with a dead letter for every event
// Postgres refuses as data. Any other error is returned.
func (b *batch) insertEachEvent(ctx context.Context, logger zerolog.Logger, tx pgx.Tx, letters []store.DeadLetter) (*store.InsertResult, []store.DeadLetter, error) {
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
			letters = append(letters, deadLetter(logger, b.msgs[b.eventMsg[i]], "refused by Postgres: "+err.Error()))
		default:
			return nil, nil, err
		}
	}
	return total, letters, nil
}

// deadLetter makes the dead letter for a poison message, and logs it.
func deadLetter(logger zerolog.Logger, msg jetstream.Msg, reason string) store.DeadLetter {
	l := store.DeadLetter{Subject: msg.Subject(), Data: msg.Data(), Reason: reason}
	var delivered uint64
	if meta, err := msg.Metadata(); err == nil {
		l.StreamSeq = meta.Sequence.Stream
		delivered = meta.NumDelivered
	}
	logger.Warn().Str("subject", l.Subject).Uint64("stream_seq", l.StreamSeq).Uint64("num_delivered", delivered).
		Int("size", len(l.Data)).Str("reason", reason).Msg("sink: Poison message, keeping it as a dead letter")
	return l
}
