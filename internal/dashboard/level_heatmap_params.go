package dashboard

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

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

// tooManyCells is the 400 of a cell too small for the answer to fit: more
// than maxHeatCells cells, or cell indexes past ±2^cellIndexBits.
func tooManyCells(k int) *apiError {
	c := math.Ldexp(1, k)
	return &apiError{Status: http.StatusBadRequest, Code: "too_many_cells", Field: "cell", MinCell: &c,
		Message: fmt.Sprintf("cell: too small for this heatmap (more than %d cells, or cell indexes past ±2^%d); the smallest cell allowed is %s",
			maxHeatCells, cellIndexBits, fmtCell(k))}
}
