// Package store is gamepipe's Postgres access: apps and keys, telemetry
// tables, the jobs (emotes and generations, with one JobStatus vocabulary,
// docs/jobs.md), and the schema migrations. Functions take the smallest
// database interface they need (DBTX) so they run on a pool or inside a
// transaction, and turn pgx errors into the sentinels below. Each job kind
// has the same functions: <Kind>Insert, <Kind>Get, <Kind>GetForApp,
// <Kind>List (a page and its next JobCursor) and <Kind>Update, which reads
// the row under a row lock, lets a function check and change it, and writes
// it back in one transaction (ErrUnchanged writes nothing).
package store

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DBTX is what store functions need from a pool, a connection or a tx.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a row would violate a unique constraint.
var ErrConflict = errors.New("conflict")

// mapErr turns pgx errors into the package's sentinels.
func mapErr(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return errors.Join(ErrConflict, err)
	}
	return err
}
