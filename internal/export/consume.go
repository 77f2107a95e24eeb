package export

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gamepipe/gamepipe/internal/telemetry"
)

// fetchLoop pulls batches until stop is closed and hands them to the Run
// loop over out. Run keeps receiving until the loop ends, so no fetched
// message is dropped on a graceful stop; when Run is gone (a fault), what
// the loop holds is left to redelivery.
func (e *Exporter) fetchLoop(stop, gone <-chan struct{}, out chan<- []jetstream.Msg) {
	backoff := 100 * time.Millisecond
	for {
		select {
		case <-stop:
			return
		case <-gone:
			return
		default:
		}
		batch, err := e.cons.Fetch(e.cfg.FetchBatch, jetstream.FetchMaxWait(e.cfg.FetchWait))
		if err == nil {
			if !e.handOver(batch.Messages(), gone, out) {
				return
			}
			err = batch.Error()
		}
		if err == nil {
			backoff = 100 * time.Millisecond
			continue
		}
		e.log.Warn().Err(err).Dur("retry_in", backoff).Msg("export: error fetching messages")
		select {
		case <-time.After(backoff):
		case <-stop:
			return
		case <-gone:
			return
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// handOver passes a batch's messages to out as they arrive, grouping those
// already waiting, so that none waits for the batch to fill up (its AckWait
// runs from delivery). It returns false when Run is gone.
func (e *Exporter) handOver(batch <-chan jetstream.Msg, gone <-chan struct{}, out chan<- []jetstream.Msg) bool {
	for m := range batch {
		group := []jetstream.Msg{m}
	ready:
		for len(group) < e.cfg.FetchBatch {
			select {
			case m, ok := <-batch:
				if !ok {
					break ready
				}
				group = append(group, m)
			default:
				break ready
			}
		}
		select {
		case out <- group:
		case <-gone:
			return false
		}
	}
	return true
}

// addMessages buffers fetched messages' events and writes the buffers that
// reached a size or count limit. A message that cannot be split is
// terminated; an event of it that cannot be exported is left out (the sink
// keeps it as a dead letter) and its other events are written; a message
// none of whose events can be exported is terminated.
func (e *Exporter) addMessages(msgs []jetstream.Msg) error {
	now := time.Now()
	var ev telemetry.Event
	for _, m := range msgs {
		md, err := m.Metadata()
		if err != nil {
			e.log.Warn().Err(err).Str("subject", m.Subject()).Msg("export: skipping a message without JetStream metadata")
			continue
		}
		if e.bufs.redelivered(md.Sequence.Stream, m) {
			continue
		}
		items, err := telemetry.SplitStored(m.Data(), e.items[:0])
		e.items = items[:0]
		if err != nil {
			e.poison(m, err)
			continue
		}
		p := e.bufs.track(m, md.Sequence.Stream)
		var full []*buffer
		var firstErr error
		for i, item := range items {
			b, err := e.addEvent(item, &ev, p, now)
			if err != nil {
				firstErr = cmp.Or(firstErr, err)
				e.skipEvent(m, i, err)
				continue
			}
			if b.lines.Len() >= e.cfg.MaxFileBytes && !slices.Contains(full, b) {
				full = append(full, b)
			}
		}
		clear(items)
		if p.left == 0 {
			e.bufs.untrack(p)
			e.terminate(m, cmp.Or(firstErr, errors.New("the message holds no event")))
			continue
		}
		for _, b := range full {
			if _, err := e.flush([]*buffer{e.bufs.remove(b)}, reasonSize); err != nil {
				return err
			}
		}
	}
	e.metrics.buffered.Set(float64(e.bufs.events))
	if e.bufs.events >= e.cfg.MaxBufferedEvents {
		if _, err := e.flush(e.bufs.take(nil), reasonCount); err != nil {
			return err
		}
	}
	return nil
}

// addEvent decodes one stored event of p's message and buffers its line.
func (e *Exporter) addEvent(item []byte, ev *telemetry.Event, p *pending, now time.Time) (*buffer, error) {
	if err := telemetry.UnmarshalStored(item, ev); err != nil {
		return nil, err
	}
	if !ev.HasSubject(p.msg.Subject()) {
		return nil, fmt.Errorf("subject %q does not match the event's app_id and kind", p.msg.Subject())
	}
	if !safeSegment(ev.AppID) {
		return nil, fmt.Errorf("app_id %q cannot name a directory", ev.AppID)
	}
	return e.bufs.add(ev, p, now)
}

// skipEvent logs an event left out of the export.
func (e *Exporter) skipEvent(m jetstream.Msg, item int, err error) {
	e.metrics.poison.Inc()
	ev := e.log.Warn().Err(err).Str("subject", m.Subject()).Int("item", item)
	if md, merr := m.Metadata(); merr == nil {
		ev = ev.Uint64("stream_seq", md.Sequence.Stream)
	}
	ev.Msg("export: leaving out an event that cannot be exported")
}

// poison terminates a message that can never be exported. The sink keeps
// its own dead letter of the same bytes.
func (e *Exporter) poison(m jetstream.Msg, err error) {
	e.metrics.poison.Inc()
	e.terminate(m, err)
}

// terminate ends a message that holds nothing to export.
func (e *Exporter) terminate(m jetstream.Msg, err error) {
	ev := e.log.Warn().Err(err).Str("subject", m.Subject())
	if md, merr := m.Metadata(); merr == nil {
		ev = ev.Uint64("stream_seq", md.Sequence.Stream)
	}
	ev.Msg("export: terminating a message that cannot be exported")
	if terr := m.TermWithReason("export: " + err.Error()); terr != nil {
		e.log.Warn().Err(terr).Msg("export: error terminating message")
	}
}
