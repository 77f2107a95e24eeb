// Package apicmd wires and runs cmd/api: configuration, Postgres (lazily:
// the api starts without it and answers /readyz 503), NATS with the
// TELEMETRY and GAMEPIPE_EVENTS streams, an insert-only River client, blob
// storage, the HTTP server on HTTP_ADDR and /metrics on METRICS_ADDR, the
// periodic flush of rejected events, and an orderly shutdown (stop
// accepting, finish requests in flight, flush the rejected events, drain
// NATS, close the pool).
package apicmd

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/gamepipe/gamepipe/internal/auth"
	"github.com/gamepipe/gamepipe/internal/blob"
	"github.com/gamepipe/gamepipe/internal/config"
	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/export"
	"github.com/gamepipe/gamepipe/internal/health"
	"github.com/gamepipe/gamepipe/internal/httpapi"
	"github.com/gamepipe/gamepipe/internal/infra"
	"github.com/gamepipe/gamepipe/internal/logging"
	"github.com/gamepipe/gamepipe/internal/metrics"
	"github.com/gamepipe/gamepipe/internal/store"
)

// Run starts the API and blocks until ctx is cancelled and shutdown is done.
func Run(ctx context.Context, getenv config.Getenv, stderr io.Writer) error {
	cfg, err := config.APIFromEnv(getenv)
	if err != nil {
		return err
	}
	logger := logging.New(stderr, cfg.LogFormat, cfg.LogLevel, "api")
	// Most of the api's memory is per open connection (net/http's read and
	// write buffers, a goroutine each) and the GC's headroom over it: a soft
	// limit trims the headroom when many clients are connected (bench/README.md,
	// api memory row). GOMEMLIMIT, read by the runtime, wins.
	if cfg.MemoryLimit > 0 && getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(cfg.MemoryLimit)
	}

	// Webhook callbacks and job inserts each hold a connection for a short
	// transaction; pgx's default of 4 queued them (make bench: 74% of the
	// api's blocked time was pool Acquire). pool_max_conns in DATABASE_URL
	// overrides it. The api starts without Postgres and answers /readyz 503
	// until it is reachable; ingestion serves known keys from the cache
	// meanwhile (README.md, AUTH_STALE_MAX).
	pool, err := infra.PostgresLazy(ctx, logger, cfg.DatabaseURL, "gamepipe-api", 16)
	if err != nil {
		return err
	}
	defer pool.Close()

	nc, err := infra.NATS(ctx, logger, cfg.NatsURL, eventstream.RoleAPI, eventstream.Credentials(cfg.NATSAuth))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(64<<10),
		jetstream.WithPublishAsyncTimeout(cfg.PublishTimeout))
	if err != nil {
		return err
	}
	if _, err := eventstream.EnsureStream(ctx, js, &eventstream.StreamConfig{
		MaxAge: cfg.StreamMaxAge, MaxBytes: cfg.StreamMaxBytes, Duplicates: cfg.StreamDuplicates,
		Replicas: cfg.StreamReplicas, Logger: logger,
	}); err != nil {
		return err
	}

	if _, err := eventstream.EnsureNotifyStreamConfig(ctx, js, &eventstream.NotifyStreamConfig{Replicas: cfg.StreamReplicas, Logger: logger}); err != nil {
		return err
	}
	// An insert-only River client: the API enqueues, the worker works.
	riverClient, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Logger: logging.Slog(logger.With().Str("component", "river").Logger()),
	})
	if err != nil {
		return fmt.Errorf("error creating river client: %w", err)
	}
	blobs, err := infra.BlobStore(ctx, &infra.BlobConfig{Kind: cfg.Blob.Kind, Dir: cfg.Blob.Dir,
		MinFreeBytes: cfg.BlobMinFreeBytes, S3: blob.S3Location(cfg.Blob.S3)}, pool)
	if err != nil {
		return err
	}

	secrets, err := infra.SecretBox(cfg.SecretsKey)
	if err != nil {
		return err
	}

	dash, closeDash, err := newDashboard(ctx, cfg, logger, pool, blobs)
	if err != nil {
		return err
	}
	defer closeDash()
	reg := metrics.NewRegistry()
	flusher := export.NewFlushTrigger(nc, nil)
	rejections, err := httpapi.NewRejections(pool, cfg.RejectionsFlushInterval, logger)
	if err != nil {
		return err
	}
	api, err := httpapi.New(HTTPConfig(cfg), &httpapi.Deps{
		Logger:    logger,
		Metrics:   reg,
		Publisher: eventstream.NewPublisher(js, &eventstream.PublisherConfig{Timeout: cfg.PublishTimeout, Group: cfg.IngestGroup, Linger: cfg.IngestLinger, MaxBytes: int(cfg.IngestMaxMessageBytes)}),
		KeyLookup: func(ctx context.Context, h auth.Hash) (*store.KeyInfo, error) { return store.KeyLookup(ctx, pool, h) },
		Jobs: &httpapi.JobDeps{
			Pool: pool, River: riverClient, Blob: blobs,
			MaxVideoBytes: cfg.MaxVideoBytes, MaxModelBytes: cfg.MaxModelBytes, StorageQuotaBytes: cfg.AppStorageQuotaBytes,
			Kinetix: &httpapi.KinetixRouteDeps{BaseURL: cfg.KinetixBaseURL, APIKey: cfg.KinetixAPIKey,
				GameAPIKey: cfg.KinetixGameAPIKey},
			Generaitiv: &httpapi.GeneraitivRouteDeps{
				Deadline: cfg.GeneraitivDeadline, PublicBaseURL: cfg.PublicBaseURL, NATS: nc,
				MaxEventStreamsPerApp: cfg.SSEMaxStreamsPerApp,
			},
			Secrets:  secrets,
			Webhooks: &httpapi.WebhookRouteDeps{AllowPrivate: cfg.WebhookAllowPrivate, PublicBaseURL: cfg.PublicBaseURL, NATS: nc},
		},
		FlushExports: flusher.Exporters,
		Dashboard:    dash,
		Rejections:   rejections,
		Ready: []health.Check{
			{Name: "postgres", Check: infra.PostgresCheck(pool)},
			{Name: "nats", Check: infra.NATSCheck(nc)},
		},
	})
	if err != nil {
		return err
	}

	// /metrics has its own address (METRICS_ADDR, loopback by default),
	// never the public one. Bound first, so a taken port fails the start.
	metricsLn, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		return fmt.Errorf("error listening on %s: %w", cfg.MetricsAddr, err)
	}
	metricsMux := http.NewServeMux()
	metricsMux.Handle("GET /metrics", metrics.Handler(reg))
	metricsSrv := infra.HealthServer(cfg.MetricsAddr, metricsMux)
	go func() { _ = metricsSrv.Serve(metricsLn) }()
	defer metricsSrv.Close()

	logger.Info().Str("addr", cfg.HTTPAddr).Str("metrics_addr", metricsLn.Addr().String()).
		Str("nats", nc.ConnectedServerVersion()).Msg("apicmd: listening")
	rctx, stopRejections := context.WithCancel(ctx)
	defer stopRejections()
	rejectionsDone := make(chan struct{})
	go func() {
		defer close(rejectionsDone)
		rejections.Run(rctx)
	}()
	if err := infra.ServeLimited(ctx, api.HTTPServer(cfg.HTTPAddr), 20*time.Second, cfg.MaxConnections); err != nil {
		return err
	}
	stopRejections()
	<-rejectionsDone
	flushRejections(ctx, rejections, logger)
	logger.Info().Msg("apicmd: http stopped; draining NATS")
	if err := nc.Drain(); err != nil {
		logger.Warn().Err(err).Msg("apicmd: error draining NATS")
	}
	logger.Info().Msg("apicmd: stopped")
	return nil
}

// flushRejections adds the rejected events counted since the last flush,
// once the server takes no more requests and the periodic flush has
// stopped.
func flushRejections(ctx context.Context, r *httpapi.Rejections, logger zerolog.Logger) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := r.Flush(fctx); err != nil {
		logger.Warn().Err(err).Msg("apicmd: error flushing rejected events at shutdown; they are lost")
	}
}
