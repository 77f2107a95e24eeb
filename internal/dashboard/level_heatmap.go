package dashboard

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

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

// heatParams are a heatmap request's parameters.
type heatParams struct {
	kind, metric string
	events       []string
	dims         int
	// up is "" until decided (the latest model's, else y).
	up string
	// cellExp is the asked cell's exponent, when cellGiven.
	cellExp   int
	cellGiven bool
}

func parseHeatParams(q url.Values) (*heatParams, error) {
	p := &heatParams{}
	var err error
	if p.kind, err = parseChoice(q, "kind", "trajectory", "trajectory", "gameplay"); err != nil {
		return nil, err
	}
	if p.events, err = parseEventNames(q); err != nil {
		return nil, err
	}
	if len(p.events) > 0 && p.kind != "gameplay" {
		return nil, badParam("events", "applies to kind=gameplay only")
	}
	if p.metric, err = parseChoice(q, "metric", "count", "count", "fps_mean", "fps_low_1"); err != nil {
		return nil, err
	}
	if p.metric != "count" && p.kind != "trajectory" {
		return nil, badParam("metric", "fps_mean and fps_low_1 apply to kind=trajectory only")
	}
	dims, err := parseChoice(q, "dims", "3", "3", "2")
	if err != nil {
		return nil, err
	}
	p.dims, _ = strconv.Atoi(dims)
	if p.up, err = parseChoice(q, "up", "", "y", "z"); err != nil {
		return nil, err
	}
	if v := q.Get("cell"); v != "" {
		c, err := strconv.ParseFloat(v, 64)
		if err != nil || !(c > 0) || math.IsInf(c, 0) {
			return nil, badParam("cell", "must be a positive number (the cell edge in telemetry units)")
		}
		k := math.Round(math.Log2(c))
		if k < minCellExp || k > maxCellExp {
			return nil, badParam("cell", "must be between "+fmtCell(minCellExp)+" and "+fmtCell(maxCellExp))
		}
		p.cellExp, p.cellGiven = int(k), true
	}
	return p, nil
}

// parseEventNames reads events, comma-separated gameplay event names.
func parseEventNames(q url.Values) ([]string, error) {
	v := q.Get("events")
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		switch {
		case s == "":
			return nil, badParam("events", "an event name is empty")
		case len(s) > maxFilterBytes:
			return nil, badParam("events", "an event name is longer than "+strconv.Itoa(maxFilterBytes)+" bytes")
		case !slices.Contains(out, s):
			out = append(out, s)
		}
	}
	if len(out) > maxHeatEvents {
		return nil, badParam("events", "at most "+strconv.Itoa(maxHeatEvents)+" event names")
	}
	return out, nil
}

func fmtCell(k int) string { return strconv.FormatFloat(math.Ldexp(1, k), 'g', -1, 64) }

// tooManyCells is the 400 of a cell too small for the answer to fit.
func tooManyCells(k int) *apiError {
	c := math.Ldexp(1, k)
	return &apiError{Status: http.StatusBadRequest, Code: "too_many_cells", Field: "cell", MinCell: &c,
		Message: fmt.Sprintf("cell: the heatmap would have more than %d cells; the smallest cell allowed is %s", maxHeatCells, fmtCell(k))}
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
		// gameplay events alike (so both kinds share a grid); an asked
		// cell needs only the bounds of what is counted.
		bounds, err := heatmapBounds(ctx, tx, app, rg, f, level,
			!p.cellGiven || p.kind == "trajectory", !p.cellGiven || p.kind == "gameplay")
		if err != nil {
			return err
		}
		hq := &heatQuery{App: app, Level: level.id(), Range: rg, Filters: f, Dims: p.dims, Up: p.up[0], Metric: p.metric}
		k := p.cellExp
		if !p.cellGiven {
			k = defaultCellExp(bounds, p.dims, hq.Up)
		}
		// Ask at least at the cell whose indexes fit; then the answer's cell
		// is the smallest from there whose cells are few enough.
		hq.CellExp = max(k, indexSafeExp(bounds))
		var cells []heatCell
		if p.kind == "gameplay" {
			cells, err = gameplayCells(ctx, tx, hq, p.events)
		} else {
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
		args := []any{app, rg.From, rg.To}
		cond := level.cond("g", &args)
		gf := f
		gf.bind(&args)
		var lo, hi [3]*float64
		err := tx.QueryRow(ctx, `SELECT `+positionBounds+` FROM gameplay_events g
			WHERE g.app_id = $1 AND g."timestamp" >= $2 AND g."timestamp" < $3`+cond+gf.where("gameplay_events", "g"),
			args...).Scan(&lo[0], &lo[1], &lo[2], &hi[0], &hi[1], &hi[2])
		if err != nil {
			return nil, err
		}
		b = scannedBounds(lo, hi)
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

// heatAxes are the telemetry axes (0 x, 1 y, 2 z) of a grid's i, j, k.
func heatAxes(dims int, up byte) []int {
	switch {
	case dims == 3:
		return []int{0, 1, 2}
	case up == 'z':
		return []int{0, 1}
	}
	return []int{0, 2}
}

// defaultCellExp is the exponent of the power-of-two cell that puts about
// heatSideCells cells along the bounds' largest kept side (at most that
// many); 0 (a cell of 1) without bounds or for a single point.
func defaultCellExp(b *heatBounds, dims int, up byte) int {
	if b == nil {
		return 0
	}
	var side float64
	for _, a := range heatAxes(dims, up) {
		side = max(side, b.Max[a]-b.Min[a])
	}
	if !(side > 0) || math.IsInf(side, 0) {
		return 0
	}
	k := int(math.Ceil(math.Log2(side / heatSideCells)))
	return min(max(k, minCellExp), maxCellExp)
}

// indexSafeExp is the smallest exponent at which every coordinate of b
// has a cell index under 2^cellIndexBits in size.
func indexSafeExp(b *heatBounds) int {
	k := minCellExp
	if b == nil {
		return k
	}
	for a := range 3 {
		m := max(math.Abs(b.Min[a]), math.Abs(b.Max[a]))
		if m == 0 || math.IsInf(m, 0) || math.IsNaN(m) {
			continue
		}
		// m < 2^e, so m/2^k < 2^cellIndexBits once k ≥ e - cellIndexBits.
		_, e := math.Frexp(m)
		k = max(k, e-cellIndexBits)
	}
	return k
}

// fittingExp is the smallest exponent from k at which cells (of exponent
// k) make at most maxHeatCells cells, and the cells there. A cell of
// 2^(k+1) is 2^dims cells of 2^k, as the grid is anchored at the origin,
// so an arithmetic shift of the indexes (floor(i/2)) coarsens them, and
// counts and the metric's sums add up.
func fittingExp(cells []heatCell, k int) (int, []heatCell) {
	if len(cells) <= maxHeatCells {
		return k, cells
	}
	for len(cells) > maxHeatCells {
		merged := make(map[[3]int32]int, len(cells)/2)
		next := make([]heatCell, 0, len(cells)/2)
		for _, c := range cells {
			key := [3]int32{c.I >> 1, c.J >> 1, c.K >> 1}
			if i, ok := merged[key]; ok {
				next[i].Count += c.Count
				next[i].Sum += c.Sum
				next[i].N += c.N
				continue
			}
			merged[key] = len(next)
			next = append(next, heatCell{I: key[0], J: key[1], K: key[2], Count: c.Count, Sum: c.Sum, N: c.N})
		}
		cells, k = next, k+1
	}
	return k, cells
}

// gameplayCells answers q over the level's positioned gameplay events,
// those named in events when it is not empty: each event counts once in
// the cell of floor(coordinate / 2^CellExp) on each kept axis.
func gameplayCells(ctx context.Context, tx pgx.Tx, q *heatQuery, events []string) ([]heatCell, error) {
	args := []any{q.App, q.Range.From, q.Range.To, math.Ldexp(1, q.CellExp)}
	cond := (levelKey{Known: q.Level != nil, ID: deref(q.Level)}).cond("g", &args)
	if len(events) > 0 {
		args = append(args, events)
		cond += " AND g.event_name = ANY($" + strconv.Itoa(len(args)) + ")"
	}
	f := q.Filters
	f.bind(&args)
	cols := []string{"g.pos_x", "g.pos_y", "g.pos_z"}
	idx := []string{"0", "0", "0"}
	for i, a := range heatAxes(q.Dims, q.Up) {
		idx[i] = "floor(" + cols[a] + " / $4)::int"
	}
	rows, err := tx.Query(ctx, `SELECT `+strings.Join(idx, ", ")+`, count(*)
		FROM gameplay_events g
		WHERE g.app_id = $1 AND g."timestamp" >= $2 AND g."timestamp" < $3 AND `+positioned+cond+f.where("gameplay_events", "g")+`
		GROUP BY 1, 2, 3`, args...)
	if err != nil {
		return nil, err
	}
	var (
		c   heatCell
		out []heatCell
	)
	_, err = pgx.ForEachRow(rows, []any{&c.I, &c.J, &c.K, &c.Count}, func() error {
		out = append(out, c)
		return nil
	})
	return out, err
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
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
