package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gamepipe/gamepipe/internal/telemetry"
)

// ErrInvalidEvent is wrapped by InsertEvents' error when an event cannot be
// stored whatever the database's state (see CheckEvent). Retrying the same
// events fails the same way.
var ErrInvalidEvent = errors.New("invalid telemetry event")

// InsertResult says what InsertEvents wrote.
type InsertResult struct {
	// Inserted counts new rows by kind. Events already stored, and repeats
	// of an event within the batch, are not counted.
	Inserted map[telemetry.Kind]int
	// Skipped counts events whose row already existed or that repeated an
	// earlier event of the batch.
	Skipped int
	// Players counts players rows inserted or updated.
	Players int
}

// DeadLetter is a TELEMETRY message the sink could not store.
type DeadLetter struct {
	// StreamSeq is the message's stream sequence; a second letter for the
	// same sequence is ignored.
	StreamSeq uint64
	// Subject is the message's subject.
	Subject string
	// Data is the message's payload, as received.
	Data []byte
	// Reason says why it could not be stored.
	Reason string
}

// CheckEvent reports why ev can never be stored, or nil. Events that
// telemetry.UnmarshalStored accepts pass, except an app_id that is not a
// UUID. It checks what the tables require: a known kind, UUIDs for the event
// and app ids, and the kind's name and time columns.
func CheckEvent(ev *telemetry.Event) error {
	var u [16]byte
	switch {
	case !ev.Kind.Valid():
		return fmt.Errorf("%w: unknown kind %q", ErrInvalidEvent, ev.Kind)
	case !parseUUID(ev.ID, &u):
		return fmt.Errorf("%w: id %q is not a UUID", ErrInvalidEvent, ev.ID)
	case !parseUUID(ev.AppID, &u):
		return fmt.Errorf("%w: app_id %q is not a UUID", ErrInvalidEvent, ev.AppID)
	case ev.OccurredAt().IsZero():
		return fmt.Errorf("%w: %s event %s has no timestamp", ErrInvalidEvent, ev.Kind, ev.ID)
	case (ev.Kind == telemetry.KindPlayer || ev.Kind == telemetry.KindGameplay) && ev.EventName == "":
		return fmt.Errorf("%w: %s event %s has no event_name", ErrInvalidEvent, ev.Kind, ev.ID)
	case ev.Kind == telemetry.KindFunnel && ev.FunnelStepName == "":
		return fmt.Errorf("%w: funnel event %s has no funnel_step_name", ErrInvalidEvent, ev.ID)
	}
	return nil
}

// InsertEvents writes events to their kind's table, skipping any event whose
// row already exists: redelivered and duplicate events make no second row.
// For Create_Player events it also upserts the players table.
//
// Events of the kinds without a side table (funnel, gameplay, realtime) are
// first COPYed straight into their tables, on a savepoint: a batch without
// duplicates, nearly every batch, costs what a plain COPY costs. If a row
// already exists (a redelivery, or an event repeated within the batch) the
// COPY fails with a unique violation, the savepoint is rolled back and
// those events take the staged path: COPY into a temporary staging table,
// then INSERT ... SELECT ... ON CONFLICT DO NOTHING (COPY itself cannot skip
// conflicts). Player events always take the staged path, which also
// upserts players. Staging tables are created once per connection and
// emptied by the move and at commit. Rows are written in primary key order
// so that two sinks writing overlapping batches (a redelivery racing a slow
// commit) wait for each other instead of deadlocking.
//
// Every event must pass CheckEvent, or nothing is written and the error wraps
// ErrInvalidEvent. A Postgres error for one event (IsDataError) fails the
// whole call; run it on a savepoint to isolate the event.
func InsertEvents(ctx context.Context, tx pgx.Tx, events []telemetry.Event) (*InsertResult, error) {
	res := &InsertResult{Inserted: make(map[telemetry.Kind]int, len(telemetry.Kinds))}
	var present [len(kindTables)]int
	for i := range events {
		if err := CheckEvent(&events[i]); err != nil {
			return nil, fmt.Errorf("error checking event %d: %w", i, err)
		}
		present[events[i].Kind.Index()]++ // valid: CheckEvent
	}
	src := newEventSource(events)
	staged := present
	direct, err := copyDirect(ctx, tx, src, &present)
	switch {
	case err != nil:
		return nil, err
	case direct:
		for k, kt := range kindTables {
			if kt.direct && present[k] > 0 {
				res.Inserted[kt.kind] = present[k]
				staged[k] = 0
			}
		}
	}
	if err := insertStaged(ctx, tx, src, &staged, res); err != nil {
		return nil, err
	}
	return res, nil
}

// directSavepoint guards the direct COPYs of one InsertEvents call.
const directSavepoint = "gamepipe_direct_copy"

// copyDirect COPYs the events of the direct kinds into their tables on a
// savepoint and reports whether they are written. false with a nil error
// means there were none, or one already existed: the savepoint was rolled
// back and they are to be staged.
func copyDirect(ctx context.Context, tx pgx.Tx, src *eventSource, present *[len(kindTables)]int) (bool, error) {
	some := false
	for k, kt := range kindTables {
		some = some || (kt.direct && present[k] > 0)
	}
	if !some {
		return false, nil
	}
	if _, err := tx.Exec(ctx, "SAVEPOINT "+directSavepoint); err != nil {
		return false, fmt.Errorf("error starting the direct copy: %w", err)
	}
	for k, kt := range kindTables {
		if !kt.direct || present[k] == 0 {
			continue
		}
		src.reset(kt, true)
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{kt.table}, kt.columns, src); err != nil {
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
				return false, fmt.Errorf("error copying %s events: %w", kt.kind, err)
			}
			// A row exists: nothing of this call's COPYs stays.
			if _, err := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT "+directSavepoint+"; RELEASE SAVEPOINT "+directSavepoint); err != nil {
				return false, fmt.Errorf("error undoing the direct copy: %w", err)
			}
			return false, nil
		}
	}
	if _, err := tx.Exec(ctx, "RELEASE SAVEPOINT "+directSavepoint); err != nil {
		return false, fmt.Errorf("error ending the direct copy: %w", err)
	}
	return true, nil
}

// insertStaged writes the events of the kinds counted in present through
// the staging tables, and adds what it wrote to res.
func insertStaged(ctx context.Context, tx pgx.Tx, src *eventSource, present *[len(kindTables)]int, res *InsertResult) error {
	var create strings.Builder
	for k, kt := range kindTables {
		if present[k] > 0 {
			create.WriteString(kt.createStage)
			create.WriteString(";\n")
		}
	}
	if create.Len() == 0 {
		return nil
	}
	// No arguments: pgx sends this in one round trip, simple protocol.
	if _, err := tx.Exec(ctx, create.String()); err != nil {
		return fmt.Errorf("error creating staging tables: %w", err)
	}

	for k, kt := range kindTables {
		if present[k] == 0 {
			continue
		}
		src.reset(kt, false)
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{kt.stage}, kt.columns, src); err != nil {
			return fmt.Errorf("error copying %s events: %w", kt.kind, err)
		}
	}

	batch := &pgx.Batch{}
	for k, kt := range kindTables {
		if present[k] > 0 {
			batch.Queue(kt.move)
		}
	}
	results := tx.SendBatch(ctx, batch)
	for k, kt := range kindTables {
		if present[k] == 0 {
			continue
		}
		var inserted int
		if kt.kind == telemetry.KindPlayer {
			if err := results.QueryRow().Scan(&inserted, &res.Players); err != nil {
				_ = results.Close()
				return fmt.Errorf("error moving %s events: %w", kt.kind, err)
			}
		} else {
			tag, err := results.Exec()
			if err != nil {
				_ = results.Close()
				return fmt.Errorf("error moving %s events: %w", kt.kind, err)
			}
			inserted = int(tag.RowsAffected())
		}
		res.Inserted[kt.kind] = inserted
		res.Skipped += present[k] - inserted
	}
	if err := results.Close(); err != nil {
		return fmt.Errorf("error moving events: %w", err)
	}
	return nil
}

// InsertDeadLetters stores letters, ignoring any whose stream sequence is
// already stored, and returns how many it added. Subject and reason are made
// valid UTF-8 text first, so a letter is never refused for its bytes.
func InsertDeadLetters(ctx context.Context, db DBTX, letters []DeadLetter) (int64, error) {
	if len(letters) == 0 {
		return 0, nil
	}
	seqs := make([]int64, len(letters))
	subjects := make([]string, len(letters))
	data := make([][]byte, len(letters))
	reasons := make([]string, len(letters))
	for i, l := range letters {
		seqs[i] = int64(l.StreamSeq)
		subjects[i] = cleanText(l.Subject)
		data[i] = l.Data
		if data[i] == nil {
			data[i] = []byte{}
		}
		reasons[i] = cleanText(l.Reason)
	}
	tag, err := db.Exec(ctx, `
		INSERT INTO dead_letters (stream_seq, subject, data, reason)
		SELECT * FROM unnest($1::bigint[], $2::text[], $3::bytea[], $4::text[])
		ON CONFLICT (stream_seq) DO NOTHING`,
		seqs, subjects, data, reasons)
	if err != nil {
		return 0, fmt.Errorf("error inserting dead letters: %w", mapErr(err))
	}
	return tag.RowsAffected(), nil
}

// IsDataError reports whether err is Postgres refusing the data itself
// (SQLSTATE classes 22 data exception, 23 integrity constraint violation,
// 54 program limit exceeded) or ErrInvalidEvent: retrying the same rows
// fails the same way. Anything else (a lost connection, a lock timeout, a
// shutdown, a deadlock) may succeed on retry.
func IsDataError(err error) bool {
	if errors.Is(err, ErrInvalidEvent) {
		return true
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code[:2] {
	case "22", "23", "54":
		return true
	}
	return false
}

// cleanText makes s storable in a text column: valid UTF-8 without NUL.
func cleanText(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// parseUUID parses a UUID in canonical form (either case) into u. It runs
// twice per stored event; google/uuid's Parse, which also accepts the urn,
// braced and unhyphenated forms the telemetry decoder never lets through,
// measures about three times slower here (BenchmarkParseUUID against
// uuid.Parse: ~35 ns against ~100 ns), so the sink keeps this one and the
// tests check it against google/uuid.
func parseUUID(s string, u *[16]byte) bool {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return false
	}
	bad := byte(0)
	for i, at := range uuidHexAt {
		hi, lo := hexValue[s[at]], hexValue[s[at+1]]
		bad |= hi | lo
		u[i] = hi<<4 | lo&0x0f
	}
	return bad&0x80 == 0
}

// uuidHexAt is where each byte's two hex digits start in a canonical UUID.
var uuidHexAt = [16]int{0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34}

// hexValue maps a hex digit to its value and anything else to 0x80.
var hexValue = func() (t [256]byte) {
	for i := range t {
		t[i] = 0x80
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c-'a') + 10
		t[c-'a'+'A'] = byte(c-'a') + 10
	}
	return t
}()

// stagePrefix names the per-connection staging tables. Staging tables live
// as long as their connection, so change the version whenever the columns
// below change: a connection opened before a deploy then makes new tables
// instead of copying into stale ones.
const stagePrefix = "gamepipe_stage_v3_"

// kindTable describes how one event kind is written: the staging table's
// COPY columns, how a row is filled from an event, and the statement that
// moves staged rows into the kind's table.
type kindTable struct {
	kind    telemetry.Kind
	table   string
	stage   string
	columns []string
	// direct kinds are COPYed straight into table first.
	direct bool
	// createStage creates the staging table if this connection has none.
	createStage string
	// move empties the staging table into the target table.
	move string
	fill func(s *eventSource, ev *telemetry.Event)
}

// kindTables is indexed by telemetry.Kind.Index.
var kindTables = [...]*kindTable{
	newKindTable(telemetry.KindPlayer, "player_events", "timestamp",
		[]string{"event_id", "app_id", "build_id", "player_id", "event_name", "region", "hardware", "timestamp", "received_at"},
		(*eventSource).fillPlayer),
	newKindTable(telemetry.KindFunnel, "funnel_steps", "timestamp",
		[]string{"event_id", "app_id", "build_id", "player_id", "session_id", "level_id", "funnel_step_name", "timestamp", "received_at"},
		(*eventSource).fillFunnel),
	newKindTable(telemetry.KindGameplay, "gameplay_events", "timestamp",
		[]string{"event_id", "app_id", "build_id", "player_id", "session_id", "level_id", "event_name",
			"pos_x", "pos_y", "pos_z", "custom_data", "input_method", "timestamp", "received_at"},
		(*eventSource).fillGameplay),
	newKindTable(telemetry.KindRealtime, "trajectories", "timestamp_start",
		[]string{"event_id", "app_id", "build_id", "player_id", "session_id", "status", "input_method",
			"fps_mean", "fps_low_5", "fps_low_1", "positions", "timestamp_start", "timestamp_end", "received_at", "num_points",
			"level_id"},
		(*eventSource).fillRealtime),
}

func newKindTable(kind telemetry.Kind, table, timeColumn string, columns []string, fill func(*eventSource, *telemetry.Event)) *kindTable {
	quoted := make([]string, len(columns))
	for i, c := range columns {
		quoted[i] = pgx.Identifier{c}.Sanitize()
	}
	cols := strings.Join(quoted, ", ")
	stage := stagePrefix + table
	kt := &kindTable{
		kind:    kind,
		table:   table,
		stage:   stage,
		columns: columns,
		fill:    fill,
		direct:  kind != telemetry.KindPlayer,
		createStage: "CREATE TEMP TABLE IF NOT EXISTS " + stage + " ON COMMIT DELETE ROWS AS SELECT " +
			cols + " FROM " + table + " WITH NO DATA",
	}
	order := " ORDER BY app_id, " + pgx.Identifier{timeColumn}.Sanitize() + ", event_id"
	switch kind {
	case telemetry.KindPlayer:
		// The player's identity is the latest non-null value of each field,
		// by event time, within the batch and then against the stored row.
		kt.move = `WITH staged AS (DELETE FROM ` + stage + ` RETURNING *),
inserted AS (
	INSERT INTO player_events (` + cols + `)
	SELECT ` + cols + ` FROM staged` + order + `
	ON CONFLICT DO NOTHING
	RETURNING 1
),
latest AS (
	SELECT app_id, player_id,
		min("timestamp") AS first_seen,
		max("timestamp") AS last_seen,
		(array_agg(build_id ORDER BY "timestamp" DESC) FILTER (WHERE build_id IS NOT NULL))[1] AS build_id,
		(array_agg(region ORDER BY "timestamp" DESC) FILTER (WHERE region IS NOT NULL))[1] AS region,
		(array_agg(hardware ORDER BY "timestamp" DESC) FILTER (WHERE hardware IS NOT NULL))[1] AS hardware
	FROM staged
	GROUP BY app_id, player_id
),
upserted AS (
	INSERT INTO players AS p (app_id, player_id, build_id, region, hardware, first_seen, last_seen, updated_at)
	SELECT app_id, player_id, build_id, region, hardware, first_seen, last_seen, now()
	FROM latest
	ORDER BY app_id, player_id
	ON CONFLICT (app_id, player_id) DO UPDATE SET
		build_id = CASE WHEN excluded.last_seen >= p.last_seen
			THEN coalesce(excluded.build_id, p.build_id) ELSE coalesce(p.build_id, excluded.build_id) END,
		region = CASE WHEN excluded.last_seen >= p.last_seen
			THEN coalesce(excluded.region, p.region) ELSE coalesce(p.region, excluded.region) END,
		hardware = CASE WHEN excluded.last_seen >= p.last_seen
			THEN coalesce(excluded.hardware, p.hardware) ELSE coalesce(p.hardware, excluded.hardware) END,
		first_seen = least(p.first_seen, excluded.first_seen),
		last_seen = greatest(p.last_seen, excluded.last_seen),
		updated_at = now()
	RETURNING 1
)
SELECT (SELECT count(*) FROM inserted)::int, (SELECT count(*) FROM upserted)::int`
	default:
		kt.move = `WITH staged AS (DELETE FROM ` + stage + ` RETURNING *)
INSERT INTO ` + table + ` (` + cols + `)
SELECT ` + cols + ` FROM staged` + order + `
ON CONFLICT DO NOTHING`
	}
	return kt
}
