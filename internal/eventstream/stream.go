// Package eventstream is gamepipe's JetStream layer: it checks the connected
// server, ensures the TELEMETRY stream and its durable consumers exist with
// the configured limits, and publishes events with Nats-Msg-Id, answering only
// once JetStream has acknowledged them.
package eventstream

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// StreamName is the telemetry stream's name (a contract: see docs/architecture.md).
const StreamName = "TELEMETRY"

// SubjectsFilter matches every telemetry subject, telemetry.<app_id>.<kind>.
const SubjectsFilter = "telemetry.>"

// Durable consumer names on the TELEMETRY stream.
const (
	ConsumerSink     = "sink"
	ConsumerExporter = "exporter"
)

// ErrDiscardOld is returned for a stream config that would silently drop
// unconsumed events when full.
var ErrDiscardOld = errors.New("TELEMETRY must use DiscardNew: DiscardOld would drop events that were acknowledged to clients but not yet consumed")

// StreamConfig is the TELEMETRY stream's configuration.
type StreamConfig struct {
	// MaxAge is how long events are kept. Defaults to 7 days.
	MaxAge time.Duration
	// MaxBytes caps the stream's size; when full, publishes are refused
	// (DiscardNew) and the API answers 503. Defaults to -1 (unlimited).
	MaxBytes int64
	// Duplicates is the Nats-Msg-Id dedup window. Defaults to 2 minutes.
	Duplicates time.Duration
	// Replicas is the stream's replica count. Defaults to 1.
	Replicas int
	// Discard is the policy when full: "" or "new" (refuse new messages).
	// "old" (drop the oldest) is refused: see ErrDiscardOld.
	Discard string
}

func (c *StreamConfig) withDefaults() StreamConfig {
	out := *c
	out.MaxAge = cmp.Or(out.MaxAge, 7*24*time.Hour)
	out.MaxBytes = cmp.Or(out.MaxBytes, -1)
	out.Duplicates = cmp.Or(out.Duplicates, 2*time.Minute)
	out.Replicas = cmp.Or(out.Replicas, 1)
	return out
}

// Validate reports a configuration gamepipe refuses.
func (c *StreamConfig) Validate() error {
	switch c.Discard {
	case "", "new":
	case "old":
		return ErrDiscardOld
	default:
		return fmt.Errorf("unknown discard policy %q: use new", c.Discard)
	}
	if c.Duplicates < 0 || c.MaxAge < 0 {
		return errors.New("stream durations must not be negative")
	}
	return nil
}

// EnsureStream creates the TELEMETRY stream, or updates it to cfg. Several
// processes may call it at once.
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg *StreamConfig) (jetstream.Stream, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := cfg.withDefaults()
	s, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       StreamName,
		Subjects:   []string{SubjectsFilter},
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.LimitsPolicy,
		Discard:    jetstream.DiscardNew,
		MaxAge:     c.MaxAge,
		MaxBytes:   c.MaxBytes,
		Duplicates: c.Duplicates,
		Replicas:   c.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("error ensuring stream %s: %w", StreamName, err)
	}
	return s, nil
}

// ConsumerConfig configures a durable pull consumer on TELEMETRY.
type ConsumerConfig struct {
	// Durable is the consumer's name (ConsumerSink, ConsumerExporter).
	Durable string
	// AckWait is how long a delivered message may stay unacknowledged
	// before redelivery. Defaults to 30s.
	AckWait time.Duration
	// MaxDeliver bounds deliveries of one message. Defaults to 5.
	MaxDeliver int
	// MaxAckPending bounds unacknowledged messages. Defaults to 20000.
	MaxAckPending int
}

// EnsureConsumer creates or updates a durable, explicit-ack pull consumer.
func EnsureConsumer(ctx context.Context, js jetstream.JetStream, cfg *ConsumerConfig) (jetstream.Consumer, error) {
	if cfg.Durable == "" {
		return nil, errors.New("consumer needs a durable name")
	}
	c, err := js.CreateOrUpdateConsumer(ctx, StreamName, jetstream.ConsumerConfig{
		Durable:       cfg.Durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		FilterSubject: SubjectsFilter,
		AckWait:       cmp.Or(cfg.AckWait, 30*time.Second),
		MaxDeliver:    cmp.Or(cfg.MaxDeliver, 5),
		MaxAckPending: cmp.Or(cfg.MaxAckPending, 20000),
	})
	if err != nil {
		return nil, fmt.Errorf("error ensuring consumer %s: %w", cfg.Durable, err)
	}
	return c, nil
}

// OpenStream returns TELEMETRY as the API configured it, creating it with
// the defaults only when it does not exist yet. Consumers (worker, exporter)
// use it: EnsureStream with their own config would reset the API's limits.
func OpenStream(ctx context.Context, js jetstream.JetStream) (jetstream.Stream, error) {
	s, err := js.Stream(ctx, StreamName)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return EnsureStream(ctx, js, &StreamConfig{})
	}
	if err != nil {
		return nil, fmt.Errorf("error looking up stream %s: %w", StreamName, err)
	}
	return s, nil
}
