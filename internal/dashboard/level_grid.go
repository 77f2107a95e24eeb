package dashboard

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
)

// Binning trajectory points into cells (docs/dashboard.md, "Level heatmap
// cells"). The raw trajectories and the rollups go through the same code,
// so that both answer alike to the bit.

// cellKey is a cell's indices on x, y and z at some exponent.
type cellKey struct{ i, j, k int32 }

// cellSums are what a cell holds: its points and, per fps metric, the sum
// of its points' fps in thousandths (milliFPS) and how many points have it.
type cellSums struct {
	points         int64
	meanSum, meanN int64
	low1Sum, low1N int64
}

// add adds o's sums to s.
func (s *cellSums) add(o *cellSums) {
	s.points += o.points
	s.meanSum += o.meanSum
	s.meanN += o.meanN
	s.low1Sum += o.low1Sum
	s.low1N += o.low1N
}

// cellGrid is the cells of one exponent.
type cellGrid map[cellKey]*cellSums

// at is k's sums, created empty if missing.
func (g cellGrid) at(k cellKey) *cellSums {
	s := g[k]
	if s == nil {
		s = &cellSums{}
		g[k] = s
	}
	return s
}

// shifted is g on a grid coarser by shift (≥ 0) exponents: the cell of
// index i is i >> shift, the floor of i / 2^shift, as binning at the
// coarser exponent would give.
func (g cellGrid) shifted(shift int) cellGrid {
	if shift == 0 {
		return g
	}
	out := make(cellGrid, len(g))
	for k, s := range g {
		out.at(cellKey{k.i >> shift, k.j >> shift, k.k >> shift}).add(s)
	}
	return out
}

// sortedKeys are g's cells in (i, j, k) order.
func (g cellGrid) sortedKeys() []cellKey {
	keys := make([]cellKey, 0, len(g))
	for k := range g {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareCells)
	return keys
}

func compareCells(a, b cellKey) int {
	switch {
	case a.i != b.i:
		return cmpInt32(a.i, b.i)
	case a.j != b.j:
		return cmpInt32(a.j, b.j)
	}
	return cmpInt32(a.k, b.k)
}

func cmpInt32(a, b int32) int {
	if a < b {
		return -1
	}
	if a > b {
		return 1
	}
	return 0
}

// cellIndex is floor(v / 2^exp) as a 32-bit index; ok is false when it
// does not fit (such a point is left out of the grid). Scaling by a power
// of two is exact, so the index is exact too; a negative v too small to
// scale without underflow still falls in cell -1.
func cellIndex(v float64, exp int) (int32, bool) {
	c := math.Floor(math.Ldexp(v, -exp))
	if c == 0 && v < 0 {
		c = -1
	}
	if !(c >= math.MinInt32 && c <= math.MaxInt32) {
		return 0, false
	}
	return int32(c), true
}

// pointCell is the cell of point (x, y, z) at exp.
func pointCell(x, y, z float64, exp int) (cellKey, bool) {
	i, ok1 := cellIndex(x, exp)
	j, ok2 := cellIndex(y, exp)
	k, ok3 := cellIndex(z, exp)
	return cellKey{i, j, k}, ok1 && ok2 && ok3
}

// maxFPS bounds an fps value in the cells' sums: larger values count as
// maxFPS (and negative ones as 0), so a sum of int64 thousandths cannot
// overflow.
const maxFPS = 1_000_000

// milliFPS is an fps value in thousandths of a frame per second, rounded:
// what the cells sum, so that sums over any days, in any order, are exact.
func milliFPS(v float64) int64 {
	return int64(math.Round(min(max(v, 0), maxFPS) * 1000))
}

// trajectoryFPS is a trajectory's fps in thousandths, per metric, with
// whether it has each.
type trajectoryFPS struct {
	mean, low1       int64
	hasMean, hasLow1 bool
}

func newTrajectoryFPS(mean, low1 *float64) trajectoryFPS {
	var f trajectoryFPS
	if mean != nil {
		f.mean, f.hasMean = milliFPS(*mean), true
	}
	if low1 != nil {
		f.low1, f.hasLow1 = milliFPS(*low1), true
	}
	return f
}

// addPoint counts one point carrying fps in s.
func (s *cellSums) addPoint(fps *trajectoryFPS) {
	s.points++
	if fps.hasMean {
		s.meanSum += fps.mean
		s.meanN++
	}
	if fps.hasLow1 {
		s.low1Sum += fps.low1
		s.low1N++
	}
}

// box is a bounding box being grown point by point.
type box struct {
	min, max [3]float64
	empty    bool
}

func newBox() box { return box{empty: true} }

func (b *box) add(x, y, z float64) {
	if b.empty {
		b.min, b.max, b.empty = [3]float64{x, y, z}, [3]float64{x, y, z}, false
		return
	}
	b.min = [3]float64{min(b.min[0], x), min(b.min[1], y), min(b.min[2], z)}
	b.max = [3]float64{max(b.max[0], x), max(b.max[1], y), max(b.max[2], z)}
}

func (b *box) union(o box) {
	if o.empty {
		return
	}
	b.add(o.min[0], o.min[1], o.min[2])
	b.add(o.max[0], o.max[1], o.max[2])
}

// errArray is a malformed array in Postgres's binary format.
var errArray = errors.New("dashboard: malformed binary array")

// float8Array walks a float8[] in Postgres's binary format (what
// pgtype.UndecodedBytes holds for a float8[] column), calling fn with each
// element; a NULL element is NaN. Decoding the positions this way, rather
// than into a []float64 element by element through pgx's generic array
// codec, is what makes reading whole trajectories fast.
func float8Array(b []byte, fn func(i int, v float64)) error {
	return binaryArray(b, 8, func(i int, e []byte) {
		if e == nil {
			fn(i, math.NaN())
			return
		}
		fn(i, math.Float64frombits(binary.BigEndian.Uint64(e)))
	})
}

// int4Array decodes an integer[] in binary format (NULLs as 0).
func int4Array(b []byte) ([]int32, error) {
	var out []int32
	err := binaryArray(b, 4, func(i int, e []byte) {
		if out == nil {
			out = make([]int32, 0, 64)
		}
		var v int32
		if e != nil {
			v = int32(binary.BigEndian.Uint32(e))
		}
		out = append(out, v)
	})
	return out, err
}

// int8Array decodes a bigint[] in binary format (NULLs as 0).
func int8Array(b []byte) ([]int64, error) {
	var out []int64
	err := binaryArray(b, 8, func(i int, e []byte) {
		if out == nil {
			out = make([]int64, 0, 64)
		}
		var v int64
		if e != nil {
			v = int64(binary.BigEndian.Uint64(e))
		}
		out = append(out, v)
	})
	return out, err
}

// binaryArray walks a one-dimensional array of fixed-size elements in
// Postgres's binary format: a header (dimensions, a has-NULLs flag, the
// element type, then each dimension's length and lower bound), then each
// element as its length (-1 for NULL) and its bytes. fn gets nil for NULL.
func binaryArray(b []byte, size int, fn func(i int, e []byte)) error {
	if len(b) < 12 {
		return errArray
	}
	ndim := int32(binary.BigEndian.Uint32(b))
	switch {
	case ndim == 0:
		return nil
	case ndim != 1 || len(b) < 20:
		return errArray
	}
	n := int(int32(binary.BigEndian.Uint32(b[12:])))
	b = b[20:]
	if n < 0 || len(b) < n*4 {
		return errArray
	}
	for i := range n {
		if len(b) < 4 {
			return errArray
		}
		l := int32(binary.BigEndian.Uint32(b))
		b = b[4:]
		if l < 0 {
			fn(i, nil)
			continue
		}
		if int(l) != size || len(b) < size {
			return errArray
		}
		fn(i, b[:size])
		b = b[size:]
	}
	return nil
}

// eachPoint calls fn with each point (x, y, z) of a positions array (a
// float8[] in binary format). A point with a coordinate that is not a
// finite number (which the API never accepts), and an incomplete last
// triple, are skipped.
func eachPoint(b []byte, fn func(x, y, z float64)) error {
	var p [3]float64
	return float8Array(b, func(i int, v float64) {
		p[i%3] = v
		if i%3 == 2 && finite(p[0]) && finite(p[1]) && finite(p[2]) {
			fn(p[0], p[1], p[2])
		}
	})
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// cellArrays are a cell rollup row's parallel arrays: the cells' indices,
// their counts and, for an fps metric, its sums and counts.
type cellArrays struct {
	i, j, k  []int32
	counts   []int64
	sums, ns []int64 // nil without a metric
}

// decodeCellArrays decodes a rollup row's cell arrays (the sums only when
// metric) and checks that they are parallel.
func decodeCellArrays(bi, bj, bk, bcounts, bsum, bn []byte, metric bool) (cellArrays, error) {
	var c cellArrays
	var err error
	if c.i, err = int4Array(bi); err != nil {
		return c, err
	}
	if c.j, err = int4Array(bj); err != nil {
		return c, err
	}
	if c.k, err = int4Array(bk); err != nil {
		return c, err
	}
	if c.counts, err = int8Array(bcounts); err != nil {
		return c, err
	}
	if metric {
		if c.sums, err = int8Array(bsum); err != nil {
			return c, err
		}
		if c.ns, err = int8Array(bn); err != nil {
			return c, err
		}
	}
	n := len(c.i)
	if len(c.j) != n || len(c.k) != n || len(c.counts) != n || (metric && (len(c.sums) != n || len(c.ns) != n)) {
		return c, errArray
	}
	return c, nil
}

// cell is the x-th cell's key on a grid shift exponents coarser, and its
// sums (the metric's in the mean's place, whichever it is).
func (c *cellArrays) cell(x, shift int) (cellKey, cellSums) {
	s := cellSums{points: c.counts[x]}
	if c.sums != nil {
		s.meanSum, s.meanN = c.sums[x], c.ns[x]
	}
	return cellKey{shiftIndex(c.i[x], shift), shiftIndex(c.j[x], shift), shiftIndex(c.k[x], shift)}, s
}
