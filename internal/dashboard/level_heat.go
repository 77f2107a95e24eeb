package dashboard

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// heatQuery asks for the occupied cells of one level's heatmap
// (docs/dashboard.md, "Levels"). Cells are cubes (dims 3) or squares
// (dims 2, the up axis dropped) of edge 2^CellExp telemetry units, anchored
// at the origin: cell (i, j, k) covers [i·e, (i+1)·e) × [j·e, (j+1)·e) ×
// [k·e, (k+1)·e).
type heatQuery struct {
	App uuid.UUID
	// Level is the level's id; nil is the unknown level.
	Level *string
	Range timeRange
	// Filters: BuildID, Region and InputMethod (LevelID is never set here).
	Filters filters
	// CellExp is the cell edge's exponent: the edge is 2^CellExp.
	CellExp int
	// Dims is 3, or 2 for a top-down grid without the Up axis.
	Dims int
	// Up is the telemetry's up axis, 'y' or 'z' (dims 2 drop it).
	Up byte
	// Metric is "count", "fps_mean" or "fps_low_1".
	Metric string
}

// heatCell is one occupied cell. For dims 2, K is 0 and I, J are the two
// kept axes in order (x then the other one). Sum and N give the metric's
// mean over the cell's points that have it (Sum/N; none when N is 0); for
// "count" they are unused.
type heatCell struct {
	I, J, K int32
	Count   int64
	Sum     float64
	N       int64
}

// heatBounds is the bounding box of a level's positions, in telemetry units.
type heatBounds struct {
	Min [3]float64 `json:"min"`
	Max [3]float64 `json:"max"`
}

// trajectoryCells answers q over trajectory points: each point of a
// trajectory of the level in the range (by timestamp_start) counts once in
// its cell and carries its trajectory's fps for the fps metrics
// (docs/dashboard.md, "Level heatmap cells"). Cells come sorted by (I, J,
// K). Sum is the sum of the metric's values, each rounded to 0.001 fps.
func trajectoryCells(ctx context.Context, tx pgx.Tx, q *heatQuery) ([]heatCell, error) {
	return levelCells(ctx, tx, q)
}

// levelKey names a level in a map: Known false is the unknown level.
type levelKey struct {
	ID    string
	Known bool
}

// trajectoryBounds gives the bounding box of each level's trajectory
// points in the range, with the filters applied (a level_id filter keeps
// that level alone); a level without points has no entry. The bounds are
// exact: the rollup keeps each row's (docs/dashboard.md, "Level heatmap
// cells").
func trajectoryBounds(ctx context.Context, tx pgx.Tx, app uuid.UUID, rg timeRange, f filters) (map[levelKey]heatBounds, error) {
	return levelBounds(ctx, tx, app, rg, f)
}
