package store

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pipeTx is a transaction on a pooled connection that this package begins
// and ends with statements of its own, so that BEGIN travels with the
// transaction's first statement and COMMIT with its last: one round trip
// each, where pgx's own transaction sends COMMIT alone. It is a pgx.Tx for
// what runs in between (River's InsertTx); it does not nest and has no
// large objects.
type pipeTx struct {
	c *pgxpool.Conn
}

// beginPipeTx acquires a connection and sends b on it after BEGIN, in one
// round trip; b's results are the returned results' after BEGIN's, which
// the caller reads past first. The caller ends tx with commitWith and
// defers tx.release.
func beginPipeTx(ctx context.Context, pool *pgxpool.Pool, b *pgx.Batch) (*pipeTx, pgx.BatchResults, error) {
	c, err := pool.Acquire(ctx)
	if err != nil {
		return nil, nil, err
	}
	b.QueuedQueries = append([]*pgx.QueuedQuery{{SQL: "begin"}}, b.QueuedQueries...)
	return &pipeTx{c: c}, c.SendBatch(ctx, b), nil
}

// commitWith sends b followed by COMMIT, in one round trip, and reads
// every result: an error in b skips the COMMIT (the transaction is
// aborted and release rolls it back).
func (tx *pipeTx) commitWith(ctx context.Context, b *pgx.Batch) error {
	n := b.Len()
	b.Queue("commit")
	br := tx.c.SendBatch(ctx, b)
	defer br.Close()
	for range n {
		if _, err := br.Exec(); err != nil {
			return err
		}
	}
	tag, err := br.Exec()
	switch {
	case err != nil:
		return err
	case tag.String() == "ROLLBACK": // an earlier error had aborted it
		return pgx.ErrTxCommitRollback
	}
	return br.Close()
}

// release rolls back what is still open (an error on the way) and gives the
// connection back to the pool, which closes it if that failed.
func (tx *pipeTx) release(ctx context.Context) {
	if pc := tx.c.Conn().PgConn(); !pc.IsClosed() && pc.TxStatus() != 'I' {
		_, _ = tx.c.Exec(context.WithoutCancel(ctx), "rollback")
	}
	tx.c.Release()
}

var errPipeTx = errors.New("store: not supported in this transaction")

// Begin implements pgx.Tx; a pipeTx does not nest.
func (tx *pipeTx) Begin(context.Context) (pgx.Tx, error) { return nil, errPipeTx }

// Commit implements pgx.Tx: COMMIT alone (commitWith saves its round trip).
func (tx *pipeTx) Commit(ctx context.Context) error { return tx.commitWith(ctx, &pgx.Batch{}) }

// Rollback implements pgx.Tx.
func (tx *pipeTx) Rollback(ctx context.Context) error {
	_, err := tx.c.Exec(ctx, "rollback")
	return err
}

func (tx *pipeTx) CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	return tx.c.CopyFrom(ctx, table, columns, src)
}

func (tx *pipeTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	return tx.c.SendBatch(ctx, b)
}

// LargeObjects implements pgx.Tx; nothing here uses them.
func (tx *pipeTx) LargeObjects() pgx.LargeObjects { return pgx.LargeObjects{} }

func (tx *pipeTx) Prepare(ctx context.Context, name, sql string) (*pgconn.StatementDescription, error) {
	return tx.c.Conn().Prepare(ctx, name, sql)
}

func (tx *pipeTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return tx.c.Exec(ctx, sql, args...)
}

func (tx *pipeTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return tx.c.Query(ctx, sql, args...)
}

func (tx *pipeTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return tx.c.QueryRow(ctx, sql, args...)
}

func (tx *pipeTx) Conn() *pgx.Conn { return tx.c.Conn() }
