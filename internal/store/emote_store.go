package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Token statuses, as gamepipe last knew them.
const (
	TokenIssued  = "issued"
	TokenUsed    = "used"
	TokenExpired = "expired"
)

// Emote is one row of the emotes table. Empty strings, zero times, uuid.Nil
// and a zero JobID stand for NULL.
type Emote struct {
	ID                   uuid.UUID       `db:"id"`
	AppID                uuid.UUID       `db:"app_id"`
	UserID               string          `db:"user_id"`
	Name                 string          `db:"name"`
	StartMS              int64           `db:"start_ms"`
	EndMS                int64           `db:"end_ms"`
	Mature               bool            `db:"mature"`
	VideoKey             string          `db:"video_key"`
	VideoSize            int64           `db:"video_size"`
	VideoFormat          string          `db:"video_format"`
	VideoPending         bool            `db:"video_pending"`
	Status               JobStatus       `db:"status"`
	StatusSeq            int             `db:"status_seq"`
	NotifiedSeq          int             `db:"notified_seq"`
	JobID                int64           `db:"job_id"`
	ProcessUUID          uuid.UUID       `db:"kinetix_process_uuid"`
	PreviousProcessUUIDs []uuid.UUID     `db:"previous_process_uuids"`
	Token                string          `db:"token"`
	TokenCreatedAt       time.Time       `db:"token_created_at"`
	TokenStatus          string          `db:"token_status"`
	ValidationFlow       bool            `db:"validation_flow"`
	UpstreamStatus       string          `db:"upstream_status"`
	ProcessingStartedAt  time.Time       `db:"processing_started_at"`
	Result               json.RawMessage `db:"result"`
	ErrorCode            string          `db:"error_code"`
	ErrorMessage         string          `db:"error_message"`
	RetakeCount          int             `db:"retake_count"`
	IdempotencyKey       string          `db:"idempotency_key"`
	CreatedAt            time.Time       `db:"created_at"`
	UpdatedAt            time.Time       `db:"updated_at"`
	FinishedAt           time.Time       `db:"finished_at"`
}

// emoteColumns reads NULLs as zero values (year 1 is Go's zero time).
const emoteColumns = `id, app_id, user_id, name, start_ms, end_ms, mature, video_key, video_size, video_format,
	video_pending, status, status_seq, notified_seq, coalesce(job_id, 0) AS job_id,
	coalesce(kinetix_process_uuid, '00000000-0000-0000-0000-000000000000') AS kinetix_process_uuid,
	previous_process_uuids, coalesce(token, '') AS token,
	coalesce(token_created_at, '0001-01-01 00:00:00+00') AS token_created_at, coalesce(token_status, '') AS token_status,
	validation_flow, coalesce(upstream_status, '') AS upstream_status,
	coalesce(processing_started_at, '0001-01-01 00:00:00+00') AS processing_started_at, result,
	coalesce(error_code, '') AS error_code, coalesce(error_message, '') AS error_message, retake_count,
	coalesce(idempotency_key, '') AS idempotency_key, created_at, updated_at,
	coalesce(finished_at, '0001-01-01 00:00:00+00') AS finished_at`

// EmoteInsert adds a new emote (ID, AppID and the request fields set;
// Status defaults to queued) and records its first event (job_event.go),
// in db's transaction or a new one.
func EmoteInsert(ctx context.Context, db DBTX, e *Emote) error {
	if e.Status == "" {
		e.Status = JobQueued
	}
	return inTx(ctx, db, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO emotes (id, app_id, user_id, name, start_ms, end_ms, mature,
				video_key, video_size, video_format, status, job_id, idempotency_key)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULLIF($12, 0), NULLIF($13, ''))
			RETURNING status_seq, notified_seq, created_at, updated_at`,
			e.ID, e.AppID, e.UserID, e.Name, e.StartMS, e.EndMS, e.Mature, e.VideoKey, e.VideoSize, e.VideoFormat,
			e.Status, e.JobID, e.IdempotencyKey).Scan(&e.StatusSeq, &e.NotifiedSeq, &e.CreatedAt, &e.UpdatedAt)
		if err != nil {
			return fmt.Errorf("error inserting emote %s: %w", e.ID, mapErr(err))
		}
		return recordJobEvent(ctx, tx, e.AppID, e.Object())
	})
}

// EmoteGet returns an emote by id (for the jobs), or ErrNotFound.
func EmoteGet(ctx context.Context, db DBTX, id uuid.UUID) (*Emote, error) {
	return emoteOne(ctx, db, "SELECT "+emoteColumns+" FROM emotes WHERE id = $1", id)
}

// EmoteGetForApp returns an app's emote; another app's is ErrNotFound.
func EmoteGetForApp(ctx context.Context, db DBTX, appID, id uuid.UUID) (*Emote, error) {
	return emoteOne(ctx, db, "SELECT "+emoteColumns+" FROM emotes WHERE id = $1 AND app_id = $2", id, appID)
}

func emoteOne(ctx context.Context, db DBTX, sql string, args ...any) (*Emote, error) {
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("error reading emote: %w", err)
	}
	e, err := pgx.CollectExactlyOneRow(rows, pgx.RowToAddrOfStructByName[Emote])
	if err != nil {
		return nil, mapErr(err)
	}
	return e, nil
}

// EmoteUpdate reads the emote under a row lock (SELECT … FOR UPDATE), lets
// fn check and change it, and writes it back, in one transaction that fn
// may also use (to insert jobs with it), as GenerationUpdate does. fn
// returning ErrUnchanged, or changing nothing, writes nothing and returns
// the row as read; any other error rolls back and is returned. When fn
// changes the status, StatusSeq advances.
func EmoteUpdate(ctx context.Context, db interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}, id uuid.UUID, fn func(tx pgx.Tx, e *Emote) error) (*Emote, error) {
	var out *Emote
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var err error
		out, err = emoteUpdateTx(ctx, tx, id, fn)
		return err
	})
	return out, err
}

// emoteUpdateTx is EmoteUpdate's work in its transaction.
func emoteUpdateTx(ctx context.Context, tx pgx.Tx, id uuid.UUID, fn func(tx pgx.Tx, e *Emote) error) (*Emote, error) {
	e, err := emoteOne(ctx, tx, "SELECT "+emoteColumns+" FROM emotes WHERE id = $1 FOR UPDATE", id)
	if err != nil {
		return nil, err
	}
	before := *e
	before.PreviousProcessUUIDs = slices.Clone(e.PreviousProcessUUIDs)
	before.Result = slices.Clone(e.Result)
	if err := fn(tx, e); err != nil {
		if errors.Is(err, ErrUnchanged) {
			return &before, nil
		}
		return nil, err
	}
	if reflect.DeepEqual(before, *e) {
		return e, nil
	}
	if e.Status != before.Status {
		e.StatusSeq = before.StatusSeq + 1
	}
	if e.PreviousProcessUUIDs == nil {
		e.PreviousProcessUUIDs = []uuid.UUID{}
	}
	err = tx.QueryRow(ctx, `UPDATE emotes SET
			name = $2, start_ms = $3, end_ms = $4, mature = $5, video_key = $6, video_size = $7,
			video_format = $8, video_pending = $9, status = $10, status_seq = $11, job_id = NULLIF($12, 0),
			kinetix_process_uuid = NULLIF($13, '00000000-0000-0000-0000-000000000000'::uuid),
			previous_process_uuids = $14, token = NULLIF($15, ''), token_created_at = $16,
			token_status = NULLIF($17, ''), validation_flow = $18, upstream_status = NULLIF($19, ''),
			processing_started_at = $20, result = $21, error_code = NULLIF($22, ''),
			error_message = NULLIF($23, ''), retake_count = $24, finished_at = $25, updated_at = now()
		WHERE id = $1 RETURNING updated_at`,
		e.ID, e.Name, e.StartMS, e.EndMS, e.Mature, e.VideoKey, e.VideoSize, e.VideoFormat, e.VideoPending,
		e.Status, e.StatusSeq, e.JobID, e.ProcessUUID, e.PreviousProcessUUIDs, e.Token,
		nullTime(e.TokenCreatedAt), e.TokenStatus, e.ValidationFlow, e.UpstreamStatus,
		nullTime(e.ProcessingStartedAt), nullJSON(e.Result), e.ErrorCode, e.ErrorMessage, e.RetakeCount,
		nullTime(e.FinishedAt)).Scan(&e.UpdatedAt)
	if err != nil {
		return nil, fmt.Errorf("error updating emote %s: %w", id, mapErr(err))
	}
	if e.Status != before.Status {
		if err := recordJobEvent(ctx, tx, e.AppID, e.Object()); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// EmoteMarkNotified records that the notification of status change seq was
// published. It only moves forward. Its commit does not wait for the WAL
// flush (execUnflushed): a mark lost when Postgres crashes only makes the
// emote's next job run publish the change again, under the same message id.
func EmoteMarkNotified(ctx context.Context, db *pgxpool.Pool, id uuid.UUID, seq int) error {
	if err := execUnflushed(ctx, db, `UPDATE emotes SET notified_seq = greatest(notified_seq, $2) WHERE id = $1`, id, seq); err != nil {
		return fmt.Errorf("error marking emote %s notified: %w", id, err)
	}
	return nil
}

// EmoteListParams select a page of an app's emotes, newest first.
type EmoteListParams struct {
	AppID uuid.UUID
	// UserID, when set, keeps that player's emotes only.
	UserID string
	// Status, when set, keeps emotes in that status only.
	Status JobStatus
	// Limit is the page size, 1 to 100. Defaults to 20.
	Limit int
	// After continues from a previous page's next cursor.
	After *JobCursor
}

// EmoteList returns a page of emotes and the cursor of the next page (nil
// on the last page).
func EmoteList(ctx context.Context, db DBTX, p *EmoteListParams) ([]*Emote, *JobCursor, error) {
	limit := pageLimit(p.Limit)
	where := []string{"app_id = $1"}
	args := []any{p.AppID}
	add := func(cond string, vals ...any) {
		for _, v := range vals {
			args = append(args, v)
			cond = strings.Replace(cond, "?", "$"+strconv.Itoa(len(args)), 1)
		}
		where = append(where, cond)
	}
	if p.UserID != "" {
		add("user_id = ?", p.UserID)
	}
	if p.Status != "" {
		add("status = ?", p.Status)
	}
	if p.After != nil {
		add("(created_at, id) < (?, ?)", p.After.CreatedAt, p.After.ID)
	}
	args = append(args, limit+1)
	sql := "SELECT " + emoteColumns + " FROM emotes WHERE " + strings.Join(where, " AND ") +
		" ORDER BY created_at DESC, id DESC LIMIT $" + strconv.Itoa(len(args))
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("error listing emotes of app %s: %w", p.AppID, err)
	}
	emotes, err := pgx.CollectRows(rows, pgx.RowToAddrOfStructByName[Emote])
	if err != nil {
		return nil, nil, fmt.Errorf("error listing emotes of app %s: %w", p.AppID, err)
	}
	var next *JobCursor
	if len(emotes) > limit {
		emotes = emotes[:limit]
		last := emotes[limit-1]
		next = &JobCursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	return emotes, next, nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func nullJSON(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}
