package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// GenerationAwaitingCompletion reports whether a generation in status still
// waits for the upstream's completion (a callback or socket message would
// move it on).
func GenerationAwaitingCompletion(status JobStatus) bool {
	return slices.Contains(awaitingStatuses, status)
}

// Generation is one AI image generation.
type Generation struct {
	ID                  uuid.UUID       `db:"id"`
	AppID               uuid.UUID       `db:"app_id"`
	Model               string          `db:"model"`
	Input               json.RawMessage `db:"input"`
	Publish             json.RawMessage `db:"publish"`
	Status              JobStatus       `db:"status"`
	Progress            int16           `db:"progress"`
	WorkloadID          string          `db:"workload_id"`
	WSJWT               string          `db:"ws_jwt"`
	CallbackTokenHashes [][]byte        `db:"callback_token_hashes"`
	SubmitAttempts      int32           `db:"submit_attempts"`
	Resubmits           int32           `db:"resubmits"`
	UpstreamLink        string          `db:"upstream_link"`
	Completions         int32           `db:"completions"`
	LateCompletions     int32           `db:"late_completions"`
	LateLink            string          `db:"late_link"`
	ImageKey            string          `db:"image_key"`
	ImageSize           int64           `db:"image_size"`
	ImageContentType    string          `db:"image_content_type"`
	TokenID             *string         `db:"token_id"`
	TokenCollection     string          `db:"token_collection"`
	TokenCreated        bool            `db:"token_created"`
	UploadDone          bool            `db:"upload_done"`
	ErrorCode           string          `db:"error_code"`
	ErrorMessage        string          `db:"error_message"`
	DeadlineAt          time.Time       `db:"deadline_at"`
	SubmittedAt         *time.Time      `db:"submitted_at"`
	CompletedAt         *time.Time      `db:"completed_at"`
	FinishedAt          *time.Time      `db:"finished_at"`
	CreatedAt           time.Time       `db:"created_at"`
	UpdatedAt           time.Time       `db:"updated_at"`
}

// Fail moves g to failed with a code and message, stamped at now.
func (g *Generation) Fail(code, message string, now time.Time) {
	g.Status, g.ErrorCode, g.ErrorMessage, g.FinishedAt = JobFailed, code, message, &now
}

const generationColumns = `id, app_id, model, input, publish, status, progress, workload_id, ws_jwt,
	callback_token_hashes, submit_attempts, resubmits, upstream_link, completions, late_completions, late_link,
	image_key, image_size, image_content_type, token_id, token_collection, token_created, upload_done,
	error_code, error_message, deadline_at, submitted_at, completed_at, finished_at, created_at, updated_at`

// ErrUnchanged, returned by a GenerationUpdate function, commits nothing
// and makes GenerationUpdate return the row as read, without error.
var ErrUnchanged = errors.New("unchanged")

// GenerationInsert inserts a new generation and records its first event
// (job_event.go), in db's transaction or a new one. ID, AppID, Model,
// Input and DeadlineAt are required; Status defaults to queued.
func GenerationInsert(ctx context.Context, db DBTX, g *Generation) error {
	if g.Status == "" {
		g.Status = JobQueued
	}
	var publish any
	if len(g.Publish) > 0 {
		publish = g.Publish
	}
	return inTx(ctx, db, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO generations (id, app_id, model, input, publish, status, deadline_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING created_at, updated_at`,
			g.ID, g.AppID, g.Model, g.Input, publish, g.Status, g.DeadlineAt).Scan(&g.CreatedAt, &g.UpdatedAt)
		if err != nil {
			return fmt.Errorf("error inserting generation %s: %w", g.ID, mapErr(err))
		}
		return recordJobEvent(ctx, tx, g.AppID, g.Object(""))
	})
}

// GenerationGet returns a generation by id, or ErrNotFound.
func GenerationGet(ctx context.Context, db DBTX, id uuid.UUID) (*Generation, error) {
	return scanGeneration(db.Query(ctx, `SELECT `+generationColumns+` FROM generations WHERE id = $1`, id))
}

// GenerationGetForApp returns an app's generation; another app's is
// ErrNotFound.
func GenerationGetForApp(ctx context.Context, db DBTX, appID, id uuid.UUID) (*Generation, error) {
	return scanGeneration(db.Query(ctx, `SELECT `+generationColumns+` FROM generations WHERE id = $1 AND app_id = $2`, id, appID))
}

func scanGeneration(rows pgx.Rows, err error) (*Generation, error) {
	if err != nil {
		return nil, fmt.Errorf("error reading generation: %w", err)
	}
	g, err := pgx.CollectExactlyOneRow(rows, pgx.RowToAddrOfStructByName[Generation])
	if err != nil {
		return nil, mapErr(err)
	}
	return g, nil
}

// GenerationUpdate reads the generation under a row lock (SELECT … FOR
// UPDATE), lets fn check and change it, and writes it back, in one
// transaction that fn may also use (to insert jobs with it). fn returning
// ErrUnchanged commits nothing; any other error rolls back and is
// returned. The result is the row as written (or as read).
func GenerationUpdate(ctx context.Context, db interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}, id uuid.UUID, fn func(tx pgx.Tx, g *Generation) error) (*Generation, error) {
	var out *Generation
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		g, err := scanGeneration(tx.Query(ctx, `SELECT `+generationColumns+` FROM generations WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		before := g.Status
		if err := fn(tx, g); err != nil {
			if errors.Is(err, ErrUnchanged) {
				out = g
				return nil
			}
			return err
		}
		if g.CallbackTokenHashes == nil {
			g.CallbackTokenHashes = [][]byte{}
		}
		err = tx.QueryRow(ctx, `UPDATE generations SET status = $2, progress = $3, workload_id = $4, ws_jwt = $5,
			callback_token_hashes = $6, submit_attempts = $7, resubmits = $8, upstream_link = $9, completions = $10,
			late_completions = $11, late_link = $12, image_key = $13, image_size = $14, image_content_type = $15,
			token_id = $16, token_collection = $17, token_created = $18, upload_done = $19, error_code = $20,
			error_message = $21, submitted_at = $22, completed_at = $23, finished_at = $24, deadline_at = $25, updated_at = now()
			WHERE id = $1 RETURNING updated_at`,
			g.ID, g.Status, g.Progress, g.WorkloadID, g.WSJWT, g.CallbackTokenHashes, g.SubmitAttempts, g.Resubmits,
			g.UpstreamLink, g.Completions, g.LateCompletions, g.LateLink, g.ImageKey, g.ImageSize, g.ImageContentType,
			g.TokenID, g.TokenCollection, g.TokenCreated, g.UploadDone, g.ErrorCode, g.ErrorMessage,
			g.SubmittedAt, g.CompletedAt, g.FinishedAt, g.DeadlineAt).Scan(&g.UpdatedAt)
		if err != nil {
			return fmt.Errorf("error updating generation %s: %w", id, mapErr(err))
		}
		if g.Status != before {
			if err := recordJobEvent(ctx, tx, g.AppID, g.Object("")); err != nil {
				return err
			}
		}
		out = g
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GenerationListParams filter and page a list.
type GenerationListParams struct {
	AppID uuid.UUID
	// Status and Model filter when set.
	Status JobStatus
	Model  string
	// Limit is the page size, 1 to 100. Defaults to 20.
	Limit int
	// After continues from a previous page's next cursor.
	After *JobCursor
}

// GenerationList returns a page of an app's generations, newest first, and
// the cursor of the next page (nil on the last page).
func GenerationList(ctx context.Context, db DBTX, p *GenerationListParams) ([]*Generation, *JobCursor, error) {
	limit := pageLimit(p.Limit)
	var afterAt *time.Time
	var afterID *uuid.UUID
	if p.After != nil {
		afterAt, afterID = &p.After.CreatedAt, &p.After.ID
	}
	rows, err := db.Query(ctx, `SELECT `+generationColumns+` FROM generations
		WHERE app_id = $1
		  AND ($2 = '' OR status = $2)
		  AND ($3 = '' OR model = $3)
		  AND ($4::timestamptz IS NULL OR (created_at, id) < ($4, $5::uuid))
		ORDER BY created_at DESC, id DESC
		LIMIT $6`, p.AppID, string(p.Status), p.Model, afterAt, afterID, limit+1)
	if err != nil {
		return nil, nil, fmt.Errorf("error listing generations of app %s: %w", p.AppID, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToAddrOfStructByName[Generation])
	if err != nil {
		return nil, nil, fmt.Errorf("error listing generations of app %s: %w", p.AppID, err)
	}
	var next *JobCursor
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = &JobCursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	return out, next, nil
}

// GenerationCallbackTokenHashes returns the hashes of a generation's
// callback tokens (one per submit attempt) in one plain read: no
// transaction and no row lock (a webhook whose body is malformed tells only
// the holder of a valid token so). An unknown id is ErrNotFound.
func GenerationCallbackTokenHashes(ctx context.Context, db DBTX, id uuid.UUID) ([][]byte, error) {
	var hashes [][]byte
	err := db.QueryRow(ctx, `SELECT callback_token_hashes FROM generations WHERE id = $1`, id).Scan(&hashes)
	if err != nil {
		return nil, fmt.Errorf("error reading callback tokens of generation %s: %w", id, mapErr(err))
	}
	return hashes, nil
}

// Completion is a completion message from the upstream (webhook or
// websocket): OK with the image link, or a failure with its message.
type Completion struct {
	OK      bool
	Link    string
	Message string
	// At is when it arrived.
	At time.Time
	// TokenHash, when set (a webhook's), is the SHA-256 of the callback
	// token presented: the completion applies only to a generation that
	// lists it among its callback token hashes, and to no other it is
	// ErrNotFound.
	TokenHash []byte
}

// awaitingStatuses are the states awaiting a completion.
var awaitingStatuses = []JobStatus{JobQueued, GenerationSubmitting, GenerationSubmitted, JobProcessing}

// completeSQL applies a completion in one statement, under the row lock
// its CTE takes: every message is counted; a generation still awaiting
// its completion moves on (finalizing with the link, or failed), and any
// other (a duplicate, or one after the deadline or a cancel) counts it as
// late and keeps its first differing link in late_link. It returns whether
// the generation was awaiting (applied) and the row as written.
//
// A token hash ($7) that the row does not list filters the row out before
// the lock: a wrong token neither waits for the row lock nor takes it. It
// compares SHA-256 digests, whose timing tells nothing usable about a
// token; the caller still checks the token in constant time on the row
// returned.
var completeSQL = `WITH old AS (
	SELECT id, status = ANY($6::text[]) AS awaiting FROM generations
	WHERE id = $1 AND ($7::bytea IS NULL OR $7 = ANY(callback_token_hashes))
	FOR UPDATE
)
UPDATE generations g SET
	completions = g.completions + 1,
	late_completions = g.late_completions + CASE WHEN old.awaiting THEN 0 ELSE 1 END,
	late_link = CASE WHEN NOT old.awaiting AND $2 AND g.late_link = '' AND $3 <> g.upstream_link THEN $3 ELSE g.late_link END,
	status = CASE WHEN NOT old.awaiting THEN g.status WHEN $2 THEN '` + string(GenerationFinalizing) + `' ELSE '` + string(JobFailed) + `' END,
	upstream_link = CASE WHEN old.awaiting AND $2 THEN $3 ELSE g.upstream_link END,
	progress = CASE WHEN old.awaiting AND $2 THEN 100 ELSE g.progress END,
	error_code = CASE WHEN old.awaiting AND NOT $2 THEN 'upstream_failed' ELSE g.error_code END,
	error_message = CASE WHEN old.awaiting AND NOT $2 THEN $4 ELSE g.error_message END,
	completed_at = CASE WHEN old.awaiting THEN $5 ELSE g.completed_at END,
	finished_at = CASE WHEN old.awaiting AND NOT $2 THEN $5 ELSE g.finished_at END,
	updated_at = now()
FROM old
WHERE g.id = old.id
RETURNING old.awaiting AS applied,
	EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.app_id = g.app_id AND e.enabled) AS listening,
	` + prefixColumns("g.", generationColumns)

// prefixColumns qualifies each of a comma-separated list of plain column
// names with prefix.
func prefixColumns(prefix, columns string) string {
	names := strings.Split(columns, ",")
	for i, n := range names {
		names[i] = prefix + strings.TrimSpace(n)
	}
	return strings.Join(names, ", ")
}

// Completed is what GenerationComplete wrote.
type Completed struct {
	ID     uuid.UUID
	Status JobStatus
	// CallbackTokenHashes are the row's, to check a webhook's token
	// against.
	CallbackTokenHashes [][]byte
	// Applied says the message moved the generation on; otherwise it was
	// counted as late.
	Applied bool
}

// GenerationComplete records a completion message in one statement (see
// completeSQL), then calls then, in the same transaction, with what it
// wrote: then inserts the job that follows an applied completion, or
// refuses the message by returning an error, which rolls everything back.
// The status change of an applied completion is recorded as the job's
// event. An unknown id, or a token hash the generation does not list, is
// ErrNotFound.
//
// The transaction begins in the round trip of that statement and, when no
// webhook endpoint of the app is enabled (completeSQL's listening), commits
// in the round trip of the job event: a webhook callback costs three round
// trips, the middle one the job's insert (make bench, webhook callbacks
// row; bench/README.md). With an endpoint enabled the event's deliveries
// and their jobs come before COMMIT, as in every other status change.
func GenerationComplete(ctx context.Context, pool *pgxpool.Pool, id uuid.UUID, c Completion, then func(tx pgx.Tx, done *Completed) error) (*Completed, error) {
	message := c.Message
	if !c.OK && message == "" {
		message = "Generaitiv reported that the generation failed"
	}
	var tokenHash any
	if c.TokenHash != nil {
		tokenHash = c.TokenHash
	}
	b := &pgx.Batch{}
	b.Queue(completeSQL, id, c.OK, c.Link, message, c.At, awaitingStatuses, tokenHash)
	tx, br, err := beginPipeTx(ctx, pool, b)
	if err != nil {
		return nil, fmt.Errorf("error recording completion of generation %s: %w", id, err)
	}
	defer tx.release(ctx)
	row, err := func() (*completedRow, error) {
		defer br.Close()
		if _, err := br.Exec(); err != nil {
			return nil, fmt.Errorf("error beginning completion of generation %s: %w", id, err)
		}
		rows, err := br.Query()
		if err != nil {
			return nil, fmt.Errorf("error recording completion of generation %s: %w", id, err)
		}
		row, err := pgx.CollectExactlyOneRow(rows, pgx.RowToAddrOfStructByName[completedRow])
		if err != nil {
			return nil, fmt.Errorf("error recording completion of generation %s: %w", id, mapErr(err))
		}
		if err := br.Close(); err != nil {
			return nil, fmt.Errorf("error recording completion of generation %s: %w", id, err)
		}
		return row, nil
	}()
	if err != nil {
		return nil, err
	}
	done := &Completed{ID: id, Status: row.Status, CallbackTokenHashes: row.CallbackTokenHashes, Applied: row.Applied}
	if err := then(tx, done); err != nil {
		return nil, err
	}
	last := &pgx.Batch{}
	if done.Applied {
		obj := row.Generation.Object("")
		if row.Listening {
			if err := recordJobEvent(ctx, tx, row.AppID, obj); err != nil {
				return nil, err
			}
		} else {
			ev, err := newJobEventRow(row.AppID, obj)
			if err != nil {
				return nil, err
			}
			last.Queue(insertJobEventSQL, ev.args()...)
		}
	}
	if err := tx.commitWith(ctx, last); err != nil {
		return nil, fmt.Errorf("error committing completion of generation %s: %w", id, err)
	}
	return done, nil
}

// completedRow is what completeSQL returns.
type completedRow struct {
	Applied bool `db:"applied"`
	// Listening says an endpoint of the app is enabled: the event may
	// have deliveries to insert with it.
	Listening bool `db:"listening"`
	Generation
}
