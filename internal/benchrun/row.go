package benchrun

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Row is one line of the results table, and one object of
// bench/out/latest.json. Ours, Raw, Ratio and Target are null where a row
// has none (a pending row has no numbers at all).
type Row struct {
	// Scenario names the row, as in bench/README.md's table; a row measured
	// at each fsync setting ends with it (syncName).
	Scenario string `json:"scenario"`
	// Ours is gamepipe's figure, in Unit.
	Ours *float64 `json:"ours"`
	// Raw is the raw ceiling measured in the same run, in Unit.
	Raw *float64 `json:"raw"`
	// Ratio is Ours/Raw, for rows where more is better and a raw ceiling
	// was measured.
	Ratio *float64 `json:"ratio"`
	// Target is the figure to hold: a ratio when TargetOf is "ratio", else
	// a value in Unit.
	Target *float64 `json:"target"`
	// Unit is Ours' and Raw's unit: "events/s", "ms", "MB", ...
	Unit string `json:"unit"`
	// Sync is natsd's fsync setting when the row was measured: "always",
	// or an interval such as "2m" (BENCH_SYNC).
	Sync string `json:"sync,omitempty"`
	// TargetOf says what Target applies to: "ratio" or "ours".
	TargetOf string `json:"target_of,omitempty"`
	// Cmp is how the figure must compare with Target: ">=" or "<".
	Cmp string `json:"cmp,omitempty"`
	// Met is whether the target was met; null without a target or figure.
	Met *bool `json:"met"`
	// Pending says what the row waits for, such as "needs issue 4".
	Pending string `json:"pending,omitempty"`
	// Note qualifies the figures: how they were measured, what limited them.
	Note string `json:"note,omitempty"`
}

// num returns a pointer to v, or nil for NaN and infinities (JSON has no
// such numbers).
func num(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// ratioRow is a row whose target is a minimum ratio of ours to raw.
func ratioRow(scenario, unit string, ours, raw, minRatio float64) Row {
	r := figureRow(scenario, unit, ours, raw)
	r.hold("ratio", ">=", minRatio)
	return r
}

// figureRow is a row with ours, raw and their ratio, and no target.
func figureRow(scenario, unit string, ours, raw float64) Row {
	r := Row{Scenario: scenario, Unit: unit, Ours: num(ours), Raw: num(raw)}
	if raw > 0 {
		r.Ratio = num(ours / raw)
	}
	return r
}

// hold gives the row a target: the figure targetOf ("ratio" or "ours")
// compared with target by cmp (">=" or "<").
func (r *Row) hold(targetOf, cmp string, target float64) {
	r.Target, r.TargetOf, r.Cmp = num(target), targetOf, cmp
	r.judge()
}

// limitRow is a row whose own figure must stay below max; raw may be NaN
// for none.
func limitRow(scenario, unit string, ours, raw, limit float64) Row {
	r := Row{Scenario: scenario, Unit: unit, Ours: num(ours), Raw: num(raw), Target: num(limit), TargetOf: "ours", Cmp: "<"}
	r.judge()
	return r
}

// pendingRow is a row that cannot be measured yet.
func pendingRow(scenario, unit, pending string, target float64, targetOf, cmp string) Row {
	r := Row{Scenario: scenario, Unit: unit, Pending: pending, Target: num(target), TargetOf: targetOf, Cmp: cmp}
	if targetOf == "" {
		r.Target = nil
	}
	return r
}

// judge sets Met from the figure Target applies to.
func (r *Row) judge() {
	r.Met = nil
	v := r.Ours
	if r.TargetOf == "ratio" {
		v = r.Ratio
	}
	if v == nil || r.Target == nil {
		return
	}
	var met bool
	switch r.Cmp {
	case ">=":
		met = *v >= *r.Target
	case "<":
		met = *v < *r.Target
	default:
		return
	}
	r.Met = &met
}

// cells formats the row for the table: scenario, gamepipe, raw, ratio,
// target.
func (r *Row) cells() [5]string {
	c := [5]string{r.Scenario, "—", "—", "—", "—"}
	if r.Pending != "" {
		c[1] = "pending: " + r.Pending
	} else if r.Ours != nil {
		c[1] = formatValue(*r.Ours, r.Unit)
	} else {
		c[1] = "failed"
	}
	if r.Raw != nil {
		c[2] = formatValue(*r.Raw, r.Unit)
	}
	if r.Ratio != nil {
		c[3] = strconv.FormatFloat(*r.Ratio, 'f', 2, 64)
	}
	if r.Target != nil {
		t := formatNumber(*r.Target)
		if r.TargetOf == "ours" {
			t = formatValue(*r.Target, r.Unit)
		}
		cmp := map[string]string{">=": "≥ ", "<": "< "}[r.Cmp]
		c[4] = cmp + t
		if r.Met != nil {
			c[4] += map[bool]string{true: " (met)", false: " (missed)"}[*r.Met]
		}
	}
	return c
}

// formatValue writes v with its unit, with a precision that suits it.
func formatValue(v float64, unit string) string {
	return formatNumber(v) + " " + unit
}

func formatNumber(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1000:
		return groupThousands(strconv.FormatFloat(math.Round(v), 'f', 0, 64))
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 2, 64)
}

func groupThousands(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// String is the row as one line, for logs.
func (r Row) String() string {
	c := r.cells()
	return fmt.Sprintf("%s: %s | raw %s | ratio %s | target %s", c[0], c[1], c[2], c[3], c[4])
}
