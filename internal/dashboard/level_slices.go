package dashboard

import (
	"cmp"
	"slices"
	"time"

	"github.com/google/uuid"
)

// A level-day's cells split by slice (docs/dashboard.md, "Level rollups";
// migrations/0059_level_gameplay_cells.sql): a slice is a combination of
// event name (gameplay only), build, region and input method, each a value
// or none. Slices are disjoint, so any filters and event names select whole
// slices, and the selected slices' cells add up to exactly what the raw rows
// under those filters give.

// Slice dimensions, in the order of a slice's values.
const (
	sliceName = iota
	sliceBuild
	sliceRegion
	sliceInput
	sliceDims
)

// slice is one combination of values; has is false for a dimension without
// a value (NULL).
type slice struct {
	vals [sliceDims]string
	has  [sliceDims]bool
}

func newSlice(vals [sliceDims]*string) slice {
	var s slice
	for d, v := range vals {
		if v != nil {
			s.vals[d], s.has[d] = *v, true
		}
	}
	return s
}

// column is the slice's value of dimension d, nil for none.
func (s *slice) column(d int) *string {
	if !s.has[d] {
		return nil
	}
	v := s.vals[d]
	return &v
}

// sliceDict numbers the slices of one level-day, from 1 in order of first
// sight, and bounds each one's positions.
type sliceDict struct {
	index  map[slice]int32
	list   []slice
	bounds []box
}

func newSliceDict() *sliceDict { return &sliceDict{index: map[slice]int32{}} }

// of is s's number, added if new.
func (d *sliceDict) of(s slice) int32 {
	n, ok := d.index[s]
	if !ok {
		d.list = append(d.list, s)
		d.bounds = append(d.bounds, newBox())
		n = int32(len(d.list))
		d.index[s] = n
	}
	return n
}

// slicedKey is a cell of one slice.
type slicedKey struct {
	cellKey
	slice int32
}

// slicedGrid is a level-day's cells by slice, at one exponent.
type slicedGrid map[slicedKey]*cellSums

func (g slicedGrid) at(k slicedKey) *cellSums {
	s := g[k]
	if s == nil {
		s = &cellSums{}
		g[k] = s
	}
	return s
}

// levelSlices are one level-day's sliced cells of one kind in the making.
type levelSlices struct {
	level *string
	exp   int
	dict  *sliceDict
	grid  slicedGrid
}

func newLevelSlices(level *string, exp int) *levelSlices {
	return &levelSlices{level: level, exp: exp, dict: newSliceDict(), grid: slicedGrid{}}
}

// add counts point (x, y, z) of slice n (from l.dict), carrying fps (nil
// for gameplay events), in the slice's bounds and, when its cell fits, in
// its cell.
func (l *levelSlices) add(n int32, x, y, z float64, fps *trajectoryFPS) {
	l.dict.bounds[n-1].add(x, y, z)
	c, ok := pointCell(x, y, z, l.exp)
	if !ok {
		return
	}
	s := l.grid.at(slicedKey{c, n})
	if fps == nil {
		s.points++
		return
	}
	s.addPoint(fps)
}

// row is the dashboard_level_slice_cells row of l, of kind "gameplay" or
// "trajectory" (which alone has fps sums).
func (l *levelSlices) row(app uuid.UUID, day time.Time, kind string) []any {
	n := len(l.dict.list)
	var dims [sliceDims][]*string
	var lo, hi [3][]float64
	for d := range sliceDims {
		dims[d] = make([]*string, n)
	}
	for a := range 3 {
		lo[a], hi[a] = make([]float64, n), make([]float64, n)
	}
	for x := range l.dict.list {
		for d := range sliceDims {
			dims[d][x] = l.dict.list[x].column(d)
		}
		b := l.dict.bounds[x]
		for a := range 3 {
			lo[a][x], hi[a][x] = b.min[a], b.max[a]
		}
	}
	keys := make([]slicedKey, 0, len(l.grid))
	for k := range l.grid {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b slicedKey) int {
		return cmp.Or(compareCells(a.cellKey, b.cellKey), cmp.Compare(a.slice, b.slice))
	})
	m := len(keys)
	is, js, ks, ss, counts := make([]int32, m), make([]int32, m), make([]int32, m), make([]int32, m), make([]int64, m)
	var meanSum, meanN, low1Sum, low1N []int64
	if kind == "trajectory" {
		meanSum, meanN, low1Sum, low1N = make([]int64, m), make([]int64, m), make([]int64, m), make([]int64, m)
	}
	for x, k := range keys {
		s := l.grid[k]
		is[x], js[x], ks[x], ss[x], counts[x] = k.i, k.j, k.k, k.slice, s.points
		if meanSum != nil {
			meanSum[x], meanN[x], low1Sum[x], low1N[x] = s.meanSum, s.meanN, s.low1Sum, s.low1N
		}
	}
	return []any{app, day, l.level, kind, int32(l.exp),
		dims[sliceName], dims[sliceBuild], dims[sliceRegion], dims[sliceInput],
		lo[0], lo[1], lo[2], hi[0], hi[1], hi[2],
		is, js, ks, ss, counts, meanSum, meanN, low1Sum, low1N}
}

// sliceCellColumns are the columns of levelSlices.row.
var sliceCellColumns = []string{"app_id", "day", "level_id", "kind", "exp",
	"event_names", "build_ids", "regions", "input_methods",
	"min_x", "min_y", "min_z", "max_x", "max_y", "max_z",
	"i", "j", "k", "slice", "counts", "fps_mean_sum", "fps_mean_n", "fps_low_1_sum", "fps_low_1_n"}
