package store

import (
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/gamepipe/gamepipe/internal/telemetry"
)

// eventSource is a pgx.CopyFromSource over the events of one kind in a
// slice. It fills one reused row of pgtype values, which pgx encodes before
// asking for the next row, so most columns are copied without allocating:
// only jsonb and the positions array are boxed.
type eventSource struct {
	events []telemetry.Event
	kt     *kindTable
	i      int
	now    time.Time
	row    []any

	id, app pgtype.UUID
	text    [6]pgtype.Text
	num     [6]pgtype.Float8
	ts      [3]pgtype.Timestamptz

	positions float8Array
}

var _ pgx.CopyFromSource = (*eventSource)(nil)

func newEventSource(events []telemetry.Event) *eventSource {
	return &eventSource{events: events, now: time.Now(), row: make([]any, 0, 16)}
}

// reset starts a pass over the events of kt's kind.
func (s *eventSource) reset(kt *kindTable) {
	s.kt = kt
	s.i = -1
	s.row = s.row[:len(kt.columns)]
}

// Next implements pgx.CopyFromSource.
func (s *eventSource) Next() bool {
	for s.i++; s.i < len(s.events); s.i++ {
		if s.events[s.i].Kind == s.kt.kind {
			return true
		}
	}
	return false
}

// Values implements pgx.CopyFromSource.
func (s *eventSource) Values() ([]any, error) {
	ev := &s.events[s.i]
	// CheckEvent has passed: both parse.
	s.id.Valid = parseUUID(ev.ID, &s.id.Bytes)
	s.app.Valid = parseUUID(ev.AppID, &s.app.Bytes)
	s.kt.fill(s, ev)
	return s.row, nil
}

// Err implements pgx.CopyFromSource.
func (s *eventSource) Err() error { return nil }

func (s *eventSource) fillPlayer(ev *telemetry.Event) {
	s.row[0], s.row[1] = &s.id, &s.app
	s.row[2] = s.setText(0, ev.BuildID)
	s.row[3] = s.setText(1, ev.PlayerID)
	s.row[4] = s.setText(2, ev.EventName)
	s.row[5] = s.setText(3, ev.Region)
	s.row[6] = jsonValue(ev.Hardware)
	s.row[7] = s.setTime(0, ev.Timestamp)
	s.row[8] = s.receivedAt(ev)
}

func (s *eventSource) fillFunnel(ev *telemetry.Event) {
	s.row[0], s.row[1] = &s.id, &s.app
	s.row[2] = s.setText(0, ev.BuildID)
	s.row[3] = s.setText(1, ev.PlayerID)
	s.row[4] = s.setText(2, ev.SessionID)
	s.row[5] = s.setText(3, ev.LevelID)
	s.row[6] = s.setText(4, ev.FunnelStepName)
	s.row[7] = s.setTime(0, ev.Timestamp)
	s.row[8] = s.receivedAt(ev)
}

func (s *eventSource) fillGameplay(ev *telemetry.Event) {
	s.row[0], s.row[1] = &s.id, &s.app
	s.row[2] = s.setText(0, ev.BuildID)
	s.row[3] = s.setText(1, ev.PlayerID)
	s.row[4] = s.setText(2, ev.SessionID)
	s.row[5] = s.setText(3, ev.LevelID)
	s.row[6] = s.setText(4, ev.EventName)
	for i := range 3 {
		s.row[7+i] = nil
		if ev.Position != nil {
			s.row[7+i] = s.setFloat(i, ev.Position[i])
		}
	}
	s.row[10] = jsonValue(ev.CustomData)
	s.row[11] = s.setText(5, ev.InputMethod)
	s.row[12] = s.setTime(0, ev.Timestamp)
	s.row[13] = s.receivedAt(ev)
}

func (s *eventSource) fillRealtime(ev *telemetry.Event) {
	s.row[0], s.row[1] = &s.id, &s.app
	s.row[2] = s.setText(0, ev.BuildID)
	s.row[3] = s.setText(1, ev.PlayerID)
	s.row[4] = s.setText(2, ev.SessionID)
	s.row[5] = s.setText(3, ev.Status)
	s.row[6] = s.setText(4, ev.InputMethod)
	s.row[7], s.row[8], s.row[9] = nil, nil, nil
	if ev.FPS != nil {
		s.row[7] = s.setFloat(0, ev.FPS.Mean)
		s.row[8] = s.setFloat(1, ev.FPS.Low5)
		s.row[9] = s.setFloat(2, ev.FPS.Low1)
	}
	s.positions.vals = ev.Positions
	s.row[10] = &s.positions
	s.row[11] = s.setTime(0, ev.TimestampStart)
	s.row[12] = nil
	if !ev.TimestampEnd.IsZero() {
		s.row[12] = s.setTime(1, ev.TimestampEnd)
	}
	s.row[13] = s.receivedAt(ev)
}

// setText sets text scratch value i to v, NULL when empty, and returns it.
func (s *eventSource) setText(i int, v string) *pgtype.Text {
	s.text[i] = pgtype.Text{String: v, Valid: v != ""}
	return &s.text[i]
}

func (s *eventSource) setFloat(i int, v float64) *pgtype.Float8 {
	s.num[i] = pgtype.Float8{Float64: v, Valid: true}
	return &s.num[i]
}

func (s *eventSource) setTime(i int, t time.Time) *pgtype.Timestamptz {
	s.ts[i] = pgtype.Timestamptz{Time: t, Valid: true}
	return &s.ts[i]
}

// receivedAt is the event's ReceivedAt, or now for an event without one.
func (s *eventSource) receivedAt(ev *telemetry.Event) *pgtype.Timestamptz {
	if ev.ReceivedAt.IsZero() {
		return s.setTime(2, s.now)
	}
	return s.setTime(2, ev.ReceivedAt)
}

// jsonValue is raw JSON for a jsonb column, or nil (NULL) when empty.
func jsonValue(raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	// A []byte, not a json.RawMessage: pgx writes []byte as is.
	return []byte(raw)
}

// float8Array is a pgtype.ArrayGetter over a []float64 that pgx encodes
// without allocating: its generic slice path boxes every element, and a
// trajectory may hold 30000 numbers.
type float8Array struct {
	vals []float64
	dims [1]pgtype.ArrayDimension
}

var _ pgtype.ArrayGetter = (*float8Array)(nil)

// Dimensions implements pgtype.ArrayGetter.
func (a *float8Array) Dimensions() []pgtype.ArrayDimension {
	if len(a.vals) == 0 {
		return a.dims[:0] // an empty array, not NULL
	}
	a.dims[0] = pgtype.ArrayDimension{Length: int32(len(a.vals)), LowerBound: 1}
	return a.dims[:]
}

// Index implements pgtype.ArrayGetter.
func (a *float8Array) Index(i int) any { return float8Ref{&a.vals[i]} }

// IndexType implements pgtype.ArrayGetter.
func (a *float8Array) IndexType() any { return float8Ref{} }

// float8Ref is a pgtype.Float64Valuer that fits in an interface without
// allocating (it is one pointer).
type float8Ref struct{ p *float64 }

// Float64Value implements pgtype.Float64Valuer.
func (r float8Ref) Float64Value() (pgtype.Float8, error) {
	return pgtype.Float8{Float64: *r.p, Valid: true}, nil
}
