package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gamepipe/gamepipe/internal/telemetry"
)

// kindQuery reads one kind's table back into telemetry.Events, one page of
// one hour (by received_at) at a time, in (received_at, event_id, time)
// order. The keyset includes the time column because the primary key is
// (event_id, time): one event_id may have two rows.
type kindQuery struct {
	kind telemetry.Kind
	// sql takes $1 app_id, $2 and $3 the hour's bounds, $4-$6 the keyset
	// position after which to read, $7 the page size.
	sql  string
	scan func(rows pgx.Rows, ev *telemetry.Event) error
}

func newKindQuery(kind telemetry.Kind, table, timeColumn, columns string, scan func(pgx.Rows, *telemetry.Event) error) *kindQuery {
	t := `"` + timeColumn + `"`
	return &kindQuery{
		kind: kind,
		sql: `SELECT event_id::text, coalesce(build_id, ''), player_id, ` + columns + `, ` + t + `, received_at
FROM ` + table + `
WHERE app_id = $1::uuid AND received_at >= $2 AND received_at < $3
	AND (received_at, event_id, ` + t + `) > ($4, $5::uuid, $6)
ORDER BY received_at, event_id, ` + t + `
LIMIT $7`,
		scan: scan,
	}
}

// kindQueries holds one query per kind. Text columns an event may leave out
// are NULL in the tables and "" in the event; jsonb comes back as text.
var kindQueries = map[telemetry.Kind]*kindQuery{
	telemetry.KindPlayer: newKindQuery(telemetry.KindPlayer, "player_events", "timestamp",
		`event_name, coalesce(region, ''), coalesce(hardware::text, '')`,
		func(rows pgx.Rows, ev *telemetry.Event) error {
			var hw string
			err := rows.Scan(&ev.ID, &ev.BuildID, &ev.PlayerID, &ev.EventName, &ev.Region, &hw, &ev.Timestamp, &ev.ReceivedAt)
			ev.Hardware = compactJSON(hw)
			return err
		}),
	telemetry.KindFunnel: newKindQuery(telemetry.KindFunnel, "funnel_steps", "timestamp",
		`coalesce(session_id, ''), coalesce(level_id, ''), funnel_step_name`,
		func(rows pgx.Rows, ev *telemetry.Event) error {
			return rows.Scan(&ev.ID, &ev.BuildID, &ev.PlayerID, &ev.SessionID, &ev.LevelID, &ev.FunnelStepName,
				&ev.Timestamp, &ev.ReceivedAt)
		}),
	telemetry.KindGameplay: newKindQuery(telemetry.KindGameplay, "gameplay_events", "timestamp",
		`coalesce(session_id, ''), coalesce(level_id, ''), event_name, pos_x, pos_y, pos_z,
	coalesce(custom_data::text, ''), coalesce(input_method, '')`,
		func(rows pgx.Rows, ev *telemetry.Event) error {
			var x, y, z *float64
			var cd string
			err := rows.Scan(&ev.ID, &ev.BuildID, &ev.PlayerID, &ev.SessionID, &ev.LevelID, &ev.EventName,
				&x, &y, &z, &cd, &ev.InputMethod, &ev.Timestamp, &ev.ReceivedAt)
			if x != nil && y != nil && z != nil {
				ev.Position = &[3]float64{*x, *y, *z}
			}
			ev.CustomData = compactJSON(cd)
			return err
		}),
	telemetry.KindRealtime: newKindQuery(telemetry.KindRealtime, "trajectories", "timestamp_start",
		// A level the dashboard attributed (level_attributed) is not the
		// event's: only the client's is printed.
		`coalesce(session_id, ''), coalesce(status, ''), coalesce(input_method, ''),
	fps_mean, fps_low_5, fps_low_1, positions, timestamp_end, CASE WHEN level_attributed THEN '' ELSE coalesce(level_id, '') END`,
		func(rows pgx.Rows, ev *telemetry.Event) error {
			var mean, low5, low1 *float64
			var end *time.Time
			err := rows.Scan(&ev.ID, &ev.BuildID, &ev.PlayerID, &ev.SessionID, &ev.Status, &ev.InputMethod,
				&mean, &low5, &low1, &ev.Positions, &end, &ev.LevelID, &ev.TimestampStart, &ev.ReceivedAt)
			if mean != nil || low5 != nil || low1 != nil {
				ev.FPS = &telemetry.FPS{Mean: deref(mean), Low5: deref(low5), Low1: deref(low1)}
			}
			if end != nil {
				ev.TimestampEnd = end.UTC()
			}
			return err
		}),
}

// scanEvent reads the current row into a fresh event of q's kind, with
// times in UTC as the stream has them.
func (q *kindQuery) scanEvent(rows pgx.Rows, appID string) (telemetry.Event, error) {
	ev := telemetry.Event{Kind: q.kind, AppID: appID}
	if err := q.scan(rows, &ev); err != nil {
		return ev, fmt.Errorf("error reading %s row: %w", q.kind, err)
	}
	for _, t := range []*time.Time{&ev.Timestamp, &ev.TimestampStart, &ev.ReceivedAt} {
		if !t.IsZero() {
			*t = t.UTC()
		}
	}
	return ev, nil
}

// compactJSON turns jsonb's text ({"a": 1}) into the compact form the
// stream carries ({"a":1}). jsonb keeps neither key order nor duplicate
// keys: its keys come back ordered by length, then bytes.
func compactJSON(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		return json.RawMessage(s)
	}
	return b.Bytes()
}

func deref(f *float64) float64 {
	if f == nil {
		return 0
	}
	return *f
}
