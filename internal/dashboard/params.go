package dashboard

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// timeRange is a view's [From, To) range.
type timeRange struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// parseRange reads from and to (RFC 3339). A missing to is now; a missing
// from is seven days before to. The range must be non-empty and at most
// maxRange long.
func (h *Handler) parseRange(q url.Values) (timeRange, error) {
	var rg timeRange
	var err error
	if rg.To, err = parseTime(q, "to", h.cfg.Now()); err != nil {
		return rg, err
	}
	if rg.From, err = parseTime(q, "from", rg.To.Add(-defaultRange)); err != nil {
		return rg, err
	}
	switch {
	case !rg.From.Before(rg.To):
		return rg, badParam("from", "must be before to")
	case rg.To.Sub(rg.From) > maxRange:
		return rg, badParam("from", "the range from..to is longer than 400 days")
	}
	return rg, nil
}

func parseTime(q url.Values, name string, def time.Time) (time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return def.UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, badParam(name, "must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
	}
	return t.UTC(), nil
}

// parseDuration reads a duration: Go's form (90s, 30m, 1h30m) or whole
// days (7d), between lo and hi.
func parseDuration(q url.Values, name string, def, lo, hi time.Duration) (time.Duration, error) {
	v := strings.TrimSpace(q.Get(name))
	if v == "" {
		return def, nil
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, badParam(name, "must be a duration such as 30m, 1h or 7d")
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, badParam(name, "must be a duration such as 30m, 1h or 7d")
		}
	}
	if d < lo || d > hi {
		return 0, badParam(name, "must be between "+lo.String()+" and "+hi.String())
	}
	return d, nil
}

// parseChoice reads a parameter that takes one of a few values.
func parseChoice(q url.Values, name, def string, allowed ...string) (string, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	for _, a := range allowed {
		if v == a {
			return v, nil
		}
	}
	return "", badParam(name, "must be one of "+strings.Join(allowed, ", "))
}

// queryWorkMem is the work_mem of a dashboard query.
const queryWorkMem = "64MB"

// readTx runs fn in a read-only transaction on the read pool under the
// statement timeout.
func (h *Handler) readTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return h.readTxOpts(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly}, fn)
}

// snapshotTx is readTx in one snapshot (repeatable read), for a view whose
// later queries rely on what its earlier ones saw.
func (h *Handler) snapshotTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return h.readTxOpts(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead}, fn)
}

func (h *Handler) readTxOpts(ctx context.Context, opts pgx.TxOptions, fn func(tx pgx.Tx) error) error {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.QueryTimeout+2*time.Second)
	defer cancel()
	return pgx.BeginTxFunc(ctx, h.read, opts, func(tx pgx.Tx) error {
		// The views sort and hash many rows: give them room to do it in
		// memory (Postgres's default is 4MB per sort), and skip JIT, whose
		// compile time costs more than it saves on queries of a second.
		// pgx prepares each statement once per connection; from the sixth
		// run Postgres may plan it for any parameters, which for a range
		// means for all the partitions and a blind join: plan each run
		// for its own range instead.
		ms := strconv.FormatInt(h.cfg.QueryTimeout.Milliseconds(), 10)
		if _, err := tx.Exec(ctx, `SELECT set_config('statement_timeout', $1, true), set_config('work_mem', $2, true),
			set_config('jit', 'off', true), set_config('plan_cache_mode', 'force_custom_plan', true)`,
			ms, queryWorkMem); err != nil {
			return err
		}
		return fn(tx)
	})
}

// day is a UTC calendar day, encoded as 2026-01-02.
type day time.Time

func (d day) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(d).UTC().Format(time.DateOnly) + `"`), nil
}

func (d *day) UnmarshalJSON(b []byte) error {
	t, err := time.Parse(`"`+time.DateOnly+`"`, string(b))
	*d = day(t)
	return err
}

// days lists the UTC days that rg touches.
func (rg timeRange) days() []time.Time {
	var out []time.Time
	for d := rg.From.Truncate(24 * time.Hour); d.Before(rg.To); d = d.Add(24 * time.Hour) {
		out = append(out, d)
	}
	return out
}

// ratio is num/den, nil when den is zero.
func ratio(num, den int64) *float64 {
	if den == 0 {
		return nil
	}
	r := float64(num) / float64(den)
	return &r
}
