// Package workercmd wires and runs cmd/worker: the JetStream sink that writes
// telemetry into Postgres, the River workers of every job kind, and the
// /healthz, /readyz and /metrics endpoint on WORKER_HTTP_ADDR. Shutdown order: stop fetching, commit and ack
// the batch in flight, let running jobs finish (SoftStopTimeout), stop HTTP,
// close NATS, close the pools.
package workercmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/gamepipe/gamepipe/internal/blob"
	"github.com/gamepipe/gamepipe/internal/config"
	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/generaitiv"
	"github.com/gamepipe/gamepipe/internal/health"
	"github.com/gamepipe/gamepipe/internal/infra"
	"github.com/gamepipe/gamepipe/internal/jobs"
	"github.com/gamepipe/gamepipe/internal/logging"
	"github.com/gamepipe/gamepipe/internal/metrics"
	"github.com/gamepipe/gamepipe/internal/sink"
	"github.com/gamepipe/gamepipe/internal/store"
)

// Run starts the worker and blocks until ctx is cancelled and it has stopped.
func Run(ctx context.Context, getenv config.Getenv, stderr io.Writer) error {
	cfg, err := config.WorkerFromEnv(getenv)
	if err != nil {
		return err
	}
	logger := logging.New(stderr, cfg.LogFormat, cfg.LogLevel, "worker")

	queues := jobs.QueueConfig{KinetixWorkers: cfg.KinetixConcurrency, GeneraitivWorkers: cfg.GeneraitivConcurrency}
	// River holds a connection per running job plus a few for its own
	// maintenance; the sink needs two. Size the pool for that, and refuse a
	// configured pool that is smaller (docs/reliability.md #27).
	needConns := int32(queues.MaxWorkers() + 8)
	if err := infra.CheckPoolSize(cfg.DatabaseURL, needConns); err != nil {
		return err
	}
	sinkPool, err := infra.Postgres(ctx, cfg.DatabaseURL, sink.ApplicationName, int32(2*cfg.SinkConcurrency+2), func(c *pgxpool.Config) {
		// lz4 for trajectories' TOASTed positions (make bench: raw COPY
		// 9.5k → 27k rows/s against pglz) and their fast encoding.
		c.AfterConnect = store.PrepareSinkConn
	})
	if err != nil {
		return err
	}
	defer sinkPool.Close()
	pool, err := infra.Postgres(ctx, cfg.DatabaseURL, "gamepipe-worker", needConns)
	if err != nil {
		return err
	}
	defer pool.Close()
	blobs, err := blob.NewDirStoreWithConfig(filepath.Join(cfg.DataDir, "blobs"), &blob.DirStoreConfig{MinFreeBytes: cfg.BlobMinFreeBytes})
	if err != nil {
		return err
	}
	nc, err := infra.NATS(ctx, logger, cfg.NatsURL, "gamepipe-worker")
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	if _, err := eventstream.OpenStream(ctx, js); err != nil {
		return err
	}
	cons, err := eventstream.EnsureConsumer(ctx, js, &eventstream.ConsumerConfig{
		Durable: eventstream.ConsumerSink, AckWait: cfg.AckWait, MaxDeliver: cfg.MaxDeliver,
	})
	if err != nil {
		return err
	}

	if _, err := eventstream.EnsureNotifyStream(ctx, js); err != nil {
		return err
	}

	reg := metrics.NewRegistry()
	// Several sink loops share the durable consumer, so fetching and
	// decoding one batch overlaps with committing another.
	sinks := make([]*sink.Sink, cfg.SinkConcurrency)
	for i := range sinks {
		if sinks[i], err = sink.New(logger, &sink.Config{BatchMax: cfg.SinkBatchMax, Metrics: reg}, sinkPool, cons); err != nil {
			return err
		}
	}

	secrets, err := infra.SecretBox(cfg.SecretsKey)
	if err != nil {
		return err
	}
	workers := river.NewWorkers()
	if err := jobs.Register(workers, &jobs.Deps{
		Secrets:  secrets,
		Logger:   logger,
		Pool:     pool,
		Blob:     blobs,
		Notifier: eventstream.NewNotifier(js),
		Kinetix: &jobs.KinetixDeps{
			BaseURL: cfg.KinetixBaseURL, APIKey: cfg.KinetixAPIKey, Deadline: cfg.KinetixDeadline,
		},
		Generaitiv: &jobs.GeneraitivDeps{
			ClientConfig: generaitiv.Config{
				BaseURL: cfg.GeneraitivBaseURL, WSURL: cfg.GeneraitivWSURL, APIKey: cfg.GeneraitivAPIKey,
				RateLimit: float64(cfg.GeneraitivRateLimit), TenantShare: cfg.GeneraitivAppShare,
			},
			PublicBaseURL: cfg.PublicBaseURL,
			MaxImageBytes: cfg.GeneraitivMaxImageBytes,
		},
		AppShare: jobs.AppShare{
			KinetixInFlight: cfg.AppKinetixInFlight, GeneraitivInFlight: cfg.AppGeneraitivInFlight, Wait: cfg.AppJobWait,
		},
		Webhooks: &jobs.WebhookDeps{AllowPrivate: cfg.WebhookAllowPrivate},
	}); err != nil {
		return err
	}
	riverClient, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Logger:               logging.Slog(logger.With().Str("component", "river").Logger()),
		Queues:               queues.Queues(),
		Workers:              workers,
		PeriodicJobs:         jobs.PeriodicJobs(true),
		JobTimeout:           cfg.JobTimeout,
		MaxAttempts:          cfg.JobMaxAttempts,
		RescueStuckJobsAfter: cfg.RescueStuckJobsAfter,
		FetchPollInterval:    cfg.FetchPollInterval,
		SoftStopTimeout:      cfg.SoftStopTimeout,
	})
	if err != nil {
		return fmt.Errorf("error creating river client: %w", err)
	}

	healthSrv := infra.HealthServer(cfg.HTTPAddr, infra.OpsMux(logger, reg,
		health.Check{Name: "postgres", Check: infra.PostgresCheck(pool)},
		health.Check{Name: "nats", Check: infra.NATSCheck(nc)},
		health.Check{Name: "sink", Check: func(context.Context) error {
			for _, sk := range sinks {
				if err := sk.Healthy(); err != nil {
					return err
				}
			}
			return nil
		}},
	))

	logger.Info().Str("health_addr", cfg.HTTPAddr).Msg("workercmd: started")
	g, gctx := errgroup.WithContext(ctx)
	for _, sk := range sinks {
		g.Go(func() error { return sk.Run(gctx) })
	}
	g.Go(func() error {
		// With SoftStopTimeout set, cancelling Start's context is a soft
		// stop: running jobs get that long to finish, then are cancelled
		// and go back to available.
		if err := riverClient.Start(gctx); err != nil {
			return fmt.Errorf("error starting river: %w", err)
		}
		<-riverClient.Stopped()
		return nil
	})
	g.Go(func() error { return infra.Serve(gctx, healthSrv, 5*time.Second) })
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	logger.Info().Msg("workercmd: stopped")
	return err
}
