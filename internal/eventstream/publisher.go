package eventstream

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrUnavailable wraps every publish failure: the stream did not store the
// messages (server down, timeout, stream full). Callers answer 503.
var ErrUnavailable = errors.New("event stream unavailable")

// Message is one event to publish.
type Message struct {
	// Subject is telemetry.<app_id>.<kind>.
	Subject string
	// ID is the event id, sent as Nats-Msg-Id for dedup.
	ID string
	// Data is the canonical encoded event.
	Data []byte
}

// PublisherConfig configures a Publisher.
type PublisherConfig struct {
	// Timeout bounds the wait for all acks of one Publish. Defaults to 5s.
	Timeout time.Duration
	// Fault, when set, is asked before each message of a Publish (by index);
	// a non-nil error fails that message as if the server had. Tests only.
	Fault func(i int) error
}

// publishRetryWait is the pause between publish retries when the stream
// has no responder, as during a leader election.
const publishRetryWait = 250 * time.Millisecond

// Publisher publishes events to JetStream and waits for their acks.
type Publisher struct {
	js  jetstream.JetStream
	cfg PublisherConfig
}

// NewPublisher wraps a JetStream context. Create js with
// jetstream.WithPublishAsyncMaxPending large enough for the API's
// concurrency × batch size.
func NewPublisher(js jetstream.JetStream, cfg *PublisherConfig) *Publisher {
	c := *cfg
	c.Timeout = cmp.Or(c.Timeout, 5*time.Second)
	return &Publisher{js: js, cfg: c}
}

// Result reports what one Publish stored.
type Result struct {
	// Duplicates counts messages JetStream recognised as already stored
	// (same Nats-Msg-Id within the dedup window).
	Duplicates int
}

// Publish sends every message asynchronously and returns only when
// JetStream has acknowledged all of them, or an error wrapping
// ErrUnavailable as soon as any fails. On error some messages may have been
// stored; a retry with the same ids is deduplicated by the stream and, past
// its window, by the sink's primary key.
func (p *Publisher) Publish(ctx context.Context, msgs []Message) (*Result, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()

	futures := make([]jetstream.PubAckFuture, 0, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		if p.cfg.Fault != nil {
			if err := p.cfg.Fault(i); err != nil {
				return nil, fmt.Errorf("%w: error publishing event %s: %w", ErrUnavailable, m.ID, err)
			}
		}
		f, err := p.js.PublishMsgAsync(&nats.Msg{
			Subject: m.Subject,
			Data:    m.Data,
			Header:  nats.Header{jetstream.MsgIDHeader: []string{m.ID}},
		}, jetstream.WithExpectStream(StreamName),
			// While a clustered stream elects a new leader it has no
			// responder; the client retries inside Timeout, and a repeat
			// is harmless (Nats-Msg-Id dedup).
			jetstream.WithRetryWait(publishRetryWait),
			jetstream.WithRetryAttempts(int(p.cfg.Timeout/publishRetryWait)))
		if err != nil {
			return nil, fmt.Errorf("%w: error publishing event %s: %w", ErrUnavailable, m.ID, err)
		}
		futures = append(futures, f)
	}

	res := &Result{}
	for i, f := range futures {
		select {
		case ack := <-f.Ok():
			if ack.Duplicate {
				res.Duplicates++
			}
		case err := <-f.Err():
			return nil, fmt.Errorf("%w: error storing event %s: %w", ErrUnavailable, msgs[i].ID, err)
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: waiting for acks: %w", ErrUnavailable, ctx.Err())
		}
	}
	return res, nil
}
