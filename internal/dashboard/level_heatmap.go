package dashboard

import (
	"cmp"
	"context"
	"errors"
	"math"
	"net/url"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Bounds of the heatmap.
const (
	// maxHeatCells caps the cells of one answer.
	maxHeatCells = 200_000
	// heatSideCells is how many cells the default cell puts along the
	// bounds' largest side (about).
	heatSideCells = 64
	// minCellExp and maxCellExp bound the cell edge, 2^k.
	minCellExp = -40
	maxCellExp = 1000
	// cellIndexBits bounds a cell's index: |i| < 2^cellIndexBits, so that
	// indexes fit an int32 whatever the coordinates.
	cellIndexBits = 30
	// maxHeatEvents caps the event names of a gameplay heatmap.
	maxHeatEvents = 50
)

// heatmapView is GET /dashboard/api/levels/{ref}/heatmap
// (docs/dashboard.md, "Levels").
type heatmapView struct {
	LevelID *string  `json:"level_id"`
	Ref     string   `json:"ref"`
	Kind    string   `json:"kind"`
	Events  []string `json:"events,omitempty"`
	Metric  string   `json:"metric"`
	Dims    int      `json:"dims"`
	Up      string   `json:"up"`
	// Axes are the telemetry axes of i, j (and k).
	Axes    []string  `json:"axes"`
	Cell    float64   `json:"cell"`
	Origin  []float64 `json:"origin"`
	Columns []string  `json:"columns"`
	// Cells are the occupied cells, [i, j, (k,) count, value], by index.
	Cells    [][]any  `json:"cells"`
	Total    int64    `json:"total"`
	MaxValue *float64 `json:"max_value"`
	MinValue *float64 `json:"min_value"`
	timeRange
}

func (h *Handler) viewHeatmap(ctx context.Context, app uuid.UUID, level levelKey, q url.Values) (any, error) {
	rg, err := h.parseRange(q)
	if err != nil {
		return nil, err
	}
	f, err := parseFilters(q, "level_id")
	if err != nil {
		return nil, err
	}
	p, err := parseHeatParams(q)
	if err != nil {
		return nil, err
	}
	var out *heatmapView
	// One snapshot: the cells are asked at a cell the bounds allow.
	err = h.snapshotTx(ctx, func(tx pgx.Tx) error {
		if p.up == "" {
			up, err := latestUpAxis(ctx, tx, app, level)
			if err != nil {
				return err
			}
			p.up = up
		}
		// The default cell comes from the level's bounds, trajectories and
		// gameplay events alike (so both kinds share a grid). An asked
		// cell of trajectories needs their bounds for the index check
		// below; gameplay cells check their own indexes.
		bounds, err := heatmapBounds(ctx, tx, app, rg, f, level,
			!p.cellGiven || p.kind == "trajectory", !p.cellGiven)
		if err != nil {
			return err
		}
		hq := &heatQuery{App: app, Level: level.id(), Range: rg, Filters: f, Dims: p.dims, Up: p.up[0], Metric: p.metric}
		hq.CellExp = p.cellExp
		if !p.cellGiven {
			hq.CellExp = defaultCellExp(bounds, p.dims, hq.Up)
		}
		// The cells come at least at the cell whose indexes fit; then the
		// answer's cell is the smallest from there whose cells are few
		// enough.
		var cells []heatCell
		if p.kind == "gameplay" {
			cells, hq.CellExp, err = gameplayCells(ctx, tx, hq, p.events)
		} else {
			// Every axis: the stored cells are binned in three dimensions.
			hq.CellExp = max(hq.CellExp, indexSafeExp(bounds, []int{0, 1, 2}))
			cells, err = trajectoryCells(ctx, tx, hq)
		}
		if err != nil {
			return err
		}
		fit, fitCells := fittingExp(cells, hq.CellExp)
		switch {
		case p.cellGiven && fit != p.cellExp:
			return tooManyCells(fit)
		case fit != hq.CellExp:
			// The server's own choice of cell is made coarser instead.
			hq.CellExp, cells = fit, fitCells
		}
		out = newHeatmapView(level, p, hq, cells)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out.timeRange = rg
	return out, nil
}

// latestUpAxis is the up axis of the level's latest model, "y" without one.
func latestUpAxis(ctx context.Context, tx pgx.Tx, app uuid.UUID, level levelKey) (string, error) {
	if !level.Known {
		return "y", nil
	}
	var up string
	err := tx.QueryRow(ctx, `SELECT up_axis FROM level_models WHERE app_id = $1 AND level_name = $2
		ORDER BY version DESC LIMIT 1`, app, level.ID).Scan(&up)
	if errors.Is(err, pgx.ErrNoRows) {
		return "y", nil
	}
	return up, err
}

// heatmapBounds is the box of the level's trajectory points (when
// trajectories) and positioned gameplay events (when gameplay) in the
// range; nil when it has none.
func heatmapBounds(ctx context.Context, tx pgx.Tx, app uuid.UUID, rg timeRange, f filters, level levelKey, trajectories, gameplay bool) (*heatBounds, error) {
	var b *heatBounds
	if gameplay {
		var err error
		if b, err = gameplayBounds(ctx, tx, app, rg, f, level); err != nil {
			return nil, err
		}
	}
	if trajectories {
		// A level filter keeps a known level's bounds alone; the unknown
		// level is read among all.
		lf := f
		if level.Known {
			lf.LevelID = &level.ID
		}
		tb, err := trajectoryBounds(ctx, tx, app, rg, lf)
		if err != nil {
			return nil, err
		}
		if t, ok := tb[level]; ok {
			b = unionBounds(b, t)
		}
	}
	return b, nil
}

// gameplayBounds is the box of the level's positioned gameplay events in
// the range under f; nil when it has none. The whole days rolled up with
// their counts come from dashboard_level_counts, the rest from the raw
// events.
func gameplayBounds(ctx context.Context, tx pgx.Tx, app uuid.UUID, rg timeRange, f filters, level levelKey) (*heatBounds, error) {
	covered, rest, err := rollupPlanWhere(ctx, tx, app, rg, levelSlicesDone)
	if err != nil {
		return nil, err
	}
	var b *heatBounds
	if len(covered) > 0 {
		err := storedLevelCounts(ctx, tx, app, f, &level, covered, func(_ *string, c levelCounts) {
			b = c.bounds
		})
		if err != nil {
			return nil, err
		}
	}
	if len(rest) > 0 {
		args := []any{app, rg.From, rg.To}
		cond := level.cond("g", &args) + " AND " + restWhere(`g."timestamp"`, rest, &args)
		f.bind(&args)
		var lo, hi [3]*float64
		err := tx.QueryRow(ctx, `SELECT `+positionBounds+` FROM gameplay_events g
			WHERE g.app_id = $1 AND g."timestamp" >= $2 AND g."timestamp" < $3`+cond+f.where("gameplay_events", "g"),
			args...).Scan(&lo[0], &lo[1], &lo[2], &hi[0], &hi[1], &hi[2])
		if err != nil {
			return nil, err
		}
		if r := scannedBounds(lo, hi); r != nil {
			b = unionBounds(b, *r)
		}
	}
	return b, nil
}

// newHeatmapView shapes the cells of q as the answer, sorted by index.
func newHeatmapView(level levelKey, p *heatParams, q *heatQuery, cells []heatCell) *heatmapView {
	names := []string{"x", "y", "z"}
	out := &heatmapView{LevelID: level.id(), Ref: level.ref(), Kind: p.kind, Events: p.events, Metric: p.metric,
		Dims: q.Dims, Up: string(q.Up), Cell: math.Ldexp(1, q.CellExp), Cells: [][]any{}}
	for _, a := range heatAxes(q.Dims, q.Up) {
		out.Axes = append(out.Axes, names[a])
		out.Origin = append(out.Origin, 0)
	}
	out.Columns = append([]string{"i", "j", "k"}[:q.Dims], "count", "value")
	slices.SortFunc(cells, func(a, b heatCell) int {
		return cmp.Or(cmp.Compare(a.I, b.I), cmp.Compare(a.J, b.J), cmp.Compare(a.K, b.K))
	})
	for _, c := range cells {
		var v *float64
		switch {
		case q.Metric == "count":
			n := float64(c.Count)
			v = &n
		case c.N > 0:
			m := c.Sum / float64(c.N)
			v = &m
		}
		row := []any{c.I, c.J, c.K}[:q.Dims]
		row = append(row, c.Count, v)
		out.Cells = append(out.Cells, row)
		out.Total += c.Count
		if v != nil {
			if out.MaxValue == nil || *v > *out.MaxValue {
				out.MaxValue = v
			}
			if out.MinValue == nil || *v < *out.MinValue {
				out.MinValue = v
			}
		}
	}
	return out
}
