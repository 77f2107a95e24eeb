package store

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/gamepipe/gamepipe/migrations"
)

// migrateLockKey is the advisory lock that serialises concurrent migrators
// (several processes may run `gamepipe migrate` at once).
const migrateLockKey = 0x67616d6570697065 // "gamepipe"

// MigrateResult says what Migrate applied.
type MigrateResult struct {
	// Applied lists gamepipe migrations applied by this call.
	Applied []string
	// RiverVersions lists River migration versions applied by this call.
	RiverVersions []int
}

// Migrate applies River's migrations and then every embedded gamepipe
// migration not yet applied, in one transaction under an advisory lock, into
// the connection's search_path schema. It is idempotent.
func Migrate(ctx context.Context, pool *pgxpool.Pool) (*MigrateResult, error) {
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("error listing migrations: %w", err)
	}
	slices.Sort(names)

	migrator, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return nil, fmt.Errorf("error creating river migrator: %w", err)
	}
	res := &MigrateResult{}
	// River's migrations add enum values that a later statement of the same
	// migration set uses, so they cannot share one transaction: apply them
	// one version per transaction, each under the lock.
	for _, m := range migrator.AllVersions() {
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrateLockKey)); err != nil {
				return fmt.Errorf("error taking migration lock: %w", err)
			}
			rr, err := migrator.MigrateTx(ctx, tx, rivermigrate.DirectionUp, &rivermigrate.MigrateOpts{TargetVersion: m.Version})
			if err != nil {
				return fmt.Errorf("error applying river migration %d: %w", m.Version, err)
			}
			for _, v := range rr.Versions {
				res.RiverVersions = append(res.RiverVersions, v.Version)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}

	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrateLockKey)); err != nil {
			return fmt.Errorf("error taking migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS gamepipe_migrations (
			name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return fmt.Errorf("error creating migrations table: %w", err)
		}
		rows, err := tx.Query(ctx, "SELECT name FROM gamepipe_migrations")
		if err != nil {
			return fmt.Errorf("error reading applied migrations: %w", err)
		}
		applied, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("error reading applied migrations: %w", err)
		}
		for _, name := range names {
			if slices.Contains(applied, name) {
				continue
			}
			sql, err := fs.ReadFile(migrations.FS, name)
			if err != nil {
				return fmt.Errorf("error reading migration %s: %w", name, err)
			}
			if _, err := tx.Exec(ctx, string(sql)); err != nil {
				return fmt.Errorf("error applying migration %s: %w", name, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO gamepipe_migrations (name) VALUES ($1)", name); err != nil {
				return fmt.Errorf("error recording migration %s: %w", name, err)
			}
			res.Applied = append(res.Applied, strings.TrimSuffix(name, ".sql"))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}
