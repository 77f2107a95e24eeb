package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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
// the connection's search_path schema. It is idempotent. Each applied
// migration's SHA-256 is recorded; a migration changed after it was applied
// stops Migrate with an error naming it, since the database no longer
// matches what the file says.
func Migrate(ctx context.Context, pool *pgxpool.Pool) (*MigrateResult, error) {
	return migrate(ctx, pool, migrations.FS)
}

func migrate(ctx context.Context, pool *pgxpool.Pool, fsys fs.FS) (*MigrateResult, error) {
	names, err := fs.Glob(fsys, "*.sql")
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
		// checksum is null for rows recorded before checksums were kept: the
		// first run that sees one records the file as it is then.
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS gamepipe_migrations (
			name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());
			ALTER TABLE gamepipe_migrations ADD COLUMN IF NOT EXISTS checksum text`); err != nil {
			return fmt.Errorf("error creating migrations table: %w", err)
		}
		rows, err := tx.Query(ctx, "SELECT name, coalesce(checksum, '') FROM gamepipe_migrations")
		if err != nil {
			return fmt.Errorf("error reading applied migrations: %w", err)
		}
		applied := map[string]string{}
		var name, sum string
		if _, err := pgx.ForEachRow(rows, []any{&name, &sum}, func() error {
			applied[name] = sum
			return nil
		}); err != nil {
			return fmt.Errorf("error reading applied migrations: %w", err)
		}
		for _, name := range names {
			sql, err := fs.ReadFile(fsys, name)
			if err != nil {
				return fmt.Errorf("error reading migration %s: %w", name, err)
			}
			digest := sha256.Sum256(sql)
			checksum := hex.EncodeToString(digest[:])
			if recorded, ok := applied[name]; ok {
				switch recorded {
				case checksum:
				case "":
					if _, err := tx.Exec(ctx, "UPDATE gamepipe_migrations SET checksum = $2 WHERE name = $1", name, checksum); err != nil {
						return fmt.Errorf("error recording checksum of migration %s: %w", name, err)
					}
				default:
					return fmt.Errorf("migration %s was changed after it was applied (applied sha256 %s, file sha256 %s): "+
						"restore the file and put the change in a new migration", name, recorded, checksum)
				}
				continue
			}
			if _, err := tx.Exec(ctx, string(sql)); err != nil {
				return fmt.Errorf("error applying migration %s: %w", name, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO gamepipe_migrations (name, checksum) VALUES ($1, $2)", name, checksum); err != nil {
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
