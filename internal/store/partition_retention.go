package store

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// RetentionResult reports what DropTelemetryBefore removed.
type RetentionResult struct {
	// Dropped names the day partitions dropped.
	Dropped []string
	// DefaultRows counts rows deleted from the DEFAULT partitions.
	DefaultRows int64
}

// partitionDay matches a day partition's name suffix.
var partitionDay = regexp.MustCompile(`_p([0-9]{8})$`)

// retentionBatch is how many DEFAULT-partition rows one statement deletes.
const retentionBatch = 5000

// DropTelemetryBefore removes the telemetry kept from before cutoff: every
// day partition whose whole day ends at or before it is dropped, and rows
// of the DEFAULT partitions older than it are deleted in batches. (DETACH
// CONCURRENTLY would spare inserts the parent's lock, but Postgres refuses
// it on a table with a DEFAULT partition, which every telemetry table has;
// a drop holds that lock only for a moment and waits at most 5s for it.)
//
// It is idempotent and safe to run from several processes at once: each
// partition is handled under a session advisory lock (another process
// holding it means that one is at work, and this one skips it), a detach
// left pending is finalized, and a detached day table left behind is
// dropped too.
func DropTelemetryBefore(ctx context.Context, pool *pgxpool.Pool, cutoff time.Time) (RetentionResult, error) {
	var res RetentionResult
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return res, fmt.Errorf("error dropping old telemetry: %w", err)
	}
	defer conn.Release()
	lastDay := cutoff.UTC().Truncate(24 * time.Hour) // partitions of days before it end by cutoff
	for _, table := range PartitionedTables {
		rows, err := conn.Query(ctx, `SELECT c.relname FROM pg_class c
			WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
			AND c.relname LIKE $1 ORDER BY c.relname`, table.Name+`\_p%`)
		if err != nil {
			return res, fmt.Errorf("error listing partitions of %s: %w", table.Name, err)
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return res, fmt.Errorf("error listing partitions of %s: %w", table.Name, err)
		}
		for _, name := range names {
			m := partitionDay.FindStringSubmatch(name)
			if m == nil || name != table.Name+"_p"+m[1] {
				continue
			}
			day, err := time.Parse("20060102", m[1])
			if err != nil || !day.Before(lastDay) {
				continue
			}
			dropped, err := dropPartition(ctx, conn.Conn(), table, name)
			if err != nil {
				return res, err
			}
			if dropped {
				res.Dropped = append(res.Dropped, name)
			}
		}
		def := pgx.Identifier{table.Name + "_default"}.Sanitize()
		for {
			tag, err := conn.Exec(ctx, `DELETE FROM `+def+` WHERE ctid IN (
				SELECT ctid FROM `+def+` WHERE `+pgx.Identifier{table.TimeColumn}.Sanitize()+` < $1 LIMIT `+fmt.Sprint(retentionBatch)+`)`, cutoff)
			if err != nil {
				return res, fmt.Errorf("error deleting old rows of %s_default: %w", table.Name, err)
			}
			res.DefaultRows += tag.RowsAffected()
			if tag.RowsAffected() < retentionBatch {
				break
			}
		}
	}
	return res, nil
}

// dropPartition drops one partition of table (attached, pending detach or
// already detached), on conn. It reports false when another process holds
// the partition's advisory lock.
func dropPartition(ctx context.Context, conn *pgx.Conn, table PartitionedTable, name string) (bool, error) {
	// The key names the schema too: apps of one database in several
	// schemas (the tests' way) must not skip each other's partitions.
	const lockKey = `hashtextextended('gamepipe.retention.' || current_schema() || '.' || $1, 0)`
	var locked bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(`+lockKey+`)`, name).Scan(&locked); err != nil {
		return false, fmt.Errorf("error locking partition %s: %w", name, err)
	}
	if !locked {
		return false, nil
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(`+lockKey+`)`, name)
	}()
	part, parent := pgx.Identifier{name}.Sanitize(), pgx.Identifier{table.Name}.Sanitize()
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&exists); err != nil {
		return false, fmt.Errorf("error reading partition %s: %w", name, err)
	}
	if !exists {
		return false, nil // another process dropped it since the listing
	}
	var pending bool
	err := conn.QueryRow(ctx, `SELECT i.inhdetachpending FROM pg_inherits i
		WHERE i.inhrelid = to_regclass($1) AND i.inhparent = to_regclass($2)`, name, table.Name).Scan(&pending)
	if err != nil && err != pgx.ErrNoRows {
		return false, fmt.Errorf("error reading partition %s: %w", name, err)
	}
	if pending {
		// A detach someone began CONCURRENTLY was interrupted; only
		// FINALIZE completes it.
		if _, err := conn.Exec(ctx, `ALTER TABLE `+parent+` DETACH PARTITION `+part+` FINALIZE`); err != nil {
			return false, fmt.Errorf("error finishing the detach of %s: %w", name, err)
		}
	}
	// Dropping a partition takes its parent's lock for a moment, and
	// inserts queue behind a drop that waits for it: give up after
	// partitionLockTimeout and let the next run try again.
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '`+partitionLockTimeout+`'`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DROP TABLE IF EXISTS `+part)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("error dropping %s: %w", name, err)
	}
	return true, nil
}
