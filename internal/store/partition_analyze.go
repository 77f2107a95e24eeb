package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// AnalyzeStaleDays analyzes the day partitions (PartitionedTables) of the
// UTC days from the day of from to the day of to, inclusive, whose
// statistics Postgres lacks or has let go stale: never analyzed while
// holding rows, or changed since by more than autovacuum's default
// threshold (50 rows and a tenth of the table). It returns how many it
// analyzed.
//
// A day partition is filled within minutes of its creation, and until it is
// analyzed the planner takes it for empty: the dashboard rollup's per-day
// statements then choose plans that run for many minutes instead of seconds
// (docs/dashboard.md, "Rollups"). Autovacuum analyzes it in time on most
// servers; one running without autovacuum, or with autovacuum behind,
// relies on this. A role that does not own a partition skips it (Postgres
// warns and analyzes nothing).
func AnalyzeStaleDays(ctx context.Context, db DBTX, from, to time.Time) (int, error) {
	var names []string
	for day := from.UTC().Truncate(24 * time.Hour); !day.After(to); day = day.AddDate(0, 0, 1) {
		for _, t := range PartitionedTables {
			names = append(names, PartitionName(t.Name, day))
		}
	}
	rows, err := db.Query(ctx, `SELECT relname FROM pg_stat_user_tables
		WHERE schemaname = current_schema() AND relname = ANY($1) AND n_live_tup > 0
			AND (last_analyze IS NULL AND last_autoanalyze IS NULL
				OR n_mod_since_analyze > 50 + n_live_tup / 10)`, names)
	if err != nil {
		return 0, fmt.Errorf("error reading the day partitions' statistics: %w", err)
	}
	stale, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, fmt.Errorf("error reading the day partitions' statistics: %w", err)
	}
	for _, name := range stale {
		if _, err := db.Exec(ctx, "ANALYZE "+pgx.Identifier{name}.Sanitize()); err != nil {
			return 0, fmt.Errorf("error analyzing %s: %w", name, err)
		}
	}
	return len(stale), nil
}
