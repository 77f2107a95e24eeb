package dashboard

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Bounds of a level's sessions and paths.
const (
	defaultLevelSessions = 50
	maxLevelSessions     = 500
	// maxPathSessions caps the sessions of one paths request.
	maxPathSessions = 20
	// maxPathPoints caps the points of one paths answer.
	maxPathPoints = 200_000
)

// levelSessionsView is GET /dashboard/api/levels/{ref}/sessions.
type levelSessionsView struct {
	LevelID  *string        `json:"level_id"`
	Ref      string         `json:"ref"`
	Sessions []levelSession `json:"sessions"`
	timeRange
}

// levelSession is a session with trajectories on the level.
type levelSession struct {
	PlayerID     string    `json:"player_id"`
	SessionID    string    `json:"session_id"`
	Trajectories int64     `json:"trajectories"`
	Points       int64     `json:"points"`
	Start        time.Time `json:"start"`
	End          time.Time `json:"end"`
}

func (h *Handler) viewLevelSessions(ctx context.Context, app uuid.UUID, level levelKey, q url.Values) (any, error) {
	rg, err := h.parseRange(q)
	if err != nil {
		return nil, err
	}
	f, err := parseFilters(q, "level_id")
	if err != nil {
		return nil, err
	}
	limit := defaultLevelSessions
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > maxLevelSessions {
			return nil, badParam("limit", "must be a whole number from 1 to "+strconv.Itoa(maxLevelSessions))
		}
	}
	args := []any{app, rg.From, rg.To, limit}
	cond := level.cond("x", &args)
	f.bind(&args)
	out := &levelSessionsView{LevelID: level.id(), Ref: level.ref(), Sessions: []levelSession{}, timeRange: rg}
	err = h.readTx(ctx, func(tx pgx.Tx) error {
		// A session starts at its first trajectory's start and ends at its
		// last one's end (or start, without an end); the latest end first.
		rows, err := tx.Query(ctx, `SELECT x.player_id, x.session_id, count(*), coalesce(sum(x.num_points), 0),
				min(x.timestamp_start), max(coalesce(x.timestamp_end, x.timestamp_start)) AS session_end
			FROM trajectories x
			WHERE x.app_id = $1 AND x.timestamp_start >= $2 AND x.timestamp_start < $3 AND x.session_id IS NOT NULL`+
			cond+f.where("trajectories", "x")+`
			GROUP BY 1, 2
			ORDER BY session_end DESC, 1, 2
			LIMIT $4`, args...)
		if err != nil {
			return err
		}
		var s levelSession
		_, err = pgx.ForEachRow(rows, []any{&s.PlayerID, &s.SessionID, &s.Trajectories, &s.Points, &s.Start, &s.End}, func() error {
			s.Start, s.End = s.Start.UTC(), s.End.UTC()
			out.Sessions = append(out.Sessions, s)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// levelPathsView is GET /dashboard/api/levels/{ref}/paths.
type levelPathsView struct {
	LevelID *string     `json:"level_id"`
	Ref     string      `json:"ref"`
	Paths   []levelPath `json:"paths"`
	timeRange
}

// levelPath is one session's trajectories on the level, in time order.
type levelPath struct {
	PlayerID     string           `json:"player_id"`
	SessionID    string           `json:"session_id"`
	Trajectories []pathTrajectory `json:"trajectories"`
}

type pathTrajectory struct {
	EventID        uuid.UUID  `json:"event_id"`
	TimestampStart time.Time  `json:"timestamp_start"`
	TimestampEnd   *time.Time `json:"timestamp_end"`
	FPS            pathFPS    `json:"fps"`
	// Positions are the points as sent, [x, y, z, x, y, z, …].
	Positions []float64 `json:"positions"`
}

type pathFPS struct {
	Mean *float64 `json:"mean"`
	Low5 *float64 `json:"low_5"`
	Low1 *float64 `json:"low_1"`
}

// parseSessionIDs reads session_id, given 1 to maxPathSessions times.
func parseSessionIDs(q url.Values) ([]string, error) {
	var ids []string
	for _, v := range q["session_id"] {
		switch {
		case v == "":
			return nil, badParam("session_id", "is empty")
		case len(v) > maxFilterBytes:
			return nil, badParam("session_id", "longer than "+strconv.Itoa(maxFilterBytes)+" bytes")
		case !utf8.ValidString(v) || strings.IndexFunc(v, unicode.IsControl) >= 0:
			return nil, badParam("session_id", "must be printable UTF-8 text")
		case !slices.Contains(ids, v):
			ids = append(ids, v)
		}
	}
	switch {
	case len(ids) == 0:
		return nil, badParam("session_id", "is required: the session whose paths to show (session_id=a&session_id=b for several)")
	case len(ids) > maxPathSessions:
		return nil, badParam("session_id", "at most "+strconv.Itoa(maxPathSessions)+" sessions")
	}
	return ids, nil
}

func (h *Handler) viewLevelPaths(ctx context.Context, app uuid.UUID, level levelKey, q url.Values) (any, error) {
	rg, err := h.parseRange(q)
	if err != nil {
		return nil, err
	}
	f, err := parseFilters(q, "level_id")
	if err != nil {
		return nil, err
	}
	sessions, err := parseSessionIDs(q)
	if err != nil {
		return nil, err
	}
	player, err := filterParam(q, "player_id")
	if err != nil {
		return nil, err
	}
	args := []any{app, rg.From, rg.To, sessions, player}
	cond := level.cond("x", &args)
	f.bind(&args)
	where := `WHERE x.app_id = $1 AND x.timestamp_start >= $2 AND x.timestamp_start < $3 AND x.session_id = ANY($4)
		AND ($5::text IS NULL OR x.player_id = $5)` + cond + f.where("trajectories", "x")
	out := &levelPathsView{LevelID: level.id(), Ref: level.ref(), Paths: []levelPath{}, timeRange: rg}
	err = h.snapshotTx(ctx, func(tx pgx.Tx) error {
		var points int64
		if err := tx.QueryRow(ctx, `SELECT coalesce(sum(x.num_points), 0) FROM trajectories x `+where, args...).Scan(&points); err != nil {
			return err
		}
		if points > maxPathPoints {
			return &apiError{Status: http.StatusBadRequest, Code: "too_many_points", Field: "session_id",
				Message: "session_id: these sessions hold " + strconv.FormatInt(points, 10) + " points on the level in the range, more than the " +
					strconv.Itoa(maxPathPoints) + " a paths answer may carry; ask for fewer sessions or a shorter range"}
		}
		rows, err := tx.Query(ctx, `SELECT x.player_id, x.session_id, x.event_id, x.timestamp_start, x.timestamp_end,
				x.fps_mean, x.fps_low_5, x.fps_low_1, x.positions
			FROM trajectories x `+where+`
			ORDER BY x.timestamp_start, x.event_id`, args...)
		if err != nil {
			return err
		}
		byKey := map[[2]string]int{}
		var (
			pl, se string
			t      pathTrajectory
		)
		_, err = pgx.ForEachRow(rows, []any{&pl, &se, &t.EventID, &t.TimestampStart, &t.TimestampEnd,
			&t.FPS.Mean, &t.FPS.Low5, &t.FPS.Low1, &t.Positions}, func() error {
			t.TimestampStart = t.TimestampStart.UTC()
			if t.TimestampEnd != nil {
				end := t.TimestampEnd.UTC()
				t.TimestampEnd = &end
			}
			i, ok := byKey[[2]string{pl, se}]
			if !ok {
				i = len(out.Paths)
				byKey[[2]string{pl, se}] = i
				out.Paths = append(out.Paths, levelPath{PlayerID: pl, SessionID: se})
			}
			out.Paths[i].Trajectories = append(out.Paths[i].Trajectories, t)
			t = pathTrajectory{}
			return nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
