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
	"github.com/rs/zerolog"
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
	// Replicas is the stream's replica count (1, 3 or 5 in a cluster).
	// Defaults to 1. A stream that already has more replicas keeps them:
	// see KeepReplicas.
	Replicas int
	// Logger reports a stream kept at more replicas than configured. The
	// zero value logs nothing.
	Logger zerolog.Logger
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
	if c.Replicas < 0 || c.Replicas > 5 {
		return fmt.Errorf("stream replicas must be between 1 and 5, got %d", c.Replicas)
	}
	if c.Duplicates < 0 || c.MaxAge < 0 {
		return errors.New("stream durations must not be negative")
	}
	return nil
}

// EnsureStream creates the TELEMETRY stream, or updates it to cfg. Several
// processes may call it at once. It never lowers the replica count of an
// existing stream (KeepReplicas), and retries requests that go unanswered
// for up to a minute (a cluster electing its leaders).
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg *StreamConfig) (jetstream.Stream, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := cfg.withDefaults()
	replicas, err := streamReplicas(ctx, js, StreamName, c.Replicas, c.Logger)
	if err != nil {
		return nil, err
	}
	c.Replicas = replicas
	s, err := retryUnanswered(ctx, func() (jetstream.Stream, error) {
		return js.CreateOrUpdateStream(ctx, c.jetstreamConfig())
	})
	if err != nil {
		return nil, fmt.Errorf("error ensuring stream %s: %w", StreamName, err)
	}
	return s, nil
}

// jetstreamConfig is TELEMETRY's JetStream configuration for c, which has
// its defaults applied.
func (c *StreamConfig) jetstreamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:       StreamName,
		Subjects:   []string{SubjectsFilter},
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.LimitsPolicy,
		Discard:    jetstream.DiscardNew,
		MaxAge:     c.MaxAge,
		MaxBytes:   c.MaxBytes,
		Duplicates: c.Duplicates,
		Replicas:   c.Replicas,
	}
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
	// Replicas is the consumer's replica count; 0 follows the stream's,
	// which is what a durable consumer on a replicated stream wants. An
	// existing consumer with more replicas keeps them (KeepReplicas).
	Replicas int
	// Logger reports a consumer kept at more replicas than configured.
	Logger zerolog.Logger
}

// EnsureConsumer creates or updates a durable, explicit-ack pull consumer.
func EnsureConsumer(ctx context.Context, js jetstream.JetStream, cfg *ConsumerConfig) (jetstream.Consumer, error) {
	if cfg.Durable == "" {
		return nil, errors.New("consumer needs a durable name")
	}
	replicas := cfg.Replicas
	if replicas > 0 {
		have := 0
		existing, err := retryUnanswered(ctx, func() (jetstream.Consumer, error) { return js.Consumer(ctx, StreamName, cfg.Durable) })
		switch {
		case err == nil:
			have = existing.CachedInfo().Config.Replicas
		case !errors.Is(err, jetstream.ErrConsumerNotFound):
			return nil, fmt.Errorf("error looking up consumer %s: %w", cfg.Durable, err)
		}
		replicas = keepReplicas(cfg.Logger, "consumer "+cfg.Durable, have, replicas)
	}
	c, err := retryUnanswered(ctx, func() (jetstream.Consumer, error) {
		return js.CreateOrUpdateConsumer(ctx, StreamName, jetstream.ConsumerConfig{
			Durable:       cfg.Durable,
			AckPolicy:     jetstream.AckExplicitPolicy,
			DeliverPolicy: jetstream.DeliverAllPolicy,
			FilterSubject: SubjectsFilter,
			AckWait:       cmp.Or(cfg.AckWait, 30*time.Second),
			MaxDeliver:    cmp.Or(cfg.MaxDeliver, 5),
			MaxAckPending: cmp.Or(cfg.MaxAckPending, 20000),
			Replicas:      replicas,
		})
	})
	if err != nil {
		return nil, fmt.Errorf("error ensuring consumer %s: %w", cfg.Durable, err)
	}
	return c, nil
}

// OpenStream is OpenStreamReplicas with one replica.
func OpenStream(ctx context.Context, js jetstream.JetStream) (jetstream.Stream, error) {
	return OpenStreamReplicas(ctx, js, 1)
}

// OpenStreamReplicas returns TELEMETRY as the API configured it, creating
// it with the defaults and replicas only when it does not exist yet; it
// never updates it. Consumers (worker, exporter) use it: EnsureStream with
// their own config would reset the API's limits, and their NATS users may
// not update the stream (Role.Permissions).
func OpenStreamReplicas(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.Stream, error) {
	lookup := func() (jetstream.Stream, error) { return js.Stream(ctx, StreamName) }
	s, err := retryUnanswered(ctx, lookup)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		cfg := &StreamConfig{Replicas: replicas}
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
		c := cfg.withDefaults()
		s, err = retryUnanswered(ctx, func() (jetstream.Stream, error) { return js.CreateStream(ctx, c.jetstreamConfig()) })
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			// Another process created it meanwhile: use that one.
			s, err = retryUnanswered(ctx, lookup)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("error opening stream %s: %w", StreamName, err)
	}
	return s, nil
}

// KeepReplicas is the replica count to apply to a stream or consumer that
// has have replicas (0: it does not exist yet) when want are configured:
// never fewer than it has. Scaling an R3 stream down to R1 because one
// process started with the default would quietly drop its fault tolerance,
// so an operator's higher count wins and only an explicit change on the
// NATS side lowers it (docs/scaling.md).
func KeepReplicas(have, want int) int {
	return max(have, want)
}

// keepReplicas is KeepReplicas, logging when it keeps more than wanted.
func keepReplicas(logger zerolog.Logger, what string, have, want int) int {
	out := KeepReplicas(have, want)
	if out > want {
		logger.Warn().Str("name", what).Int("replicas", have).Int("configured", want).
			Msg("eventstream: keeping the existing replica count, higher than STREAM_REPLICAS; it is never lowered")
	}
	return out
}

// streamReplicas returns the replica count to give stream name: want, or
// more when the stream already has more.
func streamReplicas(ctx context.Context, js jetstream.JetStream, name string, want int, logger zerolog.Logger) (int, error) {
	s, err := retryUnanswered(ctx, func() (jetstream.Stream, error) { return js.Stream(ctx, name) })
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return want, nil
	}
	if err != nil {
		return 0, fmt.Errorf("error looking up stream %s: %w", name, err)
	}
	return keepReplicas(logger, "stream "+name, s.CachedInfo().Config.Replicas, want), nil
}
