package apicmd

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/gamepipe/gamepipe/internal/blob"
	"github.com/gamepipe/gamepipe/internal/config"
	"github.com/gamepipe/gamepipe/internal/dashboard"
	"github.com/gamepipe/gamepipe/internal/ratelimit"
	"github.com/gamepipe/gamepipe/internal/store"
)

// newDashboard builds the dashboard's routes: sessions on the primary
// pool, queries on DATABASE_READ_URL's (the primary's when it is the same
// URL), level models' files from blobs. The returned func closes what it
// opened.
func newDashboard(ctx context.Context, cfg *config.API, logger zerolog.Logger, pool *pgxpool.Pool, blobs blob.Store) (*dashboard.Handler, func(), error) {
	read, closeRead := pool, func() {}
	if cfg.DatabaseReadURL != cfg.DatabaseURL {
		pc, err := pgxpool.ParseConfig(cfg.DatabaseReadURL)
		if err != nil {
			return nil, nil, fmt.Errorf("error parsing DATABASE_READ_URL: %w", err)
		}
		pc.ConnConfig.RuntimeParams["application_name"] = "gamepipe-api-dashboard"
		store.ConfigurePool(pc)
		if read, err = pgxpool.NewWithConfig(ctx, pc); err != nil {
			return nil, nil, fmt.Errorf("error creating the dashboard's read pool: %w", err)
		}
		closeRead = read.Close
	}
	h, err := dashboard.New(&dashboard.Config{
		QueryTimeout: cfg.DashboardQueryTimeout,
		SessionTTL:   cfg.DashboardSessionTTL,
		SecureCookie: strings.HasPrefix(cfg.PublicBaseURL, "https://"),
		ClientIP:     ratelimit.ClientIP{TrustedProxies: cfg.TrustedProxies},
	}, &dashboard.Deps{Logger: logger, DB: pool, Read: read, Blob: blobs})
	if err != nil {
		closeRead()
		return nil, nil, err
	}
	return h, closeRead, nil
}
