package dashboard

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// HeatmapRequest is a trajectory heatmap asked for outside HTTP, by the
// dashboard benchmark (`gamepipe dashboard-bench`).
type HeatmapRequest struct {
	App uuid.UUID
	// Level is the level's id; nil is the unknown level.
	Level    *string
	From, To time.Time
	// BuildID, Region and InputMethod filter as the page filters do.
	BuildID, Region, InputMethod *string
	// Dims is 3, or 2 for a top-down grid (up axis y).
	Dims int
	// Metric is "count", "fps_mean" or "fps_low_1".
	Metric string
	// Finer halves the default cell edge this many times.
	Finer int
}

// HeatmapAnswer sums up a heatmap's answer.
type HeatmapAnswer struct {
	// Cell is the cell edge: by default the smallest power of two at which
	// the level's largest side over the range is at most 64 edges long.
	Cell float64
	// Cells is how many cells are occupied, Points how many points they
	// hold.
	Cells  int
	Points int64
}

// TrajectoryHeatmap answers r as the heatmap route does, in one read-only
// transaction with the views' settings: the level's bounds over the range
// (for the default cell edge), then its cells.
func (h *Handler) TrajectoryHeatmap(ctx context.Context, r HeatmapRequest) (HeatmapAnswer, error) {
	var out HeatmapAnswer
	f := filters{BuildID: r.BuildID, Region: r.Region, InputMethod: r.InputMethod}
	rg := timeRange{From: r.From, To: r.To}
	err := h.readTx(ctx, func(tx pgx.Tx) error {
		// Every level's bounds, as the heatmap route asks them.
		bounds, err := trajectoryBounds(ctx, tx, r.App, rg, f)
		if err != nil {
			return err
		}
		b, ok := bounds[levelKeyOf(r.Level)]
		if !ok {
			return fmt.Errorf("dashboard: no trajectory points on the level in the range")
		}
		side := max(b.Max[0]-b.Min[0], b.Max[1]-b.Min[1], b.Max[2]-b.Min[2])
		exp := 0
		if side > 0 {
			exp = int(math.Ceil(math.Log2(side / 64)))
		}
		exp -= r.Finer
		out.Cell = math.Ldexp(1, exp)
		cells, err := trajectoryCells(ctx, tx, &heatQuery{App: r.App, Level: r.Level, Range: rg, Filters: f,
			CellExp: exp, Dims: r.Dims, Up: 'y', Metric: r.Metric})
		if err != nil {
			return err
		}
		out.Cells = len(cells)
		for _, c := range cells {
			out.Points += c.Count
		}
		return nil
	})
	return out, err
}
