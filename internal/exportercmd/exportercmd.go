// Package exportercmd wires and runs cmd/exporter: with no arguments the
// streaming exporter (TELEMETRY → NDJSON files, with /healthz, /readyz and
// /metrics), and `backfill`, which writes the same files from Postgres.
package exportercmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gamepipe/gamepipe/internal/config"
	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/export"
	"github.com/gamepipe/gamepipe/internal/health"
	"github.com/gamepipe/gamepipe/internal/infra"
	"github.com/gamepipe/gamepipe/internal/logging"
	"github.com/gamepipe/gamepipe/internal/metrics"
)

// Usage is the command's help text.
const Usage = `usage:
  exporter                 run the streaming exporter (TELEMETRY → DATA_DIR/exports)
  exporter backfill --app ID --from T --to T [--kind K] [--out DIR]
                           export from Postgres; T is RFC 3339 or YYYY-MM-DD
                           (a --to date includes that day); --kind may repeat
                           or list kinds with commas; --out defaults to
                           DATA_DIR/exports-backfill. Rerun to resume.
`

// Run runs the command that args name (none: the streaming exporter) until
// it ends or ctx is cancelled.
func Run(ctx context.Context, args []string, getenv config.Getenv, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return runExporter(ctx, getenv, stderr)
	}
	switch args[0] {
	case "backfill":
		return runBackfill(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "-help", "--help":
		_, err := io.WriteString(stdout, Usage)
		return err
	}
	return fmt.Errorf("unknown command %q: run with no arguments, or backfill (see --help)", args[0])
}

// runExporter runs the streaming exporter until ctx is cancelled, then
// writes every buffer, stops serving and drains NATS.
func runExporter(ctx context.Context, getenv config.Getenv, stderr io.Writer) error {
	cfg, err := config.ExporterFromEnv(getenv)
	if err != nil {
		return err
	}
	logger := logging.New(stderr, cfg.LogFormat, cfg.LogLevel, "exporter")

	nc, err := infra.NATS(ctx, logger, cfg.NatsURL, eventstream.RoleExporter, eventstream.Credentials(cfg.NATSAuth))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("error creating JetStream context: %w", err)
	}
	stream, err := eventstream.OpenStreamReplicas(ctx, js, cfg.StreamReplicas)
	if err != nil {
		return err
	}
	cons, err := eventstream.EnsureConsumer(ctx, js, &eventstream.ConsumerConfig{
		Durable: eventstream.ConsumerExporter,
		AckWait: cfg.ExportAckWait,
		// Unlimited: a message is only ever redelivered because a file could
		// not be written, never because of its content (poison is
		// terminated), so giving up on it would lose an event.
		MaxDeliver:    -1,
		MaxAckPending: 4 * cfg.ExportMaxBufferedEvents,
		Replicas:      cfg.StreamReplicas,
		Logger:        logger,
	})
	if err != nil {
		return err
	}

	reg := metrics.NewRegistry()
	exp, err := export.New(&export.Config{
		Dir:               filepath.Join(cfg.DataDir, "exports"),
		InstanceID:        cfg.InstanceID,
		MaxFileBytes:      cfg.ExportMaxFileBytes,
		MaxAge:            cfg.ExportMaxAge,
		MaxBufferedEvents: cfg.ExportMaxBufferedEvents,
		FetchBatch:        cfg.ExportFetchBatch,
		AckWait:           cfg.ExportAckWait,
		CompleteGrace:     cfg.ExportCompleteGrace,
		Metrics:           reg,
	}, &export.Deps{Logger: logger, Conn: nc, Consumer: cons, Stream: stream})
	if err != nil {
		return err
	}

	// Bind first, so that a taken port fails the start, not a running
	// exporter.
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("error listening on %s: %w", cfg.HTTPAddr, err)
	}
	srv := &http.Server{Handler: infra.OpsMux(logger, reg, health.Check{Name: "nats", Check: infra.NATSCheck(nc)}), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	logger.Info().Str("addr", ln.Addr().String()).Str("id", exp.ID()).Msg("exportercmd: running")
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	runErr := make(chan error, 1)
	go func() { runErr <- exp.Run(runCtx) }()
	select {
	case err = <-runErr:
	case err = <-served:
		// The HTTP server failed: stop the exporter, which writes its
		// buffers first.
		err = fmt.Errorf("error serving http on %s: %w", cfg.HTTPAddr, err)
		cancelRun()
		err = errors.Join(err, <-runErr)
	}
	// The exporter has written and acked everything: stop serving, then
	// drain NATS so the last acks leave.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil {
		logger.Warn().Err(serr).Msg("exportercmd: error shutting down http")
	}
	if derr := nc.Drain(); derr != nil {
		logger.Warn().Err(derr).Msg("exportercmd: error draining NATS")
	}
	logger.Info().Msg("exportercmd: stopped")
	return err
}
