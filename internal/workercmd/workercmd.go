// Package workercmd wires and runs cmd/worker: the JetStream sink that writes
// telemetry into Postgres, the River workers of every job kind, and the
// /healthz, /readyz and /metrics endpoint on WORKER_HTTP_ADDR. Shutdown order: stop fetching, commit and ack
// the batch in flight, let running jobs finish (SoftStopTimeout), stop HTTP,
// close NATS, close the pools.
//
// Run reads the configuration and builds the parts in dependency order, one
// function each: storage (pools and blobs), NATS (stream and consumers), the
// sink loops, the River client, the ops server; then serve runs them until
// the context ends.
package workercmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/gamepipe/gamepipe/internal/auth"
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
	return RunWithSinkFault(ctx, getenv, stderr, nil)
}

// RunWithSinkFault is Run with fault as every sink loop's sink.Config.Fault:
// a test hook, so that a chaos test can kill a worker process between a
// batch's commit and its acks.
func RunWithSinkFault(ctx context.Context, getenv config.Getenv, stderr io.Writer, fault func(stage string)) error {
	cfg, err := config.WorkerFromEnv(getenv)
	if err != nil {
		return err
	}
	logger := logging.New(stderr, cfg.LogFormat, cfg.LogLevel, "worker")
	queues := jobs.QueueConfig{KinetixWorkers: cfg.KinetixConcurrency, GeneraitivWorkers: cfg.GeneraitivConcurrency}

	st, err := openStorage(ctx, cfg, queues)
	if err != nil {
		return err
	}
	defer st.Close()
	conn, err := connectNATS(ctx, logger, cfg)
	if err != nil {
		return err
	}
	defer conn.nc.Close()

	reg := metrics.NewRegistry()
	sinks, err := newSinks(logger, cfg, reg, st.sinkPool, conn.sinkConsumer, fault)
	if err != nil {
		return err
	}
	riverClient, err := newRiverClient(logger, cfg, queues, st, conn.js)
	if err != nil {
		return err
	}
	ops := opsServer(logger, cfg.HTTPAddr, reg, st.pool, conn.nc, sinks)
	return serve(ctx, logger, cfg.HTTPAddr, sinks, riverClient, ops)
}

// storage is the worker's Postgres pools and blob store.
type storage struct {
	// sinkPool is the sink's own pool; its connections are prepared for
	// COPY.
	sinkPool *pgxpool.Pool
	// pool serves River and the job workers.
	pool  *pgxpool.Pool
	blobs blob.Store
}

// openStorage opens the pools and the blob store; on error nothing is left
// open.
func openStorage(ctx context.Context, cfg *config.Worker, queues jobs.QueueConfig) (*storage, error) {
	// River holds a connection per running job plus a few for its own
	// maintenance; the sink needs two. Size the pool for that, and refuse a
	// configured pool that is smaller (docs/reliability.md #27).
	needConns := int32(queues.MaxWorkers() + 8)
	if err := infra.CheckPoolSize(cfg.DatabaseURL, needConns); err != nil {
		return nil, err
	}
	sinkPool, err := infra.Postgres(ctx, cfg.DatabaseURL, sink.ApplicationName, int32(2*cfg.SinkConcurrency+2), func(c *pgxpool.Config) {
		// lz4 for trajectories' TOASTed positions (make bench: raw COPY
		// 9.5k → 27k rows/s against pglz) and their fast encoding.
		c.AfterConnect = store.PrepareSinkConn
	})
	if err != nil {
		return nil, err
	}
	pool, err := infra.Postgres(ctx, cfg.DatabaseURL, "gamepipe-worker", needConns)
	if err != nil {
		sinkPool.Close()
		return nil, err
	}
	st := &storage{sinkPool: sinkPool, pool: pool}
	st.blobs, err = infra.BlobStore(ctx, &infra.BlobConfig{Kind: cfg.Blob.Kind, Dir: cfg.Blob.Dir,
		MinFreeBytes: cfg.BlobMinFreeBytes, S3: blob.S3Location(cfg.Blob.S3)}, pool)
	if err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// Close closes the jobs' pool, then the sink's.
func (st *storage) Close() {
	st.pool.Close()
	st.sinkPool.Close()
}

// natsConn is the worker's NATS connection, with the event stream's sink
// consumer and the notify stream in place.
type natsConn struct {
	nc           *nats.Conn
	js           jetstream.JetStream
	sinkConsumer jetstream.Consumer
}

// connectNATS connects, opens the event stream, ensures the sink's durable
// consumer and the notify stream; on error the connection is closed.
func connectNATS(ctx context.Context, logger zerolog.Logger, cfg *config.Worker) (_ *natsConn, err error) {
	nc, err := infra.NATS(ctx, logger, cfg.NatsURL, eventstream.RoleWorker, eventstream.Credentials(cfg.NATSAuth))
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			nc.Close()
		}
	}()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	if _, err := eventstream.OpenStreamReplicas(ctx, js, cfg.StreamReplicas); err != nil {
		return nil, err
	}
	cons, err := eventstream.EnsureConsumer(ctx, js, &eventstream.ConsumerConfig{
		Durable: eventstream.ConsumerSink, AckWait: cfg.AckWait, MaxDeliver: cfg.MaxDeliver,
		Replicas: cfg.StreamReplicas, Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	if _, err := eventstream.EnsureNotifyStreamConfig(ctx, js, &eventstream.NotifyStreamConfig{Replicas: cfg.StreamReplicas, Logger: logger}); err != nil {
		return nil, err
	}
	return &natsConn{nc: nc, js: js, sinkConsumer: cons}, nil
}

// newSinks builds SINK_CONCURRENCY sink loops. They share the durable
// consumer, so fetching and decoding one batch overlaps with committing
// another.
func newSinks(logger zerolog.Logger, cfg *config.Worker, reg *prometheus.Registry, pool *pgxpool.Pool, cons jetstream.Consumer,
	fault func(stage string)) ([]*sink.Sink, error) {
	sinks := make([]*sink.Sink, cfg.SinkConcurrency)
	for i := range sinks {
		var err error
		if sinks[i], err = sink.New(logger, &sink.Config{BatchMax: cfg.SinkBatchMax, Metrics: reg, Fault: fault}, pool, cons); err != nil {
			return nil, err
		}
	}
	return sinks, nil
}

// newRiverClient registers every job kind's worker and builds the River
// client that runs them.
func newRiverClient(logger zerolog.Logger, cfg *config.Worker, queues jobs.QueueConfig, st *storage, js jetstream.JetStream) (*river.Client[pgx.Tx], error) {
	secrets, err := infra.SecretBox(cfg.SecretsKey)
	if err != nil {
		return nil, err
	}
	// Each key's Generaitiv rate, and each app's share of a shared key,
	// hold across every worker process: their next call times are rows in
	// Postgres (docs/scaling.md).
	keyLimiter, err := store.NewUpstreamRateLimiter(st.pool, &store.UpstreamRateConfig{
		Service: "generaitiv", Rate: float64(cfg.GeneraitivRateLimit), Burst: generaitivRateBurst,
		TenantShare: cfg.GeneraitivAppShare,
	})
	if err != nil {
		return nil, err
	}
	workers := river.NewWorkers()
	if err := jobs.Register(workers, jobDeps(logger, cfg, secrets, st, js, keyLimiter)); err != nil {
		return nil, err
	}
	client, err := river.NewClient(riverpgxv5.New(st.pool), &river.Config{
		Logger:               logging.Slog(logger.With().Str("component", "river").Logger()),
		Queues:               queues.Queues(),
		Workers:              workers,
		PeriodicJobs:         periodicJobs(cfg),
		JobTimeout:           cfg.JobTimeout,
		MaxAttempts:          cfg.JobMaxAttempts,
		RescueStuckJobsAfter: cfg.RescueStuckJobsAfter,
		FetchPollInterval:    cfg.FetchPollInterval,
		SoftStopTimeout:      cfg.SoftStopTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("error creating river client: %w", err)
	}
	return client, nil
}

// jobDeps is what the job kinds' workers need: the jobs' pool, the blobs,
// the notifier, and each upstream's configuration.
func jobDeps(logger zerolog.Logger, cfg *config.Worker, secrets *auth.SecretBox, st *storage, js jetstream.JetStream,
	keyLimiter generaitiv.KeyLimiter) *jobs.Deps {
	return &jobs.Deps{
		Secrets:  secrets,
		Logger:   logger,
		Pool:     st.pool,
		Blob:     st.blobs,
		Notifier: eventstream.NewNotifier(js),
		Kinetix: &jobs.KinetixDeps{
			BaseURL: cfg.KinetixBaseURL, APIKey: cfg.KinetixAPIKey, Deadline: cfg.KinetixDeadline,
		},
		Generaitiv: &jobs.GeneraitivDeps{
			ClientConfig: generaitiv.Config{
				BaseURL: cfg.GeneraitivBaseURL, WSURL: cfg.GeneraitivWSURL, APIKey: cfg.GeneraitivAPIKey,
				RateLimit: float64(cfg.GeneraitivRateLimit), TenantShare: cfg.GeneraitivAppShare,
				KeyLimiter: keyLimiter,
			},
			PublicBaseURL: cfg.PublicBaseURL,
			MaxImageBytes: cfg.GeneraitivMaxImageBytes,
		},
		AppShare: jobs.AppShare{
			KinetixInFlight: cfg.AppKinetixInFlight, GeneraitivInFlight: cfg.AppGeneraitivInFlight, Wait: cfg.AppJobWait,
		},
		TelemetryRetention: cfg.TelemetryRetention,
		Webhooks:           &jobs.WebhookDeps{AllowPrivate: cfg.WebhookAllowPrivate, PublicBaseURL: cfg.PublicBaseURL},
	}
}

// opsServer serves /healthz, /readyz (Postgres, NATS and every sink loop)
// and /metrics on addr.
func opsServer(logger zerolog.Logger, addr string, reg *prometheus.Registry, pool *pgxpool.Pool, nc *nats.Conn, sinks []*sink.Sink) *http.Server {
	return infra.HealthServer(addr, infra.OpsMux(logger, reg,
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
}

// serve runs the sink loops, River and the ops server until ctx ends or
// one of them fails, then waits for all three to stop.
func serve(ctx context.Context, logger zerolog.Logger, addr string, sinks []*sink.Sink, riverClient *river.Client[pgx.Tx], ops *http.Server) error {
	logger.Info().Str("health_addr", addr).Msg("workercmd: started")
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
	g.Go(func() error { return infra.Serve(gctx, ops, 5*time.Second) })
	err := g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	logger.Info().Msg("workercmd: stopped")
	return err
}

// generaitivRateBurst is the calls one Generaitiv key may send at once
// after a quiet spell, across all workers (the client's default burst).
const generaitivRateBurst = 10

// periodicJobs are the jobs River's leader schedules: maintenance, the
// dashboard's rollups, and the telemetry retention job when
// TELEMETRY_RETENTION is set.
func periodicJobs(cfg *config.Worker) []*river.PeriodicJob {
	out := append(jobs.PeriodicJobs(true), jobs.DashboardRollupPeriodicJob())
	if cfg.TelemetryRetention > 0 {
		out = append(out, jobs.TelemetryRetentionPeriodicJob())
	}
	return out
}
