// Package infra connects a gamepipe process to its infrastructure: the
// Postgres pool and the NATS connection, each checked at start with a clear
// error. Only the internal/*cmd packages use it.
package infra

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	neturl "net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/store"
)

// Postgres opens a pool named appName (visible in pg_stat_activity), creating
// the database first when it is missing. configure, when given, adjusts the
// pool's configuration before it connects.
func Postgres(ctx context.Context, databaseURL, appName string, maxConns int32, configure ...func(*pgxpool.Config)) (*pgxpool.Pool, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := store.EnsureDatabase(ctx, databaseURL); err != nil {
		return nil, err
	}
	cfg, err := poolConfig(databaseURL, appName, maxConns, configure)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("error creating postgres pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("error connecting to postgres at %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	return pool, nil
}

// PostgresLazy is Postgres without waiting for Postgres: the pool connects
// on first use, and the database is created (when missing) in the
// background, retried until that succeeds or ctx ends. Until Postgres
// answers, queries fail and PostgresCheck reports it; only a bad
// DATABASE_URL is an error.
func PostgresLazy(ctx context.Context, logger zerolog.Logger, databaseURL, appName string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := poolConfig(databaseURL, appName, maxConns, nil)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("error creating postgres pool: %w", err)
	}
	go func() {
		for wait := 250 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
			ectx, cancel := context.WithTimeout(ctx, 15*time.Second)
			err := store.EnsureDatabase(ectx, databaseURL)
			cancel()
			if err == nil || ctx.Err() != nil {
				return
			}
			logger.Warn().Err(err).Msg("infra: postgres unavailable; not ready, retrying")
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
	}()
	return pool, nil
}

// poolConfig parses databaseURL into a pool configuration named appName.
func poolConfig(databaseURL, appName string, maxConns int32, configure []func(*pgxpool.Config)) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("error parsing DATABASE_URL: %w", err)
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = appName
	if maxConns > 0 && !strings.Contains(databaseURL, "pool_max_conns") {
		cfg.MaxConns = maxConns
	}
	for _, f := range configure {
		f(cfg)
	}
	store.ConfigurePool(cfg)
	return cfg, nil
}

// NATS connects as role, presenting creds, with endless reconnects,
// logging connection changes and errors (a permissions violation names the
// subject the role's user may not use), and checks the server's version and
// JetStream. url may list a cluster's servers, comma-separated: the client
// starts with any that answers and reconnects across them (and the servers
// the cluster announces). Nothing it logs or returns carries a password.
func NATS(ctx context.Context, logger zerolog.Logger, url string, role eventstream.Role, creds eventstream.Credentials) (*nats.Conn, error) {
	opts, err := eventstream.ConnectOptions(role, creds)
	if err != nil {
		return nil, err
	}
	opts = append(opts,
		nats.Name("gamepipe-"+string(role)),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
		nats.Timeout(5*time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil: our own Close or Drain
				logger.Warn().Err(err).Msg("infra: NATS disconnected")
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			logger.Info().Str("server", nc.ConnectedUrlRedacted()).Msg("infra: NATS reconnected")
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrPermissionViolation) {
				logger.Error().Err(err).Str("nats_user", creds.User).
					Msg("infra: NATS refused an operation: the user's permissions lack it (docs/architecture.md)")
				return
			}
			logger.Warn().Err(err).Msg("infra: NATS error")
		}),
	)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("error connecting to NATS at %s as %s (auth %s): %w", redact(url), role, creds.Method(url), err)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := eventstream.CheckServer(cctx, nc); err != nil {
		nc.Close()
		return nil, err
	}
	logger.Info().Str("server", nc.ConnectedUrlRedacted()).Str("auth", creds.Method(url)).Str("nats_user", creds.User).
		Msg("infra: NATS connected")
	return nc, nil
}

// redact drops credentials from a NATS URL, or a comma-separated list of
// them, before it is printed.
func redact(raw string) string {
	parts := strings.Split(raw, ",")
	for i, p := range parts {
		u, err := neturl.Parse(strings.TrimSpace(p))
		if err != nil {
			parts[i] = "<unparsable url>"
			continue
		}
		parts[i] = u.Redacted()
	}
	return strings.Join(parts, ",")
}

// PostgresCheck is a readiness probe: Postgres answers a ping.
func PostgresCheck(pool *pgxpool.Pool) func(context.Context) error {
	return func(ctx context.Context) error { return pool.Ping(ctx) }
}

// NATSCheck fails while the connection is not connected.
func NATSCheck(nc *nats.Conn) func(context.Context) error {
	return func(context.Context) error {
		if s := nc.Status(); s != nats.CONNECTED {
			return fmt.Errorf("nats %s", s)
		}
		return nil
	}
}

// Serve runs srv until ctx ends, then shuts it down gracefully within
// grace: no new connections, in-flight requests finished.
func Serve(ctx context.Context, srv *http.Server, grace time.Duration) error {
	return ServeLimited(ctx, srv, grace, 0)
}

// ServeLimited is Serve with at most maxConns client connections open at
// once (LimitListener); 0 is no limit.
func ServeLimited(ctx context.Context, srv *http.Server, grace time.Duration, maxConns int) error {
	addr := srv.Addr
	if addr == "" {
		addr = ":http"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("error listening for http on %s: %w", srv.Addr, err)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(LimitListener(ln, maxConns)) }()
	select {
	case err := <-errc:
		return fmt.Errorf("error serving http on %s: %w", srv.Addr, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("error shutting down http: %w", err)
	}
	return nil
}

// CheckPoolSize refuses a DATABASE_URL whose pool_max_conns is below need:
// River's workers would wait on each other for connections and its leader
// election would time out. Without pool_max_conns the pool is sized to need.
func CheckPoolSize(databaseURL string, need int32) error {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return fmt.Errorf("error parsing DATABASE_URL: %w", err)
	}
	if strings.Contains(databaseURL, "pool_max_conns") && cfg.MaxConns < need {
		return fmt.Errorf("DATABASE_URL pool_max_conns=%d is too small: the worker needs %d (job concurrency + 8); raise it or lower KINETIX_CONCURRENCY/GENERAITIV_CONCURRENCY", cfg.MaxConns, need)
	}
	return nil
}
