package benchrun

import (
	"context"
	"fmt"
	"math"
	"time"
)

// pgStatsFlush is how long the bench waits before reading pg_stat_database
// after a phase: a backend that goes idle reports its counters at most once
// a second, or after 10 s idle (Postgres 15's PGSTAT_IDLE_INTERVAL), so
// this covers every backend of the phase.
const pgStatsFlush = 11 * time.Second

// pgWork is what Postgres did for the bench database so far.
type pgWork struct {
	// statements is pg_stat_statements' calls, NaN when it is not loaded.
	statements float64
	// xacts is pg_stat_database's xact_commit + xact_rollback.
	xacts float64
	// written is pg_stat_database's tup_inserted + tup_updated + tup_deleted.
	written float64
}

// pgCounter reads pgWork: statements from pg_stat_statements when the
// server loads it (shared_preload_libraries), else transactions and rows
// written from pg_stat_database only.
type pgCounter struct {
	b          *Bench
	statements bool
}

// pgWorkCounter makes a counter, using pg_stat_statements when it can: the
// extension is created in the bench database if the server has it, and
// it answers only if the server preloads it.
func (b *Bench) pgWorkCounter(ctx context.Context) *pgCounter {
	c := &pgCounter{b: b}
	if _, err := b.stack.pool.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"); err != nil {
		return c
	}
	var calls *float64
	err := b.stack.pool.QueryRow(ctx, `SELECT sum(calls)::float8 FROM pg_stat_statements
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&calls)
	c.statements = err == nil
	return c
}

// read reads the counters now. pg_stat_statements counts as each
// statement ends; pg_stat_database lags by up to pgStatsFlush.
func (c *pgCounter) read(ctx context.Context) (pgWork, error) {
	w := pgWork{statements: math.NaN()}
	pool := c.b.stack.pool
	if err := pool.QueryRow(ctx, `SELECT (xact_commit + xact_rollback)::float8, (tup_inserted + tup_updated + tup_deleted)::float8
		FROM pg_stat_database WHERE datname = current_database()`).Scan(&w.xacts, &w.written); err != nil {
		return w, fmt.Errorf("error reading pg_stat_database: %w", err)
	}
	if c.statements {
		var calls *float64
		if err := pool.QueryRow(ctx, `SELECT sum(calls)::float8 FROM pg_stat_statements
			WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&calls); err != nil {
			return w, fmt.Errorf("error reading pg_stat_statements: %w", err)
		}
		if calls != nil {
			w.statements = *calls
		}
	}
	return w, nil
}

// settled waits until pg_stat_database has every backend's counters, then
// reads them.
func (c *pgCounter) settled(ctx context.Context) (pgWork, error) {
	c.b.say("%s: waiting %s for Postgres' statistics to be reported...", rowEmotePostgres, pgStatsFlush)
	if err := sleepCtx(ctx, pgStatsFlush); err != nil {
		return pgWork{}, err
	}
	return c.read(ctx)
}

// since is the work done since before, read once every backend has
// reported (settled).
func (c *pgCounter) since(ctx context.Context, before pgWork) (pgWork, error) {
	now, err := c.settled(ctx)
	if err != nil {
		return pgWork{}, err
	}
	return pgWork{statements: now.statements - before.statements, xacts: now.xacts - before.xacts, written: now.written - before.written}, nil
}

// row is the Postgres work per emote row for work done for emotes.
func (c *pgCounter) row(w pgWork, emotes int64) Row {
	r := Row{Scenario: rowEmotePostgres}
	if emotes <= 0 {
		r.Note = "no emote was created"
		return r
	}
	n := float64(emotes)
	scope := fmt.Sprintf("everything the bench database ran from the start of the load until the %d emotes it created had ended "+
		"(the api's creates, the worker's jobs, River's fetches and completions, the app-share slots, the maintenance of River's leader "+
		"and the bench's own few sampling queries), divided by those emotes", emotes)
	if c.statements {
		r.Unit, r.Ours = "statements", num(w.statements/n)
		r.Note = fmt.Sprintf("statements per emote from pg_stat_statements (calls): %s; also %.1f transactions and %.1f rows written "+
			"per emote (pg_stat_database). No target.", scope, w.xacts/n, w.written/n)
		return r
	}
	r.Unit, r.Ours = "transactions", num(w.xacts/n)
	r.Note = fmt.Sprintf("transactions per emote (pg_stat_database xact_commit + xact_rollback, read %s after the phase so that every "+
		"backend has reported): %s. Statements themselves are not counted: pg_stat_statements needs the server to preload it "+
		"(shared_preload_libraries), which this server does not, and a shared server is not restarted for a bench; every statement "+
		"runs in a transaction, so this is a lower bound of the statements, exact for the single-statement ones. Rows written "+
		"(tup_inserted + tup_updated + tup_deleted) per emote: %.1f. No target.", pgStatsFlush, scope, w.written/n)
	return r
}
