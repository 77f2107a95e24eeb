package eventstream

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrUnavailable wraps every publish failure: the stream did not store the
// messages (server down, timeout, stream full). Callers answer 503.
var ErrUnavailable = errors.New("event stream unavailable")

// Message is what one caller publishes on one subject.
type Message struct {
	// Subject is telemetry.<app_id>.<kind>.
	Subject string
	// ID identifies Data's events for dedup: the Nats-Msg-Id of the
	// message when Data is sent alone (see Publisher).
	ID string
	// Data is what is published. With Events > 0 it is a run of Events
	// batch items (telemetry.AppendStoredItem) that the Publisher frames as
	// one batch message, possibly with other callers' items; with Events 0
	// it is sent as it is, alone.
	Data []byte
	// Events is how many batch items Data holds; 0 for raw bytes.
	Events int
}

// PublisherConfig configures a Publisher.
type PublisherConfig struct {
	// Timeout bounds the wait for all acks of one Publish. Defaults to 5s.
	Timeout time.Duration
	// Group gathers concurrent Publish calls' items of a subject into
	// shared messages (group commit): while a message of the subject
	// awaits its ack, the items that follow go into the next one, sent
	// when that ack arrives. Without it (and with Linger 0) each call's
	// messages are sent at once, on their own.
	Group bool
	// Linger is how long the first items of a subject with no message
	// awaiting its ack wait for other calls' items before their message
	// is sent. 0 sends them at once. Above 0 it implies Group.
	Linger time.Duration
	// MaxBytes caps a grouped message: items that would make it larger go
	// into the next one (a Message larger by itself goes alone). Defaults to
	// 256KiB, and is kept under the server's max_payload.
	MaxBytes int
	// Fault, when set, is asked before each message the Publisher sends,
	// with the number of messages it sent before; a non-nil error fails
	// that message as if the server had. Tests only.
	Fault func(i int) error
}

// publishRetryWait is the pause between publish retries when the stream
// has no responder, as during a leader election.
const publishRetryWait = 250 * time.Millisecond

// Publisher publishes events to JetStream and waits for their acks.
//
// With Group, a Message with Events > 0 goes into the open message of its
// subject: one is opened by the first such Message and sent at once (or
// Linger later) when no earlier message of the subject awaits its ack, and
// otherwise once that ack arrives, or as soon as it holds MaxBytes. Every caller whose items it holds waits for its ack, so
// a Publish returns nil only once every message holding its items is
// stored, and a Message's items are never split between two messages. The
// Nats-Msg-Id of a message holding one Message is that Message's ID, so a
// retried identical request sent alone is deduplicated by the stream; a
// message holding several is identified by a hash of their IDs.
type Publisher struct {
	js       jetstream.JetStream
	cfg      PublisherConfig
	maxBytes int
	sent     atomic.Int64

	mu   sync.Mutex
	open map[string]*flight // the message still taking items, by subject
	busy map[string]int     // messages sent and not yet settled, by subject
}

// NewPublisher wraps a JetStream context. Create js with
// jetstream.WithPublishAsyncMaxPending large enough for the API's
// concurrency, and WithPublishAsyncTimeout no longer than cfg.Timeout.
func NewPublisher(js jetstream.JetStream, cfg *PublisherConfig) *Publisher {
	c := *cfg
	c.Timeout = cmp.Or(c.Timeout, 5*time.Second)
	c.Group = c.Group || c.Linger > 0
	maxBytes := cmp.Or(c.MaxBytes, 256<<10)
	if nc := js.Conn(); nc != nil {
		// max_payload counts the headers too: leave them room.
		if mp := int(nc.MaxPayload()); mp > 8<<10 {
			maxBytes = min(maxBytes, mp-4<<10)
		}
	}
	return &Publisher{js: js, cfg: c, maxBytes: maxBytes, open: make(map[string]*flight), busy: make(map[string]int)}
}

// MaxBytes is the most bytes of items one Message should hold; a caller
// splits larger runs of items into several Messages.
func (p *Publisher) MaxBytes() int { return p.maxBytes }

// Result reports what one Publish stored.
type Result struct {
	// Duplicates counts messages JetStream recognised as already stored
	// (same Nats-Msg-Id within the dedup window).
	Duplicates int
}

// Publish sends msgs and returns only when JetStream has acknowledged
// every message holding them, or an error wrapping ErrUnavailable as soon
// as any fails. On error some messages may have been stored; a retry with
// the same ids is deduplicated by the stream and, past its window or when
// grouped differently, by the sink's primary key. Publish does not keep
// msgs' Data once it returns.
func (p *Publisher) Publish(ctx context.Context, msgs []Message) (*Result, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()

	var local [4]*flight
	flights := local[:0]
	for i := range msgs {
		f := p.add(&msgs[i])
		if len(flights) == 0 || flights[len(flights)-1] != f {
			flights = append(flights, f)
		}
	}

	res := &Result{}
	for _, f := range flights {
		if f.own && f.fut != nil {
			f.await(ctx, 0) // ctx carries the timeout
		}
		select {
		case <-f.done:
			if f.err != nil {
				return nil, f.err
			}
			if f.duplicate {
				res.Duplicates++
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: waiting for acks: %w", ErrUnavailable, ctx.Err())
		}
	}
	return res, nil
}

// add puts m into a message and returns it; the message is sent by add
// itself, or later by its Linger timer or once the subject's message
// awaiting its ack is settled (finished).
func (p *Publisher) add(m *Message) *flight {
	if m.Events == 0 || !p.cfg.Group {
		size := 0
		if m.Events > 0 {
			size = len(m.Data)
		}
		f := newFlight(m.Subject, size)
		f.put(m)
		f.own = true
		p.send(f)
		return f
	}
	p.mu.Lock()
	f := p.open[m.Subject]
	var full *flight
	if f != nil && f.size()+len(m.Data) > p.maxBytes {
		full = p.close(f)
		f = nil
	}
	if f == nil {
		f = newFlight(m.Subject, min(p.maxBytes, 4*len(m.Data)))
		p.open[m.Subject] = f
		if p.cfg.Linger > 0 {
			f.timer = time.AfterFunc(p.cfg.Linger, func() { p.expire(f) })
		} else {
			f.expired = true // sent now, or when the subject's last ack arrives
		}
	}
	f.put(m)
	var now *flight
	if f.size() >= p.maxBytes || f.expired && p.busy[m.Subject] == 0 {
		now = p.close(f)
	}
	p.mu.Unlock()
	if full != nil {
		go p.sendShared(full)
	}
	if now != nil {
		p.sendShared(now)
	}
	return f
}

// close stops f taking items and counts it in flight: it is to be sent.
// Called with p.mu held; returns f.
func (p *Publisher) close(f *flight) *flight {
	delete(p.open, f.subject)
	if f.timer != nil {
		f.timer.Stop()
	}
	p.busy[f.subject]++
	return f
}

// expire sends f when its Linger is over, unless it was sent already. While
// an earlier message of the subject awaits its ack, f keeps taking items
// and is sent once that ack arrives (see finished): the stream stores (and,
// with sync_interval always, fsyncs) the messages of a subject one after
// the other, so the time spent waiting grows the next message instead of
// queueing more small ones.
func (p *Publisher) expire(f *flight) {
	p.mu.Lock()
	var now *flight
	if p.open[f.subject] == f {
		if p.busy[f.subject] > 0 {
			f.expired = true
		} else {
			now = p.close(f)
		}
	}
	p.mu.Unlock()
	if now != nil {
		p.sendShared(now)
	}
}

// finished is called once a shared message of subject is settled: it sends
// the subject's open message if its Linger is over.
func (p *Publisher) finished(subject string) {
	p.mu.Lock()
	p.busy[subject]--
	if p.busy[subject] == 0 {
		delete(p.busy, subject)
	}
	var now *flight
	if f := p.open[subject]; f != nil && f.expired && p.busy[subject] == 0 {
		now = p.close(f)
	}
	p.mu.Unlock()
	if now != nil {
		p.sendShared(now)
	}
}

// sendShared sends a message several callers may wait for, settles it in
// the background and then lets the subject's next message go.
func (p *Publisher) sendShared(f *flight) {
	p.send(f)
	go func() {
		if f.fut != nil {
			f.await(context.Background(), p.cfg.Timeout)
		}
		p.finished(f.subject)
	}()
}

// send publishes f and, in the background, settles it with its ack.
func (p *Publisher) send(f *flight) {
	i := int(p.sent.Add(1) - 1)
	if p.cfg.Fault != nil {
		if err := p.cfg.Fault(i); err != nil {
			f.settle(fmt.Errorf("%w: error publishing message %s: %w", ErrUnavailable, f.id(), err), false)
			return
		}
	}
	id := f.id()
	fut, err := p.js.PublishMsgAsync(&nats.Msg{
		Subject: f.subject,
		Data:    f.data(),
		Header:  nats.Header{jetstream.MsgIDHeader: []string{id}},
	}, jetstream.WithExpectStream(StreamName),
		// While a clustered stream elects a new leader it has no
		// responder; the client retries inside Timeout, and a repeat is
		// harmless (Nats-Msg-Id dedup).
		jetstream.WithRetryWait(publishRetryWait),
		jetstream.WithRetryAttempts(int(p.cfg.Timeout/publishRetryWait)))
	if err != nil {
		f.settle(fmt.Errorf("%w: error publishing message %s: %w", ErrUnavailable, id, err), false)
		return
	}
	f.fut = fut
}
