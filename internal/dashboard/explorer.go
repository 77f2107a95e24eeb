package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Bounds of the explorer.
const (
	defaultEvents  = 100
	maxEvents      = 500
	maxSessions    = 200
	maxFilterBytes = 256
)

// explorerKinds are the event queries per kind: the time column, the name
// column (empty when the kind has none) and the kind's own fields as one
// JSON object.
var explorerKinds = map[string]struct{ table, ts, name, session, detail string }{
	"gameplay": {"gameplay_events", `"timestamp"`, "event_name", "session_id",
		`jsonb_build_object('level_id', level_id, 'input_method', input_method, 'position',
			CASE WHEN pos_x IS NULL THEN NULL ELSE jsonb_build_array(pos_x, pos_y, pos_z) END, 'custom_data', custom_data)`},
	"funnel": {"funnel_steps", `"timestamp"`, "funnel_step_name", "session_id",
		`jsonb_build_object('level_id', level_id)`},
	"player": {"player_events", `"timestamp"`, "event_name", "NULL::text",
		`jsonb_build_object('region', region, 'hardware', hardware)`},
	"realtime": {"trajectories", "timestamp_start", "NULL::text", "session_id",
		`jsonb_build_object('status', status, 'input_method', input_method, 'level_id', level_id, 'fps_mean', fps_mean, 'fps_low_5', fps_low_5,
			'fps_low_1', fps_low_1, 'num_points', num_points, 'timestamp_end', timestamp_end)`},
}

// eventsView is GET /dashboard/api/events (docs/dashboard.md, "Explorer").
type eventsView struct {
	timeRange
	Kind   string        `json:"kind"`
	Events []explorerRow `json:"events"`
}

// explorerRow is one event: the fields every kind has, and the kind's own
// fields (nulls left out).
type explorerRow struct {
	EventID   uuid.UUID       `json:"event_id"`
	Timestamp time.Time       `json:"timestamp"`
	PlayerID  string          `json:"player_id"`
	SessionID *string         `json:"session_id"`
	BuildID   *string         `json:"build_id"`
	Name      *string         `json:"name"`
	Fields    json.RawMessage `json:"fields"`
}

// filterParam reads an optional exact-match filter.
func filterParam(q url.Values, name string) (*string, error) {
	v := q.Get(name)
	if v == "" {
		return nil, nil
	}
	if len(v) > maxFilterBytes {
		return nil, badParam(name, "longer than "+strconv.Itoa(maxFilterBytes)+" bytes")
	}
	return &v, nil
}

func (h *Handler) viewEvents(ctx context.Context, app uuid.UUID, q url.Values) (any, error) {
	rg, err := h.parseRange(q)
	if err != nil {
		return nil, err
	}
	kind, err := parseChoice(q, "kind", "gameplay", "gameplay", "funnel", "player", "realtime")
	if err != nil {
		return nil, err
	}
	limit := defaultEvents
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > maxEvents {
			return nil, badParam("limit", "must be a whole number from 1 to "+strconv.Itoa(maxEvents))
		}
	}
	var filters [3]*string
	for i, name := range []string{"player_id", "session_id", "name"} {
		if filters[i], err = filterParam(q, name); err != nil {
			return nil, err
		}
	}
	f, err := parseFilters(q)
	if err != nil {
		return nil, err
	}
	args := []any{app, rg.From, rg.To, filters[0], filters[1], filters[2], limit}
	f.bind(&args)
	k := explorerKinds[kind]
	sql := `SELECT event_id, ` + k.ts + `, player_id, ` + k.session + `, build_id, ` + k.name + `, jsonb_strip_nulls(` + k.detail + `)
		FROM ` + k.table + ` x
		WHERE app_id = $1 AND ` + k.ts + ` >= $2 AND ` + k.ts + ` < $3
			AND ($4::text IS NULL OR player_id = $4) AND ($5::text IS NULL OR ` + k.session + ` = $5)
			AND ($6::text IS NULL OR ` + k.name + ` = $6)` + f.where(k.table, "x") + `
		ORDER BY ` + k.ts + ` DESC, event_id LIMIT $7`
	out := &eventsView{timeRange: rg, Kind: kind}
	err = h.readTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		out.Events, err = pgx.CollectRows(rows, pgx.RowToStructByPos[explorerRow])
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// playerView is GET /dashboard/api/player: one player's identity and
// sessions in the range, as a timeline.
type playerView struct {
	timeRange
	PlayerID string `json:"player_id"`
	// Identity is the players row; null for a player who never sent
	// Create_Player.
	Identity *playerIdentity `json:"identity"`
	// Sessions are the player's sessions, the latest first (at most 200).
	Sessions []playerSession `json:"sessions"`
}

type playerIdentity struct {
	BuildID   *string         `json:"build_id"`
	Region    *string         `json:"region"`
	Hardware  json.RawMessage `json:"hardware"`
	FirstSeen time.Time       `json:"first_seen"`
	LastSeen  time.Time       `json:"last_seen"`
}

type playerSession struct {
	SessionID    string    `json:"session_id"`
	Start        time.Time `json:"start"`
	End          time.Time `json:"end"`
	Gameplay     int64     `json:"gameplay"`
	Funnel       int64     `json:"funnel"`
	Realtime     int64     `json:"realtime"`
	Levels       []string  `json:"levels"`
	FunnelSteps  []string  `json:"funnel_steps"`
	LastBuild    *string   `json:"build_id"`
	InputMethods []string  `json:"input_methods"`
}

func (h *Handler) viewPlayer(ctx context.Context, app uuid.UUID, q url.Values) (any, error) {
	rg, err := h.parseRange(q)
	if err != nil {
		return nil, err
	}
	player, err := filterParam(q, "player_id")
	if err != nil {
		return nil, err
	}
	if player == nil {
		return nil, badParam("player_id", "is required")
	}
	if _, err := parseFilters(q, filterNames...); err != nil {
		return nil, err
	}
	out := &playerView{timeRange: rg, PlayerID: *player, Sessions: []playerSession{}}
	err = h.readTx(ctx, func(tx pgx.Tx) error {
		var id playerIdentity
		err := tx.QueryRow(ctx, `SELECT build_id, region, hardware, first_seen, last_seen FROM players
			WHERE app_id = $1 AND player_id = $2`, app, *player).Scan(&id.BuildID, &id.Region, &id.Hardware, &id.FirstSeen, &id.LastSeen)
		switch {
		case err == nil:
			out.Identity = &id
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		rows, err := tx.Query(ctx, `SELECT session_id, min(ts), max(ts),
				count(*) FILTER (WHERE kind = 'gameplay'), count(*) FILTER (WHERE kind = 'funnel'), count(*) FILTER (WHERE kind = 'realtime'),
				coalesce(array_agg(DISTINCT level_id) FILTER (WHERE level_id IS NOT NULL), '{}'),
				coalesce(array_agg(DISTINCT step) FILTER (WHERE step IS NOT NULL), '{}'),
				(array_agg(build_id ORDER BY ts DESC))[1],
				coalesce(array_agg(DISTINCT input_method) FILTER (WHERE input_method IS NOT NULL), '{}')
			FROM (
				SELECT 'gameplay' AS kind, session_id, "timestamp" AS ts, level_id, NULL::text AS step, build_id, input_method
					FROM gameplay_events WHERE app_id = $1 AND player_id = $2 AND "timestamp" >= $3 AND "timestamp" < $4
				UNION ALL SELECT 'funnel', session_id, "timestamp", level_id, funnel_step_name, build_id, NULL
					FROM funnel_steps WHERE app_id = $1 AND player_id = $2 AND "timestamp" >= $3 AND "timestamp" < $4
				UNION ALL SELECT 'realtime', session_id, timestamp_start, NULL, NULL, build_id, input_method
					FROM trajectories WHERE app_id = $1 AND player_id = $2 AND timestamp_start >= $3 AND timestamp_start < $4
			) a
			WHERE session_id IS NOT NULL
			GROUP BY session_id ORDER BY min(ts) DESC LIMIT `+strconv.Itoa(maxSessions), app, *player, rg.From, rg.To)
		if err != nil {
			return err
		}
		out.Sessions, err = pgx.CollectRows(rows, pgx.RowToStructByPos[playerSession])
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
