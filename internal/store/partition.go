package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// PartitionedTable is a telemetry table partitioned by day on a client time
// column.
type PartitionedTable struct {
	// Name is the parent table's name.
	Name string
	// TimeColumn is the partition key, a timestamptz column.
	TimeColumn string
}

// PartitionedTables lists the telemetry tables that EnsurePartitions keeps
// day partitions for. Each also has a DEFAULT partition, Name + "_default".
var PartitionedTables = []PartitionedTable{
	{Name: "player_events", TimeColumn: "timestamp"},
	{Name: "funnel_steps", TimeColumn: "timestamp"},
	{Name: "gameplay_events", TimeColumn: "timestamp"},
	{Name: "trajectories", TimeColumn: "timestamp_start"},
}

// MaxPartitionDays bounds how many days one EnsurePartitions call covers, so
// a wrong clock or argument cannot create thousands of tables.
const MaxPartitionDays = 400

// partitionLockTimeout bounds how long creating one partition waits for its
// locks. Creating a partition briefly takes an exclusive lock on the parent,
// and while it waits every insert queues behind it: better to give up and
// try again at the next maintenance round.
const partitionLockTimeout = "5s"

// PartitionName is the name of table's partition for the UTC day of t:
// <table>_pYYYYMMDD.
func PartitionName(table string, t time.Time) string {
	return table + "_p" + t.UTC().Format("20060102")
}

// EnsurePartitions creates the day partitions (UTC) of every table in
// PartitionedTables for each day from the day of from to the day of to,
// inclusive. It is idempotent and safe to run from several processes at
// once: a partition that another process created first, or a range another
// partition already covers, counts as done.
//
// Postgres refuses to create a partition while the table's DEFAULT partition
// holds rows in its range (events whose day had no partition when they were
// written). EnsurePartitions then moves those rows: in one transaction it
// locks the DEFAULT partition, creates the day's table, moves the day's rows
// into it and attaches it. Inserts routed to DEFAULT wait for that
// transaction; nothing is refused or lost.
//
// Each partition is made by one statement (a DO block), so with a pool every
// partition commits on its own; on a transaction they all commit with it.
// Each waits at most 5s for its locks; a lock timeout is returned as an error
// and the caller should try again later.
func EnsurePartitions(ctx context.Context, db DBTX, from, to time.Time) error {
	first := from.UTC().Truncate(24 * time.Hour)
	last := to.UTC().Truncate(24 * time.Hour)
	if last.Before(first) {
		return fmt.Errorf("error ensuring partitions: %s is after %s", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	if days := int(last.Sub(first)/(24*time.Hour)) + 1; days > MaxPartitionDays {
		return fmt.Errorf("error ensuring partitions: %d days is more than %d", days, MaxPartitionDays)
	}
	for day := first; !day.After(last); day = day.AddDate(0, 0, 1) {
		for _, table := range PartitionedTables {
			if _, err := db.Exec(ctx, partitionSQL(table, day)); err != nil {
				return fmt.Errorf("error ensuring partition %s: %w", PartitionName(table.Name, day), err)
			}
		}
	}
	return nil
}

// partitionSQL is the DO block that ensures table's partition for day.
//
// The fast path is CREATE TABLE ... PARTITION OF. Its errors mean:
//   - duplicate_table, unique_violation: another process created the same
//     partition at the same moment (the catalog's unique index can fire
//     before IF NOT EXISTS sees the other's table);
//   - invalid_object_definition: another partition already covers the range;
//   - check_violation: the DEFAULT partition holds rows of the day. Then the
//     slow path moves them, taking the parent's lock before the DEFAULT
//     partition's, in the same order as CREATE ... PARTITION OF and as
//     inserts, so two processes on the slow path cannot deadlock.
//
// The names and bounds come from PartitionedTables and a formatted date, and
// are quoted anyway.
func partitionSQL(table PartitionedTable, day time.Time) string {
	name := PartitionName(table.Name, day)
	quote := func(s string) string { return pgx.Identifier{s}.Sanitize() }
	literal := func(s string) string { return "'" + s + "'" }
	lo := literal(day.Format("2006-01-02") + " 00:00:00+00")
	hi := literal(day.AddDate(0, 0, 1).Format("2006-01-02") + " 00:00:00+00")
	part, parent, def := quote(name), quote(table.Name), quote(table.Name+"_default")
	col := quote(table.TimeColumn)
	bounds := "FOR VALUES FROM (" + lo + ") TO (" + hi + ")"

	return `DO $gamepipe$
BEGIN
	SET LOCAL lock_timeout = '` + partitionLockTimeout + `';
	IF to_regclass(` + literal(name) + `) IS NOT NULL THEN
		RETURN;
	END IF;
	BEGIN
		CREATE TABLE IF NOT EXISTS ` + part + ` PARTITION OF ` + parent + ` ` + bounds + `;
	EXCEPTION
		WHEN duplicate_table OR unique_violation OR invalid_object_definition THEN
			RETURN;
		WHEN check_violation THEN
			LOCK TABLE ` + parent + ` IN SHARE UPDATE EXCLUSIVE MODE;
			IF to_regclass(` + literal(name) + `) IS NOT NULL THEN
				RETURN;
			END IF;
			LOCK TABLE ` + def + ` IN ACCESS EXCLUSIVE MODE;
			CREATE TABLE ` + part + ` (LIKE ` + parent + ` INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
			WITH moved AS (
				DELETE FROM ` + def + ` WHERE ` + col + ` >= ` + lo + ` AND ` + col + ` < ` + hi + ` RETURNING *
			)
			INSERT INTO ` + part + ` SELECT * FROM moved;
			ALTER TABLE ` + parent + ` ATTACH PARTITION ` + part + ` ` + bounds + `;
	END;
END
$gamepipe$`
}

// ErrNotPartitioned is returned by DefaultPartitionRows for a table not in
// PartitionedTables.
var ErrNotPartitioned = errors.New("not a partitioned telemetry table")

// DefaultPartitionRows counts the rows of table's DEFAULT partition: events
// whose day had no partition when they were written. Monitoring can alert
// when it grows.
func DefaultPartitionRows(ctx context.Context, db DBTX, table string) (int64, error) {
	for _, t := range PartitionedTables {
		if t.Name != table {
			continue
		}
		var n int64
		err := db.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{table + "_default"}.Sanitize()).Scan(&n)
		if err != nil {
			return 0, fmt.Errorf("error counting rows of %s_default: %w", table, err)
		}
		return n, nil
	}
	return 0, fmt.Errorf("error counting default partition rows of %q: %w", table, ErrNotPartitioned)
}
