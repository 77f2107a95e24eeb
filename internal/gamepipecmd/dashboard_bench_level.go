package gamepipecmd

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
)

// The benchmark's level paths: players walking over one level
// (benchPathLevel) from place to place, as trajectories the client sent
// with their level (docs/dashboard.md, "Benchmark").

// benchPathLevel is the level the paths are on.
const benchPathLevel = "Level_1_Meadow"

// benchPlace is a place players walk to: x and z on the ground, and how
// often it is picked as the next place.
type benchPlace struct {
	x, z   float64
	weight int
}

// The level is 400 × 300 units on the ground (x, z), y up: hills up to
// about 15, a tower rising to 50 around (320, 60) and a cave sinking to
// -15 around (260, 250).
var benchPlaces = []benchPlace{
	{30, 30, 3},   // spawn
	{120, 80, 5},  // village
	{200, 150, 3}, // bridge
	{320, 60, 2},  // tower
	{260, 250, 2}, // cave
	{80, 220, 2},  // lake shore
	{350, 240, 3}, // arena
	{200, 20, 1},  // gate
}

// benchGround is the height of the ground at (x, z).
func benchGround(x, z float64) float64 {
	y := 6 + 5*math.Sin(x/37)*math.Cos(z/29) + 3*math.Sin((x+z)/53)
	if d := math.Hypot(x-320, z-60); d < 15 {
		y += (15 - d) * 2.6
	}
	if d := math.Hypot(x-260, z-250); d < 25 {
		y -= (25 - d) * 0.9
	}
	return y
}

// benchPathFPS is a trajectory's fps_mean around (x, z) for a player whose
// GPU gives base: the village and the tower's top are heavy.
func benchPathFPS(r *rand.Rand, base, x, z float64) float64 {
	fps := base
	if d := math.Hypot(x-120, z-80); d < 45 {
		fps -= 35 * (1 - d/45)
	}
	if d := math.Hypot(x-320, z-60); d < 15 {
		fps -= 12
	}
	return max(5, fps+r.NormFloat64()*6)
}

// benchWalker walks a session's player over the level.
type benchWalker struct {
	r            *rand.Rand
	x, z, dx, dz float64
	target       int
	jump         int // samples left in a jump
}

func newBenchWalker(r *rand.Rand) *benchWalker {
	w := &benchWalker{r: r}
	start := benchPlaces[0]
	if r.IntN(3) == 0 {
		start = benchPlaces[r.IntN(len(benchPlaces))]
	}
	w.x, w.z = start.x+r.NormFloat64()*4, start.z+r.NormFloat64()*4
	w.pick()
	return w
}

func (w *benchWalker) pick() {
	total := 0
	for _, p := range benchPlaces {
		total += p.weight
	}
	n := w.r.IntN(total)
	for i, p := range benchPlaces {
		if n < p.weight {
			w.target = i
			return
		}
		n -= p.weight
	}
}

// step moves about one unit (a sample at 5 Hz of a running player) toward
// the target, wandering, and returns the new point.
func (w *benchWalker) step() (x, y, z float64) {
	t := benchPlaces[w.target]
	tx, tz := t.x-w.x, t.z-w.z
	if d := math.Hypot(tx, tz); d < 6 {
		w.pick()
	} else {
		tx, tz = tx/d, tz/d
	}
	w.dx = 0.8*w.dx + 0.2*tx + w.r.NormFloat64()*0.15
	w.dz = 0.8*w.dz + 0.2*tz + w.r.NormFloat64()*0.15
	if n := math.Hypot(w.dx, w.dz); n > 0 {
		speed := 0.9 + w.r.Float64()*0.6
		w.dx, w.dz = w.dx/n*speed, w.dz/n*speed
	}
	w.x = min(max(w.x+w.dx, 0), 400)
	w.z = min(max(w.z+w.dz, 0), 300)
	y = benchGround(w.x, w.z) + 1.8 // eye height
	if w.jump == 0 && w.r.IntN(40) == 0 {
		w.jump = 5
	}
	if w.jump > 0 {
		y += []float64{0, 0.9, 1.4, 1.4, 0.9}[w.jump-1] // falling back to the ground
		w.jump--
	}
	return w.x, y, w.z
}

// pathRows yields the level's trajectories: the sessions on benchPathLevel
// share points (about) among them, each walking its share in trajectories
// of 60 to 240 points sampled at 5 Hz, a trajectory's fps set by where it
// mostly is.
func (g *benchGen) pathRows(points int, yield func([]any) bool) {
	var on []int
	for i, s := range g.sessions {
		if s.level == benchPathLevel {
			on = append(on, i)
		}
	}
	if len(on) == 0 || points <= 0 {
		return
	}
	per := points / len(on)
	left := points
	for n, i := range on {
		s := g.sessions[i]
		r := rand.New(rand.NewPCG(uint64(i), 6))
		share := per
		if n == len(on)-1 {
			share = left
		} else if per > 4 {
			share = per*3/4 + r.IntN(per/2+1)
		}
		share = min(share, left)
		left -= share
		w := newBenchWalker(r)
		base := 140.0 - float64((s.player*7)%len(benchGPUs))*11
		at := s.start.Add(40 * time.Second)
		for share > 0 {
			k := min(share, 60+r.IntN(181))
			share -= k
			pos := make([]float64, 0, 3*k)
			var sx, sz float64
			for range k {
				x, y, z := w.step()
				pos = append(pos, x, y, z)
				sx, sz = sx+x, sz+z
			}
			fps := benchPathFPS(r, base, sx/float64(k), sz/float64(k))
			end := at.Add(time.Duration(k) * 200 * time.Millisecond)
			if !at.Before(g.end) {
				break
			}
			if !yield([]any{uuid.New(), g.app, s.build, benchPlayer(s.player), benchSessionID(i), "ok", s.input, benchPathLevel,
				fps, fps * 0.7, fps * 0.5, pos, k, at, end, at}) {
				return
			}
			at = end.Add(time.Duration(1+r.IntN(10)) * time.Second)
		}
	}
}
