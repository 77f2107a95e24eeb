package dashboard

import (
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// filterNames are the page filters every view accepts where they apply
// (docs/dashboard.md, "Filters"), in the order they bind.
var filterNames = []string{"build_id", "region", "input_method", "level_id"}

// filters are a view's page filters: exact matches on a row's build, its
// player's region, its input method and its level. A nil field is no
// filter.
type filters struct {
	BuildID, Region, InputMethod, LevelID *string

	// ph holds each set filter's placeholder ($n) once bound.
	ph map[string]string
}

// parseFilters reads the page filters. Values are at most 256 bytes of
// printable UTF-8; any other value is a 400 naming the parameter.
// notApplicable lists filters the view cannot apply: naming one is a 400.
func parseFilters(q url.Values, notApplicable ...string) (filters, error) {
	var f filters
	for _, name := range filterNames {
		v, ok := q[name]
		if !ok || len(v) == 0 || v[0] == "" {
			continue
		}
		for _, na := range notApplicable {
			if na == name {
				return f, badParam(name, "does not apply to this view")
			}
		}
		if len(v) > 1 {
			return f, badParam(name, "is given more than once")
		}
		s := v[0]
		switch {
		case len(s) > maxFilterBytes:
			return f, badParam(name, "longer than "+strconv.Itoa(maxFilterBytes)+" bytes")
		case !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0:
			return f, badParam(name, "must be printable UTF-8 text")
		}
		*f.field(name) = &s
	}
	return f, nil
}

func (f *filters) field(name string) **string {
	switch name {
	case "build_id":
		return &f.BuildID
	case "region":
		return &f.Region
	case "input_method":
		return &f.InputMethod
	default:
		return &f.LevelID
	}
}

// set reports whether any filter is set.
func (f *filters) set() bool {
	return f.BuildID != nil || f.Region != nil || f.InputMethod != nil || f.LevelID != nil
}

// only reports whether no filter but those named is set.
func (f *filters) only(names ...string) bool {
	for _, n := range filterNames {
		if *f.field(n) == nil {
			continue
		}
		found := false
		for _, m := range names {
			found = found || m == n
		}
		if !found {
			return false
		}
	}
	return true
}

// bind appends each set filter's value to args and remembers its
// placeholder, so that where can name it in several parts of one query.
func (f *filters) bind(args *[]any) {
	f.ph = map[string]string{}
	for _, n := range filterNames {
		if v := *f.field(n); v != nil {
			*args = append(*args, *v)
			f.ph[n] = "$" + strconv.Itoa(len(*args))
		}
	}
}

// Where a filter's dimension comes from, per table (docs/dashboard.md,
// "Filters"): build is the row's build_id; region is the player's region in
// players (the latest known); input method and level are the row's own
// columns, a funnel step's input method and a trajectory's level (when the
// client sent none) attributed through their session by the rollup job
// (levels.go). A row without a value never matches, so player events match
// no input method or level filter.

// dimension is the SQL expression of a filter's dimension for a row of
// table under alias; empty when the table never has one.
func dimension(name, table, alias string) string {
	switch name {
	case "build_id":
		return alias + ".build_id"
	case "region":
		return `(SELECT pr.region FROM players pr WHERE pr.app_id = ` + alias + `.app_id AND pr.player_id = ` + alias + `.player_id)`
	case "input_method":
		if table != "player_events" {
			return alias + ".input_method"
		}
	case "level_id":
		if table != "player_events" {
			return alias + ".level_id"
		}
	}
	return ""
}

// where is the filters' condition on a row of table under alias, starting
// with " AND"; empty with no filters. bind must have run.
func (f *filters) where(table, alias string) string {
	var b strings.Builder
	for _, n := range filterNames {
		ph, ok := f.ph[n]
		if !ok {
			continue
		}
		d := dimension(n, table, alias)
		if d == "" {
			// Never true, and still names the placeholder, which
			// Postgres wants of every parameter sent.
			d = "NULL::text"
		}
		b.WriteString(" AND " + d + " = " + ph)
	}
	return b.String()
}
