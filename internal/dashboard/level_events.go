package dashboard

import (
	"cmp"
	"context"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// maxLevelEvents caps the event names of a level's events answer.
const maxLevelEvents = 200

// levelEventsView is GET /dashboard/api/levels/{ref}/events
// (docs/dashboard.md, "Levels"): the gameplay event names with a position
// on the level, the most frequent first.
type levelEventsView struct {
	LevelID *string           `json:"level_id"`
	Ref     string            `json:"ref"`
	Events  []levelEventCount `json:"events"`
	// Truncated says more than maxLevelEvents names matched.
	Truncated bool `json:"truncated"`
	timeRange
}

// levelEventCount is one event name and how many of its events on the
// level have a position.
type levelEventCount struct {
	Name             string `json:"name"`
	PositionedEvents int64  `json:"positioned_events"`
}

func (h *Handler) viewLevelEvents(ctx context.Context, app uuid.UUID, level levelKey, q url.Values) (any, error) {
	rg, err := h.parseRange(q)
	if err != nil {
		return nil, err
	}
	f, err := parseFilters(q, "level_id")
	if err != nil {
		return nil, err
	}
	counts := map[string]int64{}
	add := func(name string, n int64) { counts[name] += n }
	err = h.readTx(ctx, func(tx pgx.Tx) error {
		// The whole days rolled up with their slices, then the rest raw.
		covered, rest, err := rollupPlanWhere(ctx, tx, app, rg, levelSlicesDone)
		if err != nil {
			return err
		}
		if len(covered) > 0 {
			if err := storedLevelEventCounts(ctx, tx, app, level, &f, covered, add); err != nil {
				return err
			}
		}
		if len(rest) > 0 {
			return rawLevelEventCounts(ctx, tx, app, rg, level, f, rest, add)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return newLevelEventsView(level, rg, counts), nil
}

// storedLevelEventCounts calls add with the positioned events of each
// event name on the level on the covered days, from the gameplay slices
// that pass f: a slice's events are the sum of its cells' counts, every
// positioned event being in one cell.
func storedLevelEventCounts(ctx context.Context, tx pgx.Tx, app uuid.UUID, level levelKey, f *filters, covered []time.Time, add func(name string, n int64)) error {
	args := []any{app, covered}
	cond := level.cond("c", &args)
	rows, err := tx.Query(ctx, `SELECT c.event_names, c.build_ids, c.regions, c.input_methods, c.slice, c.counts
		FROM dashboard_level_slice_cells c
		WHERE c.app_id = $1 AND c.kind = 'gameplay' AND c.day = ANY($2::date[])`+cond, args...)
	if err != nil {
		return err
	}
	match := sliceMatch(f, nil)
	var (
		dict           [sliceDims][]*string
		bslice, bcount pgtype.UndecodedBytes
		wanted         []bool
		sums           []int64
	)
	_, err = pgx.ForEachRow(rows, []any{&dict[sliceName], &dict[sliceBuild], &dict[sliceRegion], &dict[sliceInput],
		&bslice, &bcount}, func() error {
		var some bool
		if wanted, some, err = wantedSlices(wanted, &dict, match); err != nil || !some {
			return err
		}
		ss, err := int4Array(bslice)
		if err != nil {
			return err
		}
		cs, err := int8Array(bcount)
		if err != nil {
			return err
		}
		if len(ss) != len(cs) {
			return errArray
		}
		// sums[s] is slice s's events.
		sums = append(sums[:0], make([]int64, len(wanted))...)
		for x, s := range ss {
			if s >= 1 && int(s) < len(wanted) && wanted[s] {
				sums[s] += cs[x]
			}
		}
		for s := 1; s < len(wanted); s++ {
			if name := dict[sliceName][s-1]; sums[s] > 0 && name != nil {
				add(*name, sums[s])
			}
		}
		return nil
	})
	return err
}

// rawLevelEventCounts calls add with the positioned events of each event
// name on the level in rest, under f, from the raw rows.
func rawLevelEventCounts(ctx context.Context, tx pgx.Tx, app uuid.UUID, rg timeRange, level levelKey, f filters, rest []timeRange, add func(name string, n int64)) error {
	args := []any{app, rg.From, rg.To}
	cond := level.cond("g", &args) + " AND " + restWhere(`g."timestamp"`, rest, &args)
	f.bind(&args)
	rows, err := tx.Query(ctx, `SELECT g.event_name, count(*) FROM gameplay_events g
		WHERE g.app_id = $1 AND g."timestamp" >= $2 AND g."timestamp" < $3 AND `+positioned+cond+f.where("gameplay_events", "g")+`
		GROUP BY 1`, args...)
	if err != nil {
		return err
	}
	var (
		name string
		n    int64
	)
	_, err = pgx.ForEachRow(rows, []any{&name, &n}, func() error {
		add(name, n)
		return nil
	})
	return err
}

// newLevelEventsView orders the names by count, the most first (then by
// name, as bytes), and keeps the first maxLevelEvents.
func newLevelEventsView(level levelKey, rg timeRange, counts map[string]int64) *levelEventsView {
	out := &levelEventsView{LevelID: level.id(), Ref: level.ref(), Events: []levelEventCount{}, timeRange: rg}
	for name, n := range counts {
		out.Events = append(out.Events, levelEventCount{Name: name, PositionedEvents: n})
	}
	slices.SortFunc(out.Events, func(a, b levelEventCount) int {
		return cmp.Or(cmp.Compare(b.PositionedEvents, a.PositionedEvents), strings.Compare(a.Name, b.Name))
	})
	if len(out.Events) > maxLevelEvents {
		out.Events, out.Truncated = out.Events[:maxLevelEvents], true
	}
	return out
}
