package loadgen

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/gamepipe/gamepipe/internal/telemetry"
)

// tsLayout is how generated events carry their time: RFC 3339 in UTC with
// nine fraction digits, so every timestamp has the same width and can be
// patched into a template in place. Python and .NET clients send 6 and 7.
const tsLayout = "2006-01-02T15:04:05.000000000Z"

const tsWidth = len(tsLayout)

// GeneratorConfig configures a Generator. Only AppID is required.
type GeneratorConfig struct {
	// AppID is the app_id every event carries; it must be the app of the
	// token the requests are sent with.
	AppID string
	// BuildID is every event's build_id. Defaults to "Win64_Shipping_1.4.2".
	BuildID string
	// Mix is the share of each kind. Defaults to DefaultMix.
	Mix Mix
	// MinPoints and MaxPoints bound a trajectory's length in points (each
	// three numbers in positions). Default to 50 and 500.
	MinPoints, MaxPoints int
	// MinCustomKeys and MaxCustomKeys bound the keys of a gameplay event's
	// custom_data. Default to 2 and 5.
	MinCustomKeys, MaxCustomKeys int
	// Players is how many distinct players (each with one session) the
	// events come from. Defaults to 1000.
	Players int
	// Templates is how many distinct events of each kind are prepared;
	// generated events are copies of them with their own timestamps.
	// Defaults to 256.
	Templates int
	// Seed makes the templates reproducible. Zero picks one at random.
	Seed uint64
	// Now returns the time events are stamped from. Defaults to time.Now.
	Now func() time.Time
}

func (c *GeneratorConfig) withDefaults() (GeneratorConfig, error) {
	out := *c
	out.BuildID = cmp.Or(out.BuildID, "Win64_Shipping_1.4.2")
	if out.Mix == nil {
		out.Mix = DefaultMix
	}
	out.MinPoints = cmp.Or(out.MinPoints, 50)
	out.MaxPoints = cmp.Or(out.MaxPoints, 500)
	out.MinCustomKeys = cmp.Or(out.MinCustomKeys, 2)
	out.MaxCustomKeys = cmp.Or(out.MaxCustomKeys, 5)
	out.Players = cmp.Or(out.Players, 1000)
	out.Templates = cmp.Or(out.Templates, 256)
	if out.Seed == 0 {
		out.Seed = rand.Uint64()
	}
	if out.Now == nil {
		out.Now = time.Now
	}
	switch {
	case out.AppID == "":
		return out, errors.New("generator: AppID is required")
	case out.MinPoints < 1 || out.MaxPoints < out.MinPoints || out.MaxPoints > telemetry.DefaultMaxPositions/3:
		return out, fmt.Errorf("generator: trajectory points must satisfy 1 <= min (%d) <= max (%d) <= %d",
			out.MinPoints, out.MaxPoints, telemetry.DefaultMaxPositions/3)
	case out.MinCustomKeys < 0 || out.MaxCustomKeys < out.MinCustomKeys || out.MaxCustomKeys > len(customKeys):
		return out, fmt.Errorf("generator: custom_data keys must satisfy 0 <= min (%d) <= max (%d) <= %d",
			out.MinCustomKeys, out.MaxCustomKeys, len(customKeys))
	case out.Players < 1 || out.Templates < 1:
		return out, errors.New("generator: Players and Templates must be positive")
	}
	return out, out.Mix.validate()
}

// Generator makes MessagePack request bodies of realistic telemetry: the
// four kinds in a configured mix, trajectories of MinPoints..MaxPoints
// points, custom_data of a few keys. Every event it makes is distinct, so
// none is deduplicated by the API: each carries its own timestamp, one
// nanosecond apart at least. It is safe for concurrent use through
// Streams.
type Generator struct {
	cfg       GeneratorConfig
	kinds     []telemetry.Kind
	cum       []float64
	templates map[telemetry.Kind][]template
	// lastNS is the last timestamp handed out, in Unix nanoseconds.
	lastNS atomic.Int64
}

// template is one prepared event: its MessagePack bytes with placeholders
// for its time fields.
type template struct {
	b []byte
	// ts and end are the offsets of the timestamp (or timestamp_start) and
	// timestamp_end placeholders; end is 0 for kinds without one.
	ts, end int
	// span is timestamp_end minus timestamp_start.
	span time.Duration
}

// NewGenerator prepares cfg.Templates events of each kind in the mix.
func NewGenerator(cfg *GeneratorConfig) (*Generator, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	g := &Generator{cfg: c, templates: map[telemetry.Kind][]template{}}
	g.kinds, g.cum = c.Mix.cumulative()
	rng := rand.New(rand.NewPCG(c.Seed, c.Seed^0x9e3779b97f4a7c15))
	players := make([]player, c.Players)
	for i := range players {
		players[i] = player{id: randomUUID(rng), session: randomUUID(rng)}
	}
	for _, kind := range g.kinds {
		ts := make([]template, c.Templates)
		for i := range ts {
			ts[i] = g.buildTemplate(rng, kind, &players[rng.IntN(len(players))])
		}
		g.templates[kind] = ts
	}
	return g, nil
}

// Stream is one goroutine's view of a Generator: its own random source
// and formatting cache. Make one per goroutine with NewStream.
type Stream struct {
	g   *Generator
	rng *rand.Rand
	// sec and prefix cache the formatted date and time of one second.
	sec    int64
	prefix [20]byte
	// Kinds counts the events of each kind appended so far.
	Kinds map[telemetry.Kind]int64
}

// NewStream returns a Stream whose random choices follow seed.
func (g *Generator) NewStream(seed uint64) *Stream {
	return &Stream{g: g, rng: rand.New(rand.NewPCG(seed, seed^0xda942042e4dd58b5)), sec: -1, Kinds: map[telemetry.Kind]int64{}}
}

// AppendBody appends a request body of n events to dst: one event map when
// n is 1 and single is true, otherwise an array of n maps.
func (s *Stream) AppendBody(dst []byte, n int, single bool) []byte {
	if !(n == 1 && single) {
		dst = mpArray(dst, n)
	}
	base := s.g.reserve(n)
	for i := range n {
		kind := s.g.kinds[0]
		if len(s.g.kinds) > 1 {
			r := s.rng.Float64()
			for j, c := range s.g.cum {
				if r < c {
					kind = s.g.kinds[j]
					break
				}
			}
		}
		s.Kinds[kind]++
		ts := s.g.templates[kind]
		t := &ts[s.rng.IntN(len(ts))]
		off := len(dst)
		dst = append(dst, t.b...)
		at := base + int64(i)
		s.formatTS(dst[off+t.ts:off+t.ts+tsWidth], at)
		if t.end != 0 {
			s.formatTS(dst[off+t.end:off+t.end+tsWidth], at+int64(t.span))
		}
	}
	return dst
}

// reserve hands out n consecutive nanosecond timestamps, the first no
// earlier than now and later than any handed out before.
func (g *Generator) reserve(n int) int64 {
	now := g.cfg.Now().UnixNano()
	for {
		last := g.lastNS.Load()
		start := max(now, last+1)
		if g.lastNS.CompareAndSwap(last, start+int64(n)-1) {
			return start
		}
	}
}

// formatTS writes the Unix nanosecond time ns into dst (tsWidth bytes) in
// tsLayout.
func (s *Stream) formatTS(dst []byte, ns int64) {
	sec, frac := ns/1e9, ns%1e9
	if sec != s.sec {
		t := time.Unix(sec, 0).UTC()
		copy(s.prefix[:], t.AppendFormat(s.prefix[:0], "2006-01-02T15:04:05."))
		s.sec = sec
	}
	copy(dst, s.prefix[:])
	for i := 28; i >= 20; i-- {
		dst[i] = byte('0' + frac%10)
		frac /= 10
	}
	dst[29] = 'Z'
}

// player is one simulated player.
type player struct {
	id, session string
}

// Values the templates draw from.
var (
	regions       = []string{"EU-West", "EU-North", "US-East", "US-West", "SA-East", "AP-Southeast", "AP-Northeast"}
	gpus          = []string{"RTX 4090", "RTX 4070", "RTX 3060", "RX 7900 XTX", "RX 6700 XT", "Arc A770", "Steam Deck APU"}
	cpus          = []string{"Ryzen 7 7800X3D", "Core i7-13700K", "Core i5-12400F", "Ryzen 5 5600X"}
	rams          = []string{"8GB", "16GB", "32GB", "64GB"}
	oses          = []string{"Windows 11", "Windows 10", "SteamOS 3.5", "Ubuntu 24.04"}
	funnelSteps   = []string{"Tutorial_Start", "Tutorial_Move", "Tutorial_Jump", "Tutorial_Combat", "Tutorial_End", "First_Match", "Shop_Open", "First_Purchase"}
	levels        = []string{"Training_Grounds", "Level_1", "Level_2", "Level_3", "Frozen_Peaks", "Sunken_City", "Boss_Arena"}
	gameplayNames = []string{"Player_Jump", "Enemy_Killed", "Item_Pickup", "Player_Death", "Ability_Used", "Checkpoint_Reached", "Chest_Opened"}
	inputMethods  = []string{"Gamepad", "Keyboard", "Touch"}
	statuses      = []string{"Gameplay", "Menu", "Cutscene", "Loading"}
	weapons       = []string{"Sword", "Bow", "Staff", "Axe", "Dagger", "Crossbow"}
	// customKeys are the keys custom_data draws from, each with its kind
	// of value.
	customKeys = []struct {
		name string
		val  func(b []byte, rng *rand.Rand) []byte
	}{
		{"weapon", func(b []byte, rng *rand.Rand) []byte { return mpStr(b, pick(rng, weapons)) }},
		{"ammo", func(b []byte, rng *rand.Rand) []byte { return mpInt(b, rng.IntN(120)) }},
		{"damage", func(b []byte, rng *rand.Rand) []byte { return mpFloat64(b, float64(rng.IntN(10000))/100) }},
		{"crit", func(b []byte, rng *rand.Rand) []byte { return mpBool(b, rng.IntN(5) == 0) }},
		{"combo", func(b []byte, rng *rand.Rand) []byte { return mpInt(b, rng.IntN(30)) }},
		{"target", func(b []byte, rng *rand.Rand) []byte { return mpStr(b, fmt.Sprintf("npc_%04d", rng.IntN(5000))) }},
		{"xp", func(b []byte, rng *rand.Rand) []byte { return mpInt(b, rng.IntN(100000)) }},
		{"zone", func(b []byte, rng *rand.Rand) []byte { return mpStr(b, pick(rng, levels)+"/"+pick(rng, regions)) }},
	}
)

func pick(rng *rand.Rand, from []string) string { return from[rng.IntN(len(from))] }

// entries writes the key/value pairs of one map and counts them.
type entries struct {
	b []byte
	n int
}

func (e *entries) str(key, val string) {
	e.b = mpStr(mpStr(e.b, key), val)
	e.n++
}

// placeholder writes key with a tsWidth string value to be patched later,
// and returns the value's offset within e.b.
func (e *entries) placeholder(key string) int {
	e.b = mpStr(e.b, key)
	e.b = append(e.b, 0xa0|byte(tsWidth))
	off := len(e.b)
	e.b = append(e.b, tsLayout...)
	e.n++
	return off
}

// buildTemplate makes one event of kind for player p.
func (g *Generator) buildTemplate(rng *rand.Rand, kind telemetry.Kind, p *player) template {
	var t template
	e := &entries{}
	e.str("app_id", g.cfg.AppID)
	e.str("build_id", g.cfg.BuildID)
	e.str("player_id", p.id)
	switch kind {
	case telemetry.KindPlayer:
		e.str("event_name", "Create_Player")
		e.str("region", pick(rng, regions))
		e.b = mpMap(mpStr(e.b, "hardware"), 4)
		e.b = mpStr(mpStr(e.b, "gpu"), pick(rng, gpus))
		e.b = mpStr(mpStr(e.b, "cpu"), pick(rng, cpus))
		e.b = mpStr(mpStr(e.b, "ram"), pick(rng, rams))
		e.b = mpStr(mpStr(e.b, "os"), pick(rng, oses))
		e.n++
		t.ts = e.placeholder("timestamp")
	case telemetry.KindFunnel:
		e.str("funnel_step_name", pick(rng, funnelSteps))
		e.str("session_id", p.session)
		e.str("level_id", pick(rng, levels))
		t.ts = e.placeholder("timestamp")
	case telemetry.KindGameplay:
		e.str("event_name", pick(rng, gameplayNames))
		e.str("session_id", p.session)
		e.str("level_id", pick(rng, levels))
		e.b = mpArray(mpStr(e.b, "position"), 3)
		for range 3 {
			e.b = mpFloat32(e.b, float32(rng.IntN(200000)-100000)/100)
		}
		e.n++
		keys := g.cfg.MinCustomKeys + rng.IntN(g.cfg.MaxCustomKeys-g.cfg.MinCustomKeys+1)
		if keys > 0 {
			e.b = mpMap(mpStr(e.b, "custom_data"), keys)
			for _, i := range rng.Perm(len(customKeys))[:keys] {
				e.b = customKeys[i].val(mpStr(e.b, customKeys[i].name), rng)
			}
			e.n++
		}
		e.str("input_method", pick(rng, inputMethods))
		t.ts = e.placeholder("timestamp")
	case telemetry.KindRealtime:
		e.str("session_id", p.session)
		e.str("status", pick(rng, statuses))
		e.str("input_method", pick(rng, inputMethods))
		mean := 30 + rng.Float64()*114
		e.b = mpMap(mpStr(e.b, "fps"), 3)
		e.b = mpFloat32(mpStr(e.b, "mean"), float32(mean))
		e.b = mpFloat32(mpStr(e.b, "low_5"), float32(mean*0.8))
		e.b = mpFloat32(mpStr(e.b, "low_1"), float32(mean*0.6))
		e.n++
		points := g.cfg.MinPoints + rng.IntN(g.cfg.MaxPoints-g.cfg.MinPoints+1)
		e.b = mpArray(mpStr(e.b, "positions"), 3*points)
		x, y, z := rng.Float64()*1000, rng.Float64()*50, rng.Float64()*1000
		for range points {
			x += rng.Float64() - 0.5
			y += (rng.Float64() - 0.5) / 10
			z += rng.Float64() - 0.5
			e.b = mpFloat32(mpFloat32(mpFloat32(e.b, float32(x)), float32(y)), float32(z))
		}
		e.n++
		t.ts = e.placeholder("timestamp_start")
		t.end = e.placeholder("timestamp_end")
		// A trajectory is sampled for a few seconds (points at 10-60 Hz).
		t.span = time.Duration(points) * time.Second / time.Duration(10+rng.IntN(51))
	}
	head := mpMap(nil, e.n)
	t.b = append(head, e.b...)
	t.ts += len(head)
	if t.end != 0 {
		t.end += len(head)
	}
	return t
}

// randomUUID returns a random version 4 UUID in canonical form.
func randomUUID(rng *rand.Rand) string {
	var u [16]byte
	for i := 0; i < 16; i += 8 {
		v := rng.Uint64()
		for j := range 8 {
			u[i+j] = byte(v >> (8 * j))
		}
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	const hex = "0123456789abcdef"
	var s [36]byte
	j := 0
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			s[j] = '-'
			j++
		}
		s[j], s[j+1] = hex[c>>4], hex[c&0xf]
		j += 2
	}
	return string(s[:])
}
