package dashboard

import (
	"context"
	"net/url"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gamepipe/gamepipe/internal/store"
)

// maxJobFailures bounds the failures the jobs view lists.
const maxJobFailures = 50

// jobKinds are the job tables by kind, each with its statuses
// (docs/jobs.md, "Statuses").
var jobKinds = []struct {
	name, table string
	statuses    []store.JobStatus
}{
	{"emote", "emotes", store.EmoteStatuses},
	{"generation", "generations", store.GenerationStatuses},
}

// jobsView is GET /dashboard/api/jobs (docs/dashboard.md, "Jobs"): the
// app's emotes and generations created in the range, by their status now.
type jobsView struct {
	timeRange
	// Kinds are the kinds counted: both, or the one asked for.
	Kinds []string `json:"kinds"`
	// Statuses are each kind's statuses in the order of docs/jobs.md.
	Statuses map[string][]string `json:"statuses"`
	// Totals counts jobs per kind and status over the range; every status
	// of the kind is present.
	Totals map[string]map[string]int64 `json:"totals"`
	// Days are Totals per UTC day of created_at, every day of the range.
	Days []jobsDay `json:"days"`
	// Durations are finished_at - created_at of succeeded jobs, per kind.
	Durations map[string]jobDurations `json:"durations"`
	// Failures are the latest failed and timed-out jobs, the latest
	// finished first (at most 50).
	Failures []jobFailure `json:"failures"`
}

type jobsDay struct {
	Day    day                         `json:"day"`
	Counts map[string]map[string]int64 `json:"counts"`
}

type jobDurations struct {
	Succeeded int64 `json:"succeeded"`
	// P50Seconds and P90Seconds are continuous percentiles (as Postgres's
	// percentile_cont); null without a succeeded job.
	P50Seconds *float64 `json:"p50_seconds"`
	P90Seconds *float64 `json:"p90_seconds"`
}

type jobFailure struct {
	Kind         string     `json:"kind"`
	ID           uuid.UUID  `json:"id"`
	Status       string     `json:"status"`
	ErrorCode    *string    `json:"error_code"`
	ErrorMessage *string    `json:"error_message"`
	CreatedAt    time.Time  `json:"created_at"`
	FinishedAt   *time.Time `json:"finished_at"`
}

// zeroCounts is a kind-to-status map with every status at zero.
func zeroCounts(kinds []string) map[string]map[string]int64 {
	out := map[string]map[string]int64{}
	for _, k := range jobKinds {
		for _, want := range kinds {
			if k.name != want {
				continue
			}
			m := map[string]int64{}
			for _, s := range k.statuses {
				m[string(s)] = 0
			}
			out[k.name] = m
		}
	}
	return out
}

// jobsSQL selects, for each kind asked for, the kind's rows of the app
// created in [$2, $3) as (kind, id, status, error_code, error_message,
// created_at, finished_at).
func jobsSQL(kinds []string) string {
	sql := ""
	for _, k := range jobKinds {
		for _, want := range kinds {
			if k.name != want {
				continue
			}
			if sql != "" {
				sql += "\n\t\tUNION ALL "
			}
			sql += `SELECT '` + k.name + `' AS kind, id, status, NULLIF(error_code, '') AS error_code,
				NULLIF(error_message, '') AS error_message, created_at, finished_at
			FROM ` + k.table + ` WHERE app_id = $1 AND created_at >= $2 AND created_at < $3`
		}
	}
	return sql
}

func (h *Handler) viewJobs(ctx context.Context, app uuid.UUID, q url.Values) (any, error) {
	rg, err := h.parseRange(q)
	if err != nil {
		return nil, err
	}
	kind, err := parseChoice(q, "kind", "", "emote", "generation")
	if err != nil {
		return nil, err
	}
	// Jobs have no build, region, input method or level.
	if _, err := parseFilters(q, filterNames...); err != nil {
		return nil, err
	}
	kinds := []string{"emote", "generation"}
	if kind != "" {
		kinds = []string{kind}
	}
	out := &jobsView{timeRange: rg, Kinds: kinds, Totals: zeroCounts(kinds),
		Durations: map[string]jobDurations{}, Failures: []jobFailure{}}
	index := map[int64]int{}
	for i, d := range rg.days() {
		index[d.Unix()] = i
		out.Days = append(out.Days, jobsDay{Day: day(d), Counts: zeroCounts(kinds)})
	}
	out.Statuses = map[string][]string{}
	for _, k := range jobKinds {
		if _, ok := out.Totals[k.name]; !ok {
			continue
		}
		out.Durations[k.name] = jobDurations{}
		for _, s := range k.statuses {
			out.Statuses[k.name] = append(out.Statuses[k.name], string(s))
		}
	}
	jobs := jobsSQL(kinds)
	err = h.readTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT kind, (created_at AT TIME ZONE 'UTC')::date, status, count(*)
			FROM (`+jobs+`) j GROUP BY 1, 2, 3`, app, rg.From, rg.To)
		if err != nil {
			return err
		}
		var (
			k, status string
			d         time.Time
			n         int64
		)
		_, err = pgx.ForEachRow(rows, []any{&k, &d, &status, &n}, func() error {
			// A status outside the vocabulary (the tables' checks forbid
			// it) still counts.
			out.Totals[k][status] += n
			if i, ok := index[time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC).Unix()]; ok {
				out.Days[i].Counts[k][status] += n
			}
			return nil
		})
		if err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT kind, count(*),
				percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - created_at)),
				percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - created_at))
			FROM (`+jobs+`) j WHERE status = 'succeeded' AND finished_at IS NOT NULL GROUP BY 1`, app, rg.From, rg.To)
		if err != nil {
			return err
		}
		var dur jobDurations
		_, err = pgx.ForEachRow(rows, []any{&k, &dur.Succeeded, &dur.P50Seconds, &dur.P90Seconds}, func() error {
			out.Durations[k] = dur
			return nil
		})
		if err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT kind, id, status, error_code, error_message, created_at, finished_at
			FROM (`+jobs+`) j WHERE status IN ('failed', 'timed_out')
			ORDER BY coalesce(finished_at, created_at) DESC, id DESC LIMIT $4`, app, rg.From, rg.To, maxJobFailures)
		if err != nil {
			return err
		}
		out.Failures, err = pgx.CollectRows(rows, pgx.RowToStructByPos[jobFailure])
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
