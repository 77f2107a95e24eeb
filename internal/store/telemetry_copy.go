package store

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"slices"
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

	// direct: the pass is in primary key order (order, keys, micros) and
	// fills the columns of a direct COPY.
	direct bool
	order  []int
	keys   [][16]byte
	// micros are the events' times as Postgres keeps them: microseconds,
	// truncated as pgx sends them.
	micros []int64

	id, app pgtype.UUID
	text    [6]pgtype.Text
	num     [6]pgtype.Float8
	ts      [3]pgtype.Timestamptz

	positions float8Array
	numPoints pgtype.Int4
}

var _ pgx.CopyFromSource = (*eventSource)(nil)

func newEventSource(events []telemetry.Event) *eventSource {
	return &eventSource{events: events, now: time.Now(), row: make([]any, 0, 16)}
}

// reset starts a pass over the events of kt's kind: in the slice's order
// for a staging table, in primary key order (app_id, time, event_id) for a
// direct COPY into kt's table.
func (s *eventSource) reset(kt *kindTable, direct bool) {
	s.kt, s.direct = kt, direct
	s.i = -1
	s.row = s.row[:len(kt.columns)]
	if !direct {
		return
	}
	if s.keys == nil {
		s.keys = make([][16]byte, len(s.events)*2)
		s.micros = make([]int64, len(s.events))
	}
	s.order = s.order[:0]
	for i := range s.events {
		ev := &s.events[i]
		if ev.Kind != kt.kind {
			continue
		}
		// CheckEvent has passed: both parse.
		parseUUID(ev.AppID, &s.keys[2*i])
		parseUUID(ev.ID, &s.keys[2*i+1])
		s.micros[i] = ev.OccurredAt().UnixMicro()
		s.order = append(s.order, i)
	}
	slices.SortFunc(s.order, func(a, b int) int {
		if c := bytes.Compare(s.keys[2*a][:], s.keys[2*b][:]); c != 0 {
			return c
		}
		// The same order as the staged moves' ORDER BY.
		if c := cmp.Compare(s.micros[a], s.micros[b]); c != 0 {
			return c
		}
		return bytes.Compare(s.keys[2*a+1][:], s.keys[2*b+1][:])
	})
}

// Next implements pgx.CopyFromSource.
func (s *eventSource) Next() bool {
	if s.direct {
		s.i++
		return s.i < len(s.order)
	}
	for s.i++; s.i < len(s.events); s.i++ {
		if s.events[s.i].Kind == s.kt.kind {
			return true
		}
	}
	return false
}

// Values implements pgx.CopyFromSource.
func (s *eventSource) Values() ([]any, error) {
	var ev *telemetry.Event
	if s.direct {
		// Parsed by reset for the sort.
		i := s.order[s.i]
		ev = &s.events[i]
		s.app = pgtype.UUID{Bytes: s.keys[2*i], Valid: true}
		s.id = pgtype.UUID{Bytes: s.keys[2*i+1], Valid: true}
	} else {
		ev = &s.events[s.i]
		// CheckEvent has passed: both parse.
		s.id.Valid = parseUUID(ev.ID, &s.id.Bytes)
		s.app.Valid = parseUUID(ev.AppID, &s.app.Bytes)
	}
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
	s.numPoints = pgtype.Int4{Int32: int32(len(ev.Positions) / 3), Valid: true}
	s.row[14] = &s.numPoints
	s.row[15] = s.setText(5, ev.LevelID)
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
// trajectory may hold 30000 numbers. On a connection set up with
// PrepareSinkConn it is encoded faster still (float8ArrayCodec).
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

// float8ArrayCodec is float8[]'s codec with a direct binary encoding of
// float8Array: pgx's array codec encodes element by element through an
// interface (an encode plan call per number), a fifth of the sink's CPU in
// make bench's profile; this writes the array in one loop. Anything else
// goes to the codec it wraps.
type float8ArrayCodec struct{ pgtype.Codec }

// PlanEncode implements pgtype.Codec.
func (c float8ArrayCodec) PlanEncode(m *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	if _, ok := value.(*float8Array); ok && format == pgtype.BinaryFormatCode {
		return encodeFloat8Array{}
	}
	return c.Codec.PlanEncode(m, oid, format, value)
}

type encodeFloat8Array struct{}

// Encode writes Postgres' binary array format: dimensions, no-nulls flag
// and element type, then each element as its length (8) and big-endian
// IEEE 754 bits.
func (encodeFloat8Array) Encode(value any, buf []byte) ([]byte, error) {
	vals := value.(*float8Array).vals
	ndim := uint32(0)
	if len(vals) > 0 {
		ndim = 1
	}
	buf = binary.BigEndian.AppendUint32(buf, ndim)
	buf = binary.BigEndian.AppendUint32(buf, 0) // no NULLs
	buf = binary.BigEndian.AppendUint32(buf, pgtype.Float8OID)
	if ndim == 0 {
		return buf, nil
	}
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(vals)))
	buf = binary.BigEndian.AppendUint32(buf, 1) // lower bound
	buf = slices.Grow(buf, 12*len(vals))
	for _, v := range vals {
		buf = binary.BigEndian.AppendUint32(buf, 8)
		buf = binary.BigEndian.AppendUint64(buf, math.Float64bits(v))
	}
	return buf, nil
}

// PrepareSinkConn sets up a connection that writes telemetry: lz4 TOAST
// compression, several times faster than the default pglz for trajectories'
// positions (a server built without lz4 refuses the SET and keeps pglz), and
// the fast positions encoding. Use it as the pool's AfterConnect; without it
// InsertEvents works the same, slower.
func PrepareSinkConn(ctx context.Context, conn *pgx.Conn) error {
	_, _ = conn.Exec(ctx, "SET default_toast_compression = lz4")
	m := conn.TypeMap()
	if t, ok := m.TypeForOID(pgtype.Float8ArrayOID); ok {
		m.RegisterType(&pgtype.Type{Name: t.Name, OID: t.OID, Codec: float8ArrayCodec{t.Codec}})
	}
	return nil
}
