package benchrun

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/gamepipe/gamepipe/internal/telemetry"
)

// copyTable is how the raw COPY ceiling writes one kind: straight into
// the kind's partitioned table, with no staging table, no conflict check
// and no players upsert. That is the most Postgres takes from one
// connection; the sink does more per row by design (see bench/README.md).
type copyTable struct {
	table   string
	columns []string
	fill    func(s *copySource, ev *telemetry.Event)
}

var copyTables = map[telemetry.Kind]*copyTable{
	telemetry.KindPlayer: {"player_events",
		[]string{"event_id", "app_id", "build_id", "player_id", "event_name", "region", "hardware", "timestamp", "received_at"},
		func(s *copySource, ev *telemetry.Event) {
			s.put(s.text(ev.BuildID), s.text(ev.PlayerID), s.text(ev.EventName), s.text(ev.Region), jsonb(ev.Hardware),
				s.time(ev.Timestamp), s.time(ev.ReceivedAt))
		}},
	telemetry.KindFunnel: {"funnel_steps",
		[]string{"event_id", "app_id", "build_id", "player_id", "session_id", "level_id", "funnel_step_name", "timestamp", "received_at"},
		func(s *copySource, ev *telemetry.Event) {
			s.put(s.text(ev.BuildID), s.text(ev.PlayerID), s.text(ev.SessionID), s.text(ev.LevelID), s.text(ev.FunnelStepName),
				s.time(ev.Timestamp), s.time(ev.ReceivedAt))
		}},
	telemetry.KindGameplay: {"gameplay_events",
		[]string{"event_id", "app_id", "build_id", "player_id", "session_id", "level_id", "event_name",
			"pos_x", "pos_y", "pos_z", "custom_data", "input_method", "timestamp", "received_at"},
		func(s *copySource, ev *telemetry.Event) {
			var x, y, z any
			if ev.Position != nil {
				x, y, z = s.float(ev.Position[0]), s.float(ev.Position[1]), s.float(ev.Position[2])
			}
			s.put(s.text(ev.BuildID), s.text(ev.PlayerID), s.text(ev.SessionID), s.text(ev.LevelID), s.text(ev.EventName),
				x, y, z, jsonb(ev.CustomData), s.text(ev.InputMethod), s.time(ev.Timestamp), s.time(ev.ReceivedAt))
		}},
	telemetry.KindRealtime: {"trajectories",
		[]string{"event_id", "app_id", "build_id", "player_id", "session_id", "status", "input_method",
			"fps_mean", "fps_low_5", "fps_low_1", "positions", "num_points", "timestamp_start", "timestamp_end", "received_at"},
		func(s *copySource, ev *telemetry.Event) {
			var mean, low5, low1, end any
			if ev.FPS != nil {
				mean, low5, low1 = s.float(ev.FPS.Mean), s.float(ev.FPS.Low5), s.float(ev.FPS.Low1)
			}
			if !ev.TimestampEnd.IsZero() {
				end = s.time(ev.TimestampEnd)
			}
			s.positions.vals = ev.Positions
			s.put(s.text(ev.BuildID), s.text(ev.PlayerID), s.text(ev.SessionID), s.text(ev.Status), s.text(ev.InputMethod),
				mean, low5, low1, &s.positions, int32(len(ev.Positions)/3), s.time(ev.TimestampStart), end, s.time(ev.ReceivedAt))
		}},
}

// copySource is a pgx.CopyFromSource over the events of one kind, each
// written with a fresh event id (the rows the sink wrote, or will write,
// keep theirs). Like the sink's, it fills one reused row.
type copySource struct {
	events []telemetry.Event
	kind   telemetry.Kind
	table  *copyTable
	i      int
	row    []any
	ids    *idSource

	id, app pgtype.UUID
	texts   [8]pgtype.Text
	floats  [6]pgtype.Float8
	times   [4]pgtype.Timestamptz
	nt, nf  int
	ntime   int

	positions float8Array
}

var _ pgx.CopyFromSource = (*copySource)(nil)

func (s *copySource) Next() bool {
	for s.i++; s.i < len(s.events); s.i++ {
		if s.events[s.i].Kind == s.kind {
			return true
		}
	}
	return false
}

func (s *copySource) Values() ([]any, error) {
	ev := &s.events[s.i]
	s.id = pgtype.UUID{Bytes: s.ids.next(), Valid: true}
	s.row = append(s.row[:0], &s.id, &s.app)
	s.nt, s.nf, s.ntime = 0, 0, 0
	s.table.fill(s, ev)
	return s.row, nil
}

func (s *copySource) Err() error { return nil }

func (s *copySource) put(vals ...any) { s.row = append(s.row, vals...) }

func (s *copySource) text(v string) any {
	t := &s.texts[s.nt]
	s.nt++
	*t = pgtype.Text{String: v, Valid: v != ""}
	return t
}

func (s *copySource) float(v float64) any {
	f := &s.floats[s.nf]
	s.nf++
	*f = pgtype.Float8{Float64: v, Valid: true}
	return f
}

func (s *copySource) time(v time.Time) any {
	t := &s.times[s.ntime]
	s.ntime++
	*t = pgtype.Timestamptz{Time: v, Valid: true}
	return t
}

func jsonb(raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	return []byte(raw)
}

// idSource makes event ids: a random run prefix and a counter, as UUID
// bytes with the version 8 and variant bits.
type idSource struct {
	prefix [8]byte
	n      uint64
}

func newIDSource() *idSource {
	s := &idSource{}
	_, _ = rand.Read(s.prefix[:])
	return s
}

func (s *idSource) next() [16]byte {
	s.n++
	var u [16]byte
	copy(u[:8], s.prefix[:])
	binary.BigEndian.PutUint64(u[8:], s.n)
	u[6] = u[6]&0x0f | 0x80
	u[8] = u[8]&0x3f | 0x80
	return u
}

// float8Array is a pgtype.ArrayGetter over []float64 that does not box
// each element (as store's does for the sink).
type float8Array struct {
	vals []float64
	dims [1]pgtype.ArrayDimension
}

func (a *float8Array) Dimensions() []pgtype.ArrayDimension {
	if len(a.vals) == 0 {
		return a.dims[:0]
	}
	a.dims[0] = pgtype.ArrayDimension{Length: int32(len(a.vals)), LowerBound: 1}
	return a.dims[:]
}

func (a *float8Array) Index(i int) any { return float8Ref{&a.vals[i]} }

func (a *float8Array) IndexType() any { return float8Ref{} }

type float8Ref struct{ p *float64 }

func (r float8Ref) Float64Value() (pgtype.Float8, error) {
	return pgtype.Float8{Float64: *r.p, Valid: true}, nil
}

// rawCopy writes events for d with plain COPY from one connection, in
// transactions of batch events (the sink's SINK_BATCH_MAX), cycling through
// events with fresh ids. It returns rows committed per second.
func rawCopy(ctx context.Context, conn *pgx.Conn, appID string, events []telemetry.Event, batch int, d time.Duration) (float64, error) {
	if len(events) == 0 {
		return 0, fmt.Errorf("no events to copy")
	}
	src := &copySource{ids: newIDSource(), row: make([]any, 0, 16)}
	if err := src.app.Scan(appID); err != nil {
		return 0, fmt.Errorf("error parsing app id %q: %w", appID, err)
	}
	start := time.Now()
	var rows int64
	for off := 0; rows == 0 || time.Since(start) < d; off = (off + batch) % len(events) {
		chunk := events[off:min(off+batch, len(events))]
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			for _, kind := range telemetry.Kinds {
				if !slices.ContainsFunc(chunk, func(ev telemetry.Event) bool { return ev.Kind == kind }) {
					continue
				}
				src.events, src.kind, src.table, src.i = chunk, kind, copyTables[kind], -1
				n, err := tx.CopyFrom(ctx, pgx.Identifier{src.table.table}, src.table.columns, src)
				if err != nil {
					return fmt.Errorf("error copying %s rows: %w", kind, err)
				}
				rows += n
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	return float64(rows) / time.Since(start).Seconds(), nil
}
