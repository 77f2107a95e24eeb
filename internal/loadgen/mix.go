package loadgen

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gamepipe/gamepipe/internal/telemetry"
)

// Mix is the share of each event kind in generated traffic. Shares are
// relative weights: {Gameplay: 3, Realtime: 1} is 75% gameplay events and
// 25% trajectories. Kinds missing from the map are never generated.
type Mix map[telemetry.Kind]float64

// DefaultMix is what a live game sends most of: gameplay events, then
// trajectories (the largest events by far), funnel steps, a few new
// players.
var DefaultMix = Mix{telemetry.KindPlayer: 5, telemetry.KindFunnel: 15, telemetry.KindGameplay: 60, telemetry.KindRealtime: 20}

// ParseMix reads a mix written as kind=weight pairs separated by commas,
// such as "gameplay=60,realtime=20,funnel=15,player=5". A kind may appear
// once; weights are non-negative numbers and at least one is positive.
func ParseMix(s string) (Mix, error) {
	m := Mix{}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, weight, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("mix: %q is not kind=weight", part)
		}
		kind := telemetry.Kind(strings.ToLower(strings.TrimSpace(name)))
		if !kind.Valid() {
			return nil, fmt.Errorf("mix: unknown kind %q (use player, funnel, gameplay, realtime)", name)
		}
		if _, dup := m[kind]; dup {
			return nil, fmt.Errorf("mix: %s appears twice", kind)
		}
		w, err := strconv.ParseFloat(strings.TrimSpace(weight), 64)
		if err != nil || w < 0 || w != w || w > 1e9 {
			return nil, fmt.Errorf("mix: weight %q of %s is not a non-negative number", weight, kind)
		}
		m[kind] = w
	}
	return m, m.validate()
}

func (m Mix) validate() error {
	total := 0.0
	for kind, w := range m {
		if !kind.Valid() {
			return fmt.Errorf("mix: unknown kind %q", kind)
		}
		if w < 0 {
			return fmt.Errorf("mix: negative weight for %s", kind)
		}
		total += w
	}
	if total <= 0 {
		return fmt.Errorf("mix: no kind has a positive weight")
	}
	return nil
}

// String writes the mix as ParseMix reads it, kinds in telemetry.Kinds
// order.
func (m Mix) String() string {
	var parts []string
	for _, kind := range telemetry.Kinds {
		if w, ok := m[kind]; ok {
			parts = append(parts, string(kind)+"="+strconv.FormatFloat(w, 'g', -1, 64))
		}
	}
	return strings.Join(parts, ",")
}

// cumulative returns the kinds with a positive weight and their cumulative
// shares (the last is 1), for drawing a kind with one random number.
func (m Mix) cumulative() ([]telemetry.Kind, []float64) {
	total := 0.0
	for _, w := range m {
		total += w
	}
	var kinds []telemetry.Kind
	var cum []float64
	acc := 0.0
	for _, kind := range telemetry.Kinds {
		if w := m[kind]; w > 0 {
			acc += w / total
			kinds = append(kinds, kind)
			cum = append(cum, acc)
		}
	}
	cum[len(cum)-1] = 1
	return kinds, cum
}
