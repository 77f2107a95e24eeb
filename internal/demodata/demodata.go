// Package demodata makes a realistic week of telemetry for one app and
// sends it through POST /api/events, so a new dashboard has something to
// show (`gamepipe demo-data`, docs/dashboard.md).
//
// The players behave in ways the dashboard's pages make visible: build
// 1.0.3 loses fewer players in the tutorial than 1.0.2, older GPUs and the
// heavier level run under 30 fps, about a third of the players come back
// the next day. On a level they walk around its blocks (DemoLevel), their
// gameplay events placed on their way, and frames drop near one corner of
// each level, so the Levels page has paths and a hot spot to show.
package demodata

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// Config configures Events.
type Config struct {
	// AppID is the app the events are for. Required.
	AppID string
	// Players is how many players to simulate. Defaults to 300.
	Players int
	// Days is how many days before End the players arrive over. Defaults
	// to 7.
	Days int
	// End is when the simulated week ends. Defaults to now.
	End time.Time
	// Seed makes the data reproducible. Defaults to 1.
	Seed uint64
}

// What the players are drawn from.
var (
	regions = []string{"EU-West", "EU-North", "US-East", "US-West", "Asia-East"}
	inputs  = []string{"Gamepad", "Keyboard_Mouse", "Touch"}
	levels  = []string{"Training_Grounds", "Level_1", "Level_2", "Level_3_Jungle"}
	// gpus and their typical frame rate.
	gpus = []struct {
		name string
		fps  float64
	}{{"RTX 4090", 144}, {"RTX 3060", 90}, {"RX 6700 XT", 85}, {"GTX 1060", 48}, {"GTX 960", 28}, {"Intel UHD 630", 22}}
	steps = []string{"Tutorial_Start", "Tutorial_Move", "Tutorial_Jump", "Tutorial_End"}
	// stepKeep is the chance of going on to each tutorial step, per build.
	stepKeep = map[string][]float64{"1.0.2": {0.8, 0.6, 0.7}, "1.0.3": {0.9, 0.85, 0.85}}
	// levelCost is how much of a GPU's frame rate each level keeps.
	levelCost = map[string]float64{"Training_Grounds": 1, "Level_1": 0.95, "Level_2": 0.85, "Level_3_Jungle": 0.6}
)

// Events returns the telemetry of cfg's players, oldest first, as the maps
// POST /api/events takes.
func Events(cfg *Config) ([]map[string]any, error) {
	c := *cfg
	if c.AppID == "" {
		return nil, errors.New("demodata: AppID is required")
	}
	c.Players = cmp.Or(c.Players, 300)
	c.Days = cmp.Or(c.Days, 7)
	if c.End.IsZero() {
		c.End = time.Now()
	}
	c.Seed = cmp.Or(c.Seed, 1)
	rng := rand.New(rand.NewPCG(c.Seed, c.Seed^0x9e3779b97f4a7c15))
	start := c.End.Add(-time.Duration(c.Days) * 24 * time.Hour)
	span := c.End.Sub(start)

	var out []map[string]any
	for i := range c.Players {
		p := &sim{c: &c, rng: rng, id: fmt.Sprintf("demo-player-%04d", i)}
		p.build = "1.0.3"
		if rng.IntN(2) == 0 {
			p.build = "1.0.2"
		}
		p.gpu = gpus[rng.IntN(len(gpus))]
		p.input = inputs[rng.IntN(len(inputs))]
		first := start.Add(time.Duration(rng.Int64N(int64(span) * 9 / 10)))
		out = append(out, p.event(map[string]any{"event_name": "Create_Player", "region": regions[rng.IntN(len(regions))],
			"hardware": map[string]any{"gpu": p.gpu.name, "ram": []string{"8GB", "16GB", "32GB"}[rng.IntN(3)]}}, first))
		// The first session has the tutorial; a third come back the next
		// day, some of those a week later.
		out = append(out, p.session(first.Add(time.Minute), true)...)
		for _, back := range []struct {
			after  time.Duration
			chance float64
		}{{24 * time.Hour, 0.35}, {2 * 24 * time.Hour, 0.2}, {7 * 24 * time.Hour, 0.15}} {
			at := first.Add(back.after + time.Duration(rng.IntN(3600))*time.Second)
			if rng.Float64() < back.chance && at.Before(c.End) {
				out = append(out, p.session(at, false)...)
			}
		}
	}
	return out, nil
}

// sim is one simulated player.
type sim struct {
	c     *Config
	rng   *rand.Rand
	id    string
	build string
	input string
	gpu   struct {
		name string
		fps  float64
	}
	sessions int
}

func (p *sim) event(m map[string]any, at time.Time) map[string]any {
	m["app_id"], m["build_id"], m["player_id"] = p.c.AppID, p.build, p.id
	m["timestamp"] = at.UTC().Format(time.RFC3339Nano)
	return m
}

// session plays one session from at: the tutorial (first session only),
// then a few levels with gameplay events and trajectories.
func (p *sim) session(at time.Time, tutorial bool) []map[string]any {
	p.sessions++
	sid := fmt.Sprintf("%s-s%d", p.id, p.sessions)
	var out []map[string]any
	t := at
	next := func(min, max int) time.Time {
		t = t.Add(time.Duration(min+p.rng.IntN(max-min+1)) * time.Second)
		return t
	}
	if tutorial {
		for i, s := range steps {
			if i > 0 && p.rng.Float64() > stepKeep[p.build][i-1] {
				return out // left during the tutorial
			}
			out = append(out, p.event(map[string]any{"funnel_step_name": s, "session_id": sid, "level_id": "Training_Grounds"}, next(20, 240)))
		}
	}
	for range 1 + p.rng.IntN(3) {
		level := levels[1+p.rng.IntN(len(levels)-1)]
		out = append(out, p.event(map[string]any{"event_name": "Level_Start", "session_id": sid, "level_id": level,
			"input_method": p.input}, next(5, 60)))
		w := newWalker(p.rng, DemoLevel(level))
		// A few trajectories one after the other, a point a second, with
		// the gameplay events of each on the way.
		for range 2 + p.rng.IntN(3) {
			ts := next(1, 10)
			n := 20 + p.rng.IntN(21)
			positions := w.walk(n)
			fps := p.gpu.fps * levelCost[level] * w.load(positions) * (0.9 + 0.2*p.rng.Float64())
			out = append(out, p.event(map[string]any{"session_id": sid, "status": "Gameplay", "input_method": p.input,
				"fps":       map[string]any{"mean": round1(fps), "low_5": round1(fps * 0.7), "low_1": round1(fps * 0.5)},
				"positions": positions, "timestamp_start": ts.UTC().Format(time.RFC3339Nano),
				"timestamp_end": ts.Add(time.Duration(n-1) * time.Second).UTC().Format(time.RFC3339Nano)}, ts))
			delete(out[len(out)-1], "timestamp")
			at := 0
			for range p.rng.IntN(4) {
				at += 1 + p.rng.IntN(max(1, (n-at)/2))
				if at >= n {
					break
				}
				name := []string{"Player_Jump", "Player_Shoot", "Item_Pickup", "Enemy_Killed"}[p.rng.IntN(4)]
				pos := slices.Clone(positions[3*at : 3*at+3])
				if name == "Player_Jump" {
					pos[1] = 1.5
				}
				out = append(out, p.event(map[string]any{"event_name": name, "session_id": sid, "level_id": level,
					"input_method": p.input, "position": pos,
					"custom_data": map[string]any{"weapon": []string{"Sword", "Bow", "Staff"}[p.rng.IntN(3)], "combo": p.rng.IntN(10)}},
					ts.Add(time.Duration(at)*time.Second)))
			}
			t = ts.Add(time.Duration(n-1) * time.Second)
		}
		if p.rng.Float64() < 0.7 {
			out = append(out, p.event(map[string]any{"event_name": "Level_Complete", "session_id": sid, "level_id": level,
				"input_method": p.input}, next(5, 60)))
		}
	}
	return out
}

func round1(f float64) float64 { return float64(int(f*10+0.5)) / 10 }

// Send posts events to apiBase's /api/events with the app's public token,
// batch events per request, and returns how many were accepted.
func Send(ctx context.Context, client *http.Client, apiBase, publicToken string, events []map[string]any, batch int) (int, error) {
	batch = cmp.Or(batch, 500)
	sent := 0
	for len(events) > 0 {
		n := min(batch, len(events))
		body, err := msgpack.Marshal(events[:n])
		if err != nil {
			return sent, fmt.Errorf("error encoding events: %w", err)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(apiBase, "/")+"/api/events", bytes.NewReader(body))
		if err != nil {
			return sent, err
		}
		req.Header.Set("Content-Type", "application/msgpack")
		req.Header.Set("X-Public-Token", publicToken)
		resp, err := client.Do(req)
		if err != nil {
			return sent, fmt.Errorf("error posting events: %w", err)
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return sent, fmt.Errorf("POST /api/events answered %d: %s", resp.StatusCode, bytes.TrimSpace(msg))
		}
		sent += n
		events = events[n:]
	}
	return sent, nil
}

// walker is a player moving on a demo level: about a unit a second, turning
// a little at each step and away from blocks and the walls.
type walker struct {
	rng         *rand.Rand
	level       *LevelModel
	x, z, angle float64
}

func newWalker(rng *rand.Rand, level *LevelModel) *walker {
	w := &walker{rng: rng, level: level, angle: rng.Float64() * 2 * math.Pi}
	for {
		w.x, w.z = 5+rng.Float64()*90, 5+rng.Float64()*90
		if !level.Blocked(w.x, w.z) {
			return w
		}
	}
}

// walk returns the next n positions as a flat [x, y, z, …] array.
func (w *walker) walk(n int) []float64 {
	out := make([]float64, 0, 3*n)
	for range n {
		out = append(out, round1(w.x), 0, round1(w.z))
		w.angle += (w.rng.Float64() - 0.5) * 0.8
		for try := 0; ; try++ {
			step := 0.8 + 0.6*w.rng.Float64()
			x, z := w.x+step*math.Cos(w.angle), w.z+step*math.Sin(w.angle)
			if x > 2 && x < 98 && z > 2 && z < 98 && !w.level.Blocked(x, z) {
				w.x, w.z = x, z
				break
			}
			if try == 20 {
				break // boxed in: stay this second
			}
			w.angle += math.Pi/2 + w.rng.Float64()*math.Pi
		}
	}
	return out
}

// load is the share of the frame rate a trajectory keeps where it went:
// down to 0.55 near the level's heavy corner (75, 75).
func (w *walker) load(positions []float64) float64 {
	var d float64
	for i := 0; i < len(positions); i += 3 {
		d += math.Hypot(positions[i]-75, positions[i+2]-75)
	}
	d /= float64(len(positions) / 3)
	return 0.55 + 0.45*min(1, d/45)
}
