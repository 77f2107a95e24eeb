package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// WebhookQueue is the River queue of webhook deliveries.
const WebhookQueue = "webhooks"

// WebhookDeliverMaxAttempts is how many times a delivery is tried: the
// first try and the retry schedule of docs/webhooks.md.
const WebhookDeliverMaxAttempts = 8

// WebhookDeliverArgs is the River job that sends one delivery (worked by
// the jobs package). Stored here so the delivery is enqueued in the
// transaction of the change it reports, wherever that change is written.
type WebhookDeliverArgs struct {
	DeliveryID uuid.UUID `json:"delivery_id"`
}

// Kind implements river.JobArgs.
func (WebhookDeliverArgs) Kind() string { return "webhook_deliver" }

// InsertOpts puts the job on the webhooks queue with its attempts.
func (WebhookDeliverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: WebhookQueue, MaxAttempts: WebhookDeliverMaxAttempts}
}

// riverInserter inserts jobs inside a caller's transaction; it has no pool
// of its own and never works jobs (River's insert-only client).
var riverInserter = sync.OnceValues(func() (*river.Client[pgx.Tx], error) {
	return river.NewClient(riverpgxv5.New(nil), &river.Config{})
})

// JobEvent is one status change of a job, as game servers hear it: the
// webhook payload and the app's events stream (docs/webhooks.md).
type JobEvent struct {
	// Type is "<kind>.<status>".
	Type string `json:"type"`
	// Timestamp is when the change was written (the job's updated_at).
	Timestamp time.Time `json:"timestamp"`
	// Sequence numbers the job's events from 1: a receiver keeps the
	// highest it has seen and drops a lower one arriving late.
	Sequence int64 `json:"sequence"`
	// Data is the job as GET returns it after the change.
	Data *JobObject `json:"data"`
}

// StoredJobEvent is a JobEvent as stored: Body is the payload as signed
// and sent, but for a generation's image_url, which is stored relative and
// made absolute on the way out (JobEventBody).
type StoredJobEvent struct {
	Seq   int64
	ID    uuid.UUID
	AppID uuid.UUID
	Type  string
	Body  []byte
}

// recordJobEvent stores the status change of obj in tx and, for every
// enabled endpoint of the app that wants its type, a delivery and the River
// job that sends it; all commit or roll back with the change. The event,
// its number among the job's events and the deliveries are one statement
// (it runs in every status change).
func recordJobEvent(ctx context.Context, tx pgx.Tx, appID uuid.UUID, obj *JobObject) error {
	ev, err := newJobEventRow(appID, obj)
	if err != nil {
		return err
	}
	rows, err := tx.Query(ctx, `WITH ev AS (`+insertJobEventSQL+` RETURNING body)
		INSERT INTO webhook_deliveries (id, endpoint_id, app_id, event_id, type, body)
		SELECT gen_random_uuid(), e.id, e.app_id, $2, $3, ev.body FROM webhook_endpoints e, ev
		WHERE e.app_id = $1 AND e.enabled
			AND ($3 = ANY (e.event_types) OR $7 = ANY (e.event_types) OR '*' = ANY (e.event_types))
		RETURNING id`, append(ev.args(), obj.Kind+".*")...)
	if err != nil {
		return fmt.Errorf("error storing event of job %s: %w", ev.objectID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return fmt.Errorf("error storing event of job %s: %w", ev.objectID, err)
	}
	return insertDeliverJobs(ctx, tx, ids)
}

// insertJobEventSQL stores a job event ($1 app, $2 event id, $3 type, $4
// job id), numbered next among the job's events: the job's row is locked
// by the change, so its next number is ours. The body is $5, the number,
// $6. The event has no number in the app's stream yet, and takes no lock of
// the app: it is numbered once it has committed (JobEventsNumber).
const insertJobEventSQL = `INSERT INTO job_events (app_id, id, type, object_id, object_seq, body)
	SELECT $1, $2, $3, $4, n, $5::text || n::text || $6::text
	FROM (SELECT coalesce(max(object_seq), 0) + 1 AS n FROM job_events WHERE object_id = $4) next`

// jobEventRow is a job event encoded for insertJobEventSQL.
type jobEventRow struct {
	appID, eventID, objectID uuid.UUID
	typ                      string
	// before and after are the body, encoded with sequence 0 and split
	// around it; the statement puts the job's next number in between.
	before, after string
}

func newJobEventRow(appID uuid.UUID, obj *JobObject) (*jobEventRow, error) {
	ev := &JobEvent{Type: obj.Kind + "." + string(obj.Status), Timestamp: obj.UpdatedAt, Data: obj}
	objectID, err := uuid.Parse(obj.ID)
	if err != nil {
		return nil, fmt.Errorf("error recording event of job %q: %w", obj.ID, err)
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("error encoding event of job %s: %w", objectID, err)
	}
	// Type and timestamp come first and are JSON strings (no bare quote in
	// them), so the first match is the event's own field.
	at := bytes.Index(body, []byte(sequenceField))
	if at < 0 {
		return nil, fmt.Errorf("error encoding event of job %s: no sequence field", objectID)
	}
	return &jobEventRow{
		appID: appID, objectID: objectID, typ: ev.Type,
		eventID: uuid.Must(uuid.NewV7()), // time-ordered: appended at the end of the key
		before:  string(body[:at+len(sequenceField)-2]), after: string(body[at+len(sequenceField)-1:]),
	}, nil
}

// args are insertJobEventSQL's.
func (ev *jobEventRow) args() []any {
	return []any{ev.appID, ev.eventID, ev.typ, ev.objectID, ev.before, ev.after}
}

// sequenceField is how a JobEvent with sequence 0 encodes it.
const sequenceField = `,"sequence":0,`

func insertDeliverJobs(ctx context.Context, tx pgx.Tx, ids []uuid.UUID) error {
	if len(ids) == 0 {
		return nil
	}
	client, err := riverInserter()
	if err != nil {
		return err
	}
	params := make([]river.InsertManyParams, len(ids))
	for i, id := range ids {
		params[i] = river.InsertManyParams{Args: WebhookDeliverArgs{DeliveryID: id}}
	}
	if _, err := client.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("error inserting delivery jobs: %w", err)
	}
	return nil
}

// inTx runs fn in db when it is a transaction, else in a new one.
func inTx(ctx context.Context, db DBTX, fn func(tx pgx.Tx) error) error {
	if tx, ok := db.(pgx.Tx); ok {
		return fn(tx)
	}
	b, ok := db.(interface {
		Begin(ctx context.Context) (pgx.Tx, error)
	})
	if !ok {
		return fmt.Errorf("store: %T can neither be used as nor begin a transaction", db)
	}
	return pgx.BeginFunc(ctx, b, fn)
}

// JobEventsAfter returns up to limit of the app's numbered events after
// seq, oldest first; JobEventsNumber numbers those that have committed.
func JobEventsAfter(ctx context.Context, db DBTX, appID uuid.UUID, seq int64, limit int) ([]*StoredJobEvent, error) {
	rows, err := db.Query(ctx, `SELECT seq, id, app_id, type, body FROM job_events
		WHERE app_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, appID, seq, limit)
	if err != nil {
		return nil, fmt.Errorf("error reading events: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (*StoredJobEvent, error) {
		var (
			e    StoredJobEvent
			body string
		)
		err := row.Scan(&e.Seq, &e.ID, &e.AppID, &e.Type, &body)
		e.Body = []byte(body)
		return &e, err
	})
}

// jobEventsNumberBatch is how many events one numbering transaction
// numbers at most.
const jobEventsNumberBatch = 1000

// JobEventsNumber numbers the committed events of the apps that have none
// yet, and returns each app's latest number (0 for an app without
// numbered events). It is what makes events readable by JobEventsAfter.
//
// A status change stores its event without a number and without any lock
// of the app (recordJobEvent), so the changes of one app commit side by
// side. Numbers are handed out here instead, in transactions that each
// hold the app's advisory lock until they commit and continue the app's
// counter (job_event_seqs): an event is numbered only once its own
// transaction has committed (before that this one cannot see it), and
// every numbering transaction sees the ones before it, so the numbers
// become visible in increasing order. A reader resuming after number n
// (Last-Event-ID) therefore never skips an event: one that commits later
// gets a number above every number already handed out. Events are numbered
// in the order they were written (insert_seq), so a job's events keep
// their order. Any process may number, as often as it likes: a call that
// finds nothing to number writes nothing.
func JobEventsNumber(ctx context.Context, db DBTX, appIDs []uuid.UUID) (map[uuid.UUID]int64, error) {
	out := make(map[uuid.UUID]int64, len(appIDs))
	if len(appIDs) == 0 {
		return out, nil
	}
	rows, err := db.Query(ctx, `SELECT DISTINCT app_id FROM job_events WHERE app_id = ANY ($1) AND seq IS NULL`, appIDs)
	if err != nil {
		return nil, fmt.Errorf("error finding unnumbered events: %w", err)
	}
	pending, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("error finding unnumbered events: %w", err)
	}
	for _, app := range pending {
		for {
			var numbered int64
			if err := inTx(ctx, db, func(tx pgx.Tx) (err error) {
				numbered, err = numberJobEvents(ctx, tx, app)
				return err
			}); err != nil {
				return nil, err
			}
			if numbered < jobEventsNumberBatch {
				break
			}
		}
	}
	rows, err = db.Query(ctx, `SELECT app_id, seq FROM job_event_seqs WHERE app_id = ANY ($1)`, appIDs)
	if err != nil {
		return nil, fmt.Errorf("error reading event numbers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id  uuid.UUID
			seq int64
		)
		if err := rows.Scan(&id, &seq); err != nil {
			return nil, fmt.Errorf("error reading event numbers: %w", err)
		}
		out[id] = seq
	}
	return out, rows.Err()
}

// numberJobEvents numbers up to jobEventsNumberBatch of the app's
// unnumbered events in tx, and returns how many it numbered. The lock is
// taken by a statement of its own, so the numbering statement's snapshot
// is taken after it: it sees every number handed out before.
func numberJobEvents(ctx context.Context, tx pgx.Tx, appID uuid.UUID) (int64, error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, "job_events:"+appID.String()); err != nil {
		return 0, fmt.Errorf("error locking the event numbers of app %s: %w", appID, err)
	}
	tag, err := tx.Exec(ctx, `WITH todo AS (
			SELECT id, row_number() OVER (ORDER BY insert_seq) AS n FROM job_events
			WHERE app_id = $1 AND seq IS NULL ORDER BY insert_seq LIMIT $2
		), counter AS (
			INSERT INTO job_event_seqs AS c (app_id, seq) SELECT $1, count(*) FROM todo HAVING count(*) > 0
			ON CONFLICT (app_id) DO UPDATE SET seq = c.seq + excluded.seq
			RETURNING c.seq - (SELECT count(*) FROM todo) AS base
		)
		UPDATE job_events e SET seq = counter.base + todo.n
		FROM todo, counter WHERE e.id = todo.id AND e.seq IS NULL`, appID, jobEventsNumberBatch)
	if err != nil {
		return 0, fmt.Errorf("error numbering the events of app %s: %w", appID, err)
	}
	return tag.RowsAffected(), nil
}

// JobEventBody is a stored event body as it goes out, in a webhook delivery
// or an events stream: a generation's image_url, stored relative to the api
// (/v1/generations/{id}/image), becomes absolute under publicBase
// (PUBLIC_BASE_URL). Without publicBase, or without an image, body is
// returned as it is. Only that field changes, so the rest of the body is
// byte for byte as stored.
func JobEventBody(body []byte, publicBase string) []byte {
	publicBase = strings.TrimRight(publicBase, "/")
	if publicBase == "" {
		return body
	}
	var ev struct {
		Data *struct {
			ID     string `json:"id"`
			Kind   string `json:"kind"`
			Result *struct {
				ImageURL string `json:"image_url"`
			} `json:"result"`
		} `json:"data"`
	}
	if json.Unmarshal(body, &ev) != nil || ev.Data == nil || ev.Data.Kind != JobKindGeneration || ev.Data.Result == nil {
		return body
	}
	rel := generationImagePath(ev.Data.ID)
	if ev.Data.Result.ImageURL != rel {
		return body
	}
	old, _ := json.Marshal(rel)
	abs, _ := json.Marshal(publicBase + rel)
	field := []byte(`"image_url":`)
	// The result follows the input in the job object, so the last
	// occurrence is the result's.
	i := bytes.LastIndex(body, append(field, old...))
	if i < 0 {
		return body
	}
	out := make([]byte, 0, len(body)+len(abs)-len(old))
	out = append(out, body[:i+len(field)]...)
	out = append(out, abs...)
	return append(out, body[i+len(field)+len(old):]...)
}
