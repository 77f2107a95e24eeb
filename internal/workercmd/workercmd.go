// Package workercmd wires and runs cmd/worker: the JetStream sink that writes
// telemetry into Postgres, and its health and metrics endpoint. Shutdown
// order: stop fetching, commit and ack the batch in flight, stop HTTP, close
// NATS, close the pool.
package workercmd

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/gamepipe/gamepipe/internal/config"
	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/infra"
	"github.com/gamepipe/gamepipe/internal/logging"
	"github.com/gamepipe/gamepipe/internal/metrics"
	"github.com/gamepipe/gamepipe/internal/sink"
)

// Run starts the worker and blocks until ctx is cancelled and it has stopped.
func Run(ctx context.Context, getenv config.Getenv, stderr io.Writer) error {
	cfg, err := config.WorkerFromEnv(getenv)
	if err != nil {
		return err
	}
	logger := logging.New(stderr, cfg.LogFormat, cfg.LogLevel, "worker")

	pool, err := infra.Postgres(ctx, cfg.DatabaseURL, "gamepipe-sink", 8)
	if err != nil {
		return err
	}
	defer pool.Close()
	nc, err := infra.NATS(ctx, logger, cfg.NatsURL, "gamepipe-worker")
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	if _, err := eventstream.EnsureStream(ctx, js, &eventstream.StreamConfig{}); err != nil {
		return err
	}
	cons, err := eventstream.EnsureConsumer(ctx, js, &eventstream.ConsumerConfig{
		Durable: eventstream.ConsumerSink, AckWait: cfg.AckWait, MaxDeliver: cfg.MaxDeliver,
	})
	if err != nil {
		return err
	}

	m := metrics.New()
	sk, err := sink.New(logger, &sink.Config{BatchMax: cfg.SinkBatchMax, Metrics: m}, pool, cons)
	if err != nil {
		return err
	}

	health := infra.HealthServer(cfg.HTTPAddr, infra.HealthMux(m,
		infra.Check{Name: "postgres", Check: infra.PostgresCheck(pool)},
		infra.Check{Name: "nats", Check: infra.NATSCheck(nc)},
		infra.Check{Name: "sink", Check: func(context.Context) error { return sk.Healthy() }},
	))

	logger.Info().Str("health_addr", cfg.HTTPAddr).Msg("workercmd: started")
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return sk.Run(gctx) })
	g.Go(func() error { return infra.Serve(gctx, health, 5*time.Second) })
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	logger.Info().Msg("workercmd: stopped")
	return err
}
