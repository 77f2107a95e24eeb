package dashboard

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gamepipe/gamepipe/internal/store"
)

// Bounds of the levels list.
const (
	// maxLevels caps the known levels listed (the first by id).
	maxLevels = 1000
	// modelsPerLevel caps the model versions listed per level.
	modelsPerLevel = 20
)

// levelsView is GET /dashboard/api/levels (docs/dashboard.md, "Levels").
type levelsView struct {
	timeRange
	Levels []*levelSummary `json:"levels"`
	// Truncated says more than maxLevels known levels matched.
	Truncated bool `json:"truncated"`
}

// levelSummary is one level of the list: what the range holds of it, and
// its models.
type levelSummary struct {
	LevelID          *string      `json:"level_id"`
	Ref              string       `json:"ref"`
	GameplayEvents   int64        `json:"gameplay_events"`
	PositionedEvents int64        `json:"positioned_events"`
	Trajectories     int64        `json:"trajectories"`
	Points           int64        `json:"points"`
	Bounds           *heatBounds  `json:"bounds"`
	Models           []levelModel `json:"models"`

	key levelKey
}

// levelModel is a model version as the dashboard shows it.
type levelModel struct {
	ID        uuid.UUID            `json:"id"`
	LevelID   string               `json:"level_id"`
	Ref       string               `json:"ref"`
	Version   int                  `json:"version"`
	Format    string               `json:"format"`
	Size      int64                `json:"size"`
	SHA256    string               `json:"sha256"`
	Filename  string               `json:"filename"`
	CreatedAt time.Time            `json:"created_at"`
	FileURL   string               `json:"file_url"`
	Alignment store.ModelAlignment `json:"alignment"`
}

func newLevelModel(m *store.LevelModel) levelModel {
	return levelModel{ID: m.ID, LevelID: m.LevelName, Ref: levelKey{ID: m.LevelName, Known: true}.ref(),
		Version: m.Version, Format: m.Format, Size: m.SizeBytes, SHA256: m.BlobKey, Filename: m.OriginalFilename,
		CreatedAt: m.CreatedAt.UTC(), FileURL: "/dashboard/api/models/" + m.ID.String() + "/file", Alignment: m.Alignment()}
}

// positioned is the condition that a gameplay event g has a position.
const positioned = `g.pos_x IS NOT NULL AND g.pos_y IS NOT NULL AND g.pos_z IS NOT NULL`

// positionBounds is the bounding box of the positioned gameplay events g:
// the minimum then the maximum of x, y and z.
const positionBounds = `min(g.pos_x) FILTER (WHERE ` + positioned + `), min(g.pos_y) FILTER (WHERE ` + positioned + `),
		min(g.pos_z) FILTER (WHERE ` + positioned + `), max(g.pos_x) FILTER (WHERE ` + positioned + `),
		max(g.pos_y) FILTER (WHERE ` + positioned + `), max(g.pos_z) FILTER (WHERE ` + positioned + `)`

// levelGameplaySQL counts the gameplay events per level and bounds their
// positions. $1 app, $2 from, $3 to, then in's and the filters' arguments.
func levelGameplaySQL(f *filters, in string) string {
	return `SELECT g.level_id, count(*), count(*) FILTER (WHERE ` + positioned + `),
		` + positionBounds + `
	FROM gameplay_events g
	WHERE g.app_id = $1 AND g."timestamp" >= $2 AND g."timestamp" < $3 AND ` + in + f.where("gameplay_events", "g") + `
	GROUP BY 1`
}

func levelStepsSQL(f *filters, in string) string {
	return `SELECT DISTINCT s.level_id FROM funnel_steps s
	WHERE s.app_id = $1 AND s."timestamp" >= $2 AND s."timestamp" < $3 AND ` + in + ` AND s.level_id IS NOT NULL` + f.where("funnel_steps", "s")
}

func levelTrajectoriesSQL(f *filters, in string) string {
	return `SELECT x.level_id, count(*), coalesce(sum(x.num_points), 0) FROM trajectories x
	WHERE x.app_id = $1 AND x.timestamp_start >= $2 AND x.timestamp_start < $3 AND ` + in + f.where("trajectories", "x") + `
	GROUP BY 1`
}

func (h *Handler) viewLevels(ctx context.Context, app uuid.UUID, q url.Values) (any, error) {
	rg, err := h.parseRange(q)
	if err != nil {
		return nil, err
	}
	f, err := parseFilters(q, "level_id")
	if err != nil {
		return nil, err
	}

	levels := map[levelKey]*levelSummary{}
	level := func(id *string) *levelSummary {
		k := levelKeyOf(id)
		l := levels[k]
		if l == nil {
			l = &levelSummary{LevelID: k.id(), Ref: k.ref(), Models: []levelModel{}, key: k}
			levels[k] = l
		}
		return l
	}
	add := func(id *string, c levelCounts) {
		l := level(id)
		l.GameplayEvents += c.gameplay
		l.PositionedEvents += c.positioned
		l.Trajectories += c.trajectories
		l.Points += c.points
		if c.bounds != nil {
			l.Bounds = unionBounds(l.Bounds, *c.bounds)
		}
	}
	err = h.readTx(ctx, func(tx pgx.Tx) error {
		// The whole days rolled up with their level counts, then the rest
		// raw.
		covered, rest, err := rollupPlanWhere(ctx, tx, app, rg, levelSlicesDone)
		if err != nil {
			return err
		}
		if len(covered) > 0 {
			if err := storedLevelCounts(ctx, tx, app, f, nil, covered, add); err != nil {
				return err
			}
		}
		if len(rest) > 0 {
			if err := rawLevelCounts(ctx, tx, app, rg, f, rest, add); err != nil {
				return err
			}
		}

		tb, err := trajectoryBounds(ctx, tx, app, rg, f)
		if err != nil {
			return err
		}
		for k, b := range tb {
			l := level(k.id())
			l.Bounds = unionBounds(l.Bounds, b)
		}

		models, err := store.LevelModelsByLevel(ctx, tx, &store.LevelModelsByLevelParams{AppID: app, PerLevel: modelsPerLevel})
		if err != nil {
			return err
		}
		for i := range models {
			l := level(&models[i].LevelName)
			l.Models = append(l.Models, newLevelModel(&models[i]))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return listLevels(rg, levels), nil
}

// rawLevelCounts calls add with each level's counts, under f, from the raw
// rows of rest (a level with funnel steps alone gets zero counts).
func rawLevelCounts(ctx context.Context, tx pgx.Tx, app uuid.UUID, rg timeRange, f filters, rest []timeRange, add func(id *string, c levelCounts)) error {
	args := []any{app, rg.From, rg.To}
	in := restCond(bindRest(rest, &args))
	f.bind(&args)
	rows, err := tx.Query(ctx, levelGameplaySQL(&f, in(`g."timestamp"`)), args...)
	if err != nil {
		return err
	}
	var (
		id     *string
		c      levelCounts
		lo, hi [3]*float64
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &c.gameplay, &c.positioned, &lo[0], &lo[1], &lo[2], &hi[0], &hi[1], &hi[2]}, func() error {
		c.bounds = scannedBounds(lo, hi)
		add(id, c)
		return nil
	})
	if err != nil {
		return err
	}

	rows, err = tx.Query(ctx, levelStepsSQL(&f, in(`s."timestamp"`)), args...)
	if err != nil {
		return err
	}
	var step string
	if _, err = pgx.ForEachRow(rows, []any{&step}, func() error {
		add(&step, levelCounts{})
		return nil
	}); err != nil {
		return err
	}

	rows, err = tx.Query(ctx, levelTrajectoriesSQL(&f, in("x.timestamp_start")), args...)
	if err != nil {
		return err
	}
	c = levelCounts{}
	_, err = pgx.ForEachRow(rows, []any{&id, &c.trajectories, &c.points}, func() error {
		add(id, c)
		return nil
	})
	return err
}

// listLevels orders the levels by id (as bytes), the unknown level last
// and only when it has trajectories or positioned gameplay events, and
// keeps the first maxLevels known ones.
func listLevels(rg timeRange, levels map[levelKey]*levelSummary) *levelsView {
	out := &levelsView{timeRange: rg, Levels: []*levelSummary{}}
	var unknown *levelSummary
	for k, l := range levels {
		if !k.Known {
			unknown = l
			continue
		}
		out.Levels = append(out.Levels, l)
	}
	slices.SortFunc(out.Levels, func(a, b *levelSummary) int { return strings.Compare(a.key.ID, b.key.ID) })
	if len(out.Levels) > maxLevels {
		out.Levels, out.Truncated = out.Levels[:maxLevels], true
	}
	if unknown != nil && (unknown.Trajectories > 0 || unknown.PositionedEvents > 0) {
		out.Levels = append(out.Levels, unknown)
	}
	return out
}

// scannedBounds is the box of scanned minima and maxima, nil when there
// were none.
func scannedBounds(lo, hi [3]*float64) *heatBounds {
	if lo[0] == nil || lo[1] == nil || lo[2] == nil || hi[0] == nil || hi[1] == nil || hi[2] == nil {
		return nil
	}
	return &heatBounds{Min: [3]float64{*lo[0], *lo[1], *lo[2]}, Max: [3]float64{*hi[0], *hi[1], *hi[2]}}
}

// unionBounds is the box holding a (nil for none) and b.
func unionBounds(a *heatBounds, b heatBounds) *heatBounds {
	if a == nil {
		return &b
	}
	u := *a
	for i := range 3 {
		u.Min[i] = min(u.Min[i], b.Min[i])
		u.Max[i] = max(u.Max[i], b.Max[i])
	}
	return &u
}
