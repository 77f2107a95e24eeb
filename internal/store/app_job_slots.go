package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// AppSlotParams names a job run's slot among its app's slots on a queue.
type AppSlotParams struct {
	AppID   uuid.UUID
	Queue   string
	JobID   int64
	Attempt int
	// Cap is the most live slots the app may hold on the queue.
	Cap int
}

// AppSlotTake takes a slot for the job run when the app holds fewer than
// Cap live slots on the queue, and reports whether it did. Takers of one
// app and queue are serialized by a transaction-scoped advisory lock;
// slots whose River job no longer runs that attempt (a worker died, or a
// release was lost) are dropped when the app's slots reach the cap, so
// they never count against it. Taking again for the same run is a no-op
// that answers true.
//
// The transaction commits without waiting for its WAL flush
// (synchronous_commit off): the lock is held until the commit returns, so a
// flushed commit would make one app's job runs wait on the disk one at a
// time (bench/README.md, finding 16). A slot lost when Postgres crashes
// costs little: until that run ends, the app may hold one run more than its
// cap.
func AppSlotTake(ctx context.Context, db *pgxpool.Pool, p *AppSlotParams) (bool, error) {
	// The whole transaction is one batch, one round trip: no client round
	// trip falls while the lock is held. Each statement runs with a
	// snapshot of its own, so the take sees every slot committed by the
	// takers that held the lock before. A batch that fails leaves its
	// connection in a transaction, which the pool closes.
	taken := false
	batch := &pgx.Batch{}
	batch.Queue("BEGIN")
	batch.Queue("SET LOCAL synchronous_commit = off")
	batch.Queue("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", "app_job_slots:"+p.AppID.String()+":"+p.Queue)
	batch.Queue(appSlotTakeSQL, p.AppID, p.Queue, p.JobID, p.Attempt, p.Cap).QueryRow(func(row pgx.Row) error {
		err := row.Scan(&taken)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	batch.Queue("COMMIT")
	err := db.SendBatch(ctx, batch).Close()
	if err != nil {
		return false, fmt.Errorf("error taking a slot of app %s on queue %s for job %d: %w", p.AppID, p.Queue, p.JobID, err)
	}
	return taken, nil
}

// appSlotTakeSQL counts the app's other slots on the queue; when they
// reach the cap, it drops those whose River job no longer runs that
// attempt, which no longer count (only then: below the cap a dead slot
// changes nothing, and looking for them joins every slot of the app to
// river_job). It takes the run's slot when the others still counted are
// fewer than the cap, and returns a row only then. Its parts share one
// snapshot, so the count after the drop subtracts what it dropped.
const appSlotTakeSQL = `WITH held AS (
		SELECT count(*) AS n FROM app_job_slots WHERE app_id = $1 AND queue = $2 AND job_id <> $3
	), gone AS (
		DELETE FROM app_job_slots s
		WHERE (SELECT n FROM held) >= $5 AND s.app_id = $1 AND s.queue = $2 AND s.job_id <> $3 AND NOT EXISTS (
			SELECT 1 FROM river_job j WHERE j.id = s.job_id AND j.state = 'running' AND j.attempt = s.attempt)
		RETURNING 1
	)
	INSERT INTO app_job_slots (job_id, attempt, app_id, queue)
	SELECT $3, $4, $1, $2 FROM held WHERE held.n - (SELECT count(*) FROM gone) < $5
	ON CONFLICT (job_id) DO UPDATE SET attempt = excluded.attempt, app_id = excluded.app_id,
		queue = excluded.queue, taken_at = now()
	RETURNING true`

// AppSlotRelease gives back the slot of a job run. Its commit does not
// wait for the WAL flush (execUnflushed): a release lost when Postgres
// crashes leaves a slot whose job no longer runs that attempt, which never
// counts against the cap.
func AppSlotRelease(ctx context.Context, db *pgxpool.Pool, jobID int64, attempt int) error {
	if err := execUnflushed(ctx, db, "DELETE FROM app_job_slots WHERE job_id = $1 AND attempt = $2", jobID, attempt); err != nil {
		return fmt.Errorf("error releasing the slot of job %d: %w", jobID, err)
	}
	return nil
}

// AppSlotsHeld counts the slots an app holds on a queue, live or not.
func AppSlotsHeld(ctx context.Context, db DBTX, appID uuid.UUID, queue string) (int, error) {
	var n int
	if err := db.QueryRow(ctx, "SELECT count(*) FROM app_job_slots WHERE app_id = $1 AND queue = $2", appID, queue).Scan(&n); err != nil {
		return 0, fmt.Errorf("error counting the slots of app %s: %w", appID, err)
	}
	return n, nil
}

// JobAppID returns the app of the emote or generation a job is about:
// table is "emotes" or "generations". A missing row is ErrNotFound.
func JobAppID(ctx context.Context, db DBTX, table string, id uuid.UUID) (uuid.UUID, error) {
	var q string
	switch table {
	case "emotes":
		q = "SELECT app_id FROM emotes WHERE id = $1"
	case "generations":
		q = "SELECT app_id FROM generations WHERE id = $1"
	default:
		return uuid.Nil, fmt.Errorf("store: JobAppID does not know table %q", table)
	}
	var app uuid.UUID
	err := db.QueryRow(ctx, q, id).Scan(&app)
	if errors.Is(err, pgx.ErrNoRows) {
		return uuid.Nil, ErrNotFound
	}
	if err != nil {
		return uuid.Nil, fmt.Errorf("error reading the app of %s %s: %w", table, id, err)
	}
	return app, nil
}

// execUnflushed runs one statement in a transaction of its own that
// commits without waiting for its WAL flush (synchronous_commit off), all in
// one round trip: for writes whose loss in a crash costs nothing but a
// repeat. A batch that fails leaves its connection in a transaction, which
// the pool closes.
func execUnflushed(ctx context.Context, db *pgxpool.Pool, sql string, args ...any) error {
	batch := &pgx.Batch{}
	batch.Queue("BEGIN")
	batch.Queue("SET LOCAL synchronous_commit = off")
	batch.Queue(sql, args...)
	batch.Queue("COMMIT")
	return db.SendBatch(ctx, batch).Close()
}
