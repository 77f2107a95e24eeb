package dashboard

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// addJob writes an emote or generation row as the job steps leave it.
// finished is "" for a job not in an end state; after is finished_at -
// created_at.
func addJob(t *testing.T, db *pgxpool.Pool, kind, app, status, created string, after time.Duration, code, msg string) uuid.UUID {
	t.Helper()
	id := uuid.Must(uuid.NewV7())
	var finished *time.Time
	if after > 0 {
		f := ts(created).Add(after)
		finished = &f
	}
	var err error
	switch kind {
	case "emote":
		var c, m *string
		if code != "" {
			c, m = &code, &msg
		}
		_, err = db.Exec(t.Context(), `INSERT INTO emotes (id, app_id, user_id, name, start_ms, end_ms, mature,
				video_key, video_size, video_format, status, error_code, error_message, created_at, updated_at, finished_at)
			VALUES ($1, $2, 'u1', 'wave', 0, 1000, false, 'k', 1, 'mp4', $3, $4, $5, $6, $6, $7)`,
			id, app, status, c, m, ts(created), finished)
	case "generation":
		_, err = db.Exec(t.Context(), `INSERT INTO generations (id, app_id, model, input, status, error_code, error_message,
				deadline_at, created_at, updated_at, finished_at)
			VALUES ($1, $2, 'm1', '{}', $3, $4, $5, $6::timestamptz + interval '1 hour', $6, $6, $7)`,
			id, app, status, code, msg, ts(created), finished)
	}
	require.NoError(t, err)
	return id
}

func TestJobs(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	a, b, db := f.a.AppID.String(), f.b.AppID.String(), f.db.Pool
	const xss = `<img src=x onerror=alert(1)>`
	addJob(t, db, "emote", a, "succeeded", "2026-03-01T10:00:00Z", 10*time.Second, "", "")
	addJob(t, db, "emote", a, "succeeded", "2026-03-01T11:00:00Z", 30*time.Second, "", "")
	addJob(t, db, "emote", a, "succeeded", "2026-03-02T09:00:00Z", 20*time.Second, "", "")
	e4 := addJob(t, db, "emote", a, "failed", "2026-03-02T10:00:00Z", 5*time.Minute, "upstream_failed", xss)
	addJob(t, db, "emote", a, "processing", "2026-03-02T12:00:00Z", 0, "", "")
	g1 := addJob(t, db, "generation", a, "succeeded", "2026-03-01T08:00:00Z", time.Minute, "", "")
	g2 := addJob(t, db, "generation", a, "timed_out", "2026-03-01T09:00:00Z", 30*time.Minute, "timed_out", "not done by its deadline")
	addJob(t, db, "generation", a, "canceled", "2026-03-02T08:00:00Z", time.Minute, "canceled", "canceled at the app's request")
	addJob(t, db, "generation", a, "queued", "2026-03-02T13:00:00Z", 0, "", "")
	// Outside [from, to).
	addJob(t, db, "emote", a, "succeeded", "2026-03-03T00:00:00Z", 1000*time.Second, "", "")
	addJob(t, db, "emote", a, "failed", "2026-02-28T23:59:59Z", time.Second, "upstream_failed", "too early")
	// App B.
	b1 := addJob(t, db, "emote", b, "failed", "2026-03-01T12:00:00Z", time.Second, "upstream_failed", "secret B")
	addJob(t, db, "generation", b, "succeeded", "2026-03-01T12:00:00Z", 5*time.Second, "", "")

	rng := url.Values{"from": {"2026-03-01T00:00:00Z"}, "to": {"2026-03-03T00:00:00Z"}}
	with := func(kv ...string) url.Values {
		q := url.Values{}
		for k, v := range rng {
			q[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			q.Set(kv[i], kv[i+1])
		}
		return q
	}
	emotes := func(kv ...any) map[string]int64 {
		m := map[string]int64{"queued": 0, "processing": 0, "awaiting_validation": 0, "validating": 0, "retaking": 0,
			"awaiting_video": 0, "succeeded": 0, "failed": 0, "canceled": 0, "timed_out": 0}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = int64(kv[i+1].(int))
		}
		return m
	}
	generations := func(kv ...any) map[string]int64 {
		m := map[string]int64{"queued": 0, "submitting": 0, "submitted": 0, "processing": 0, "finalizing": 0,
			"succeeded": 0, "failed": 0, "canceled": 0, "timed_out": 0}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = int64(kv[i+1].(int))
		}
		return m
	}
	sec := func(s float64) *float64 { return &s }
	failure := func(kind string, id uuid.UUID, status, code, msg, created string, after time.Duration) jobFailure {
		fin := ts(created).Add(after)
		return jobFailure{Kind: kind, ID: id, Status: status, ErrorCode: &code, ErrorMessage: &msg, CreatedAt: ts(created), FinishedAt: &fin}
	}
	norm := func(v *jobsView) {
		for i := range v.Failures {
			v.Failures[i].CreatedAt = v.Failures[i].CreatedAt.UTC()
			fin := v.Failures[i].FinishedAt.UTC()
			v.Failures[i].FinishedAt = &fin
		}
	}

	var got jobsView
	f.view(t, f.a.SecretKey, "/dashboard/api/jobs", with("app_id", b), &got)
	norm(&got)
	require.Equal(t, []string{"emote", "generation"}, got.Kinds)
	require.Equal(t, map[string]map[string]int64{
		"emote":      emotes("succeeded", 3, "failed", 1, "processing", 1),
		"generation": generations("succeeded", 1, "timed_out", 1, "canceled", 1, "queued", 1),
	}, got.Totals)
	require.Equal(t, []jobsDay{
		{Day: day(ts("2026-03-01T00:00:00Z")), Counts: map[string]map[string]int64{
			"emote": emotes("succeeded", 2), "generation": generations("succeeded", 1, "timed_out", 1)}},
		{Day: day(ts("2026-03-02T00:00:00Z")), Counts: map[string]map[string]int64{
			"emote": emotes("succeeded", 1, "failed", 1, "processing", 1), "generation": generations("canceled", 1, "queued", 1)}},
	}, got.Days)
	// Emotes took 10, 20 and 30 s: the median is 20 s and the 90th
	// percentile 20 + 0.8 * (30 - 20) = 28 s.
	require.Equal(t, map[string]jobDurations{
		"emote":      {Succeeded: 3, P50Seconds: sec(20), P90Seconds: sec(28)},
		"generation": {Succeeded: 1, P50Seconds: sec(60), P90Seconds: sec(60)},
	}, got.Durations)
	// The latest finished first; canceled is the app's choice, not a
	// failure.
	require.Equal(t, []jobFailure{
		failure("emote", e4, "failed", "upstream_failed", xss, "2026-03-02T10:00:00Z", 5*time.Minute),
		failure("generation", g2, "timed_out", "timed_out", "not done by its deadline", "2026-03-01T09:00:00Z", 30*time.Minute),
	}, got.Failures)

	// One kind.
	got = jobsView{} // a fresh answer, not merged into the last one
	f.view(t, f.a.SecretKey, "/dashboard/api/jobs", with("kind", "generation"), &got)
	require.Equal(t, []string{"generation"}, got.Kinds)
	require.Equal(t, map[string][]string{"generation": {"queued", "submitting", "submitted", "processing", "finalizing",
		"succeeded", "failed", "canceled", "timed_out"}}, got.Statuses)
	require.Equal(t, map[string]map[string]int64{"generation": generations("succeeded", 1, "timed_out", 1, "canceled", 1, "queued", 1)}, got.Totals)
	require.Len(t, got.Days, 2)
	require.NotContains(t, got.Days[0].Counts, "emote")
	require.Equal(t, map[string]jobDurations{"generation": {Succeeded: 1, P50Seconds: sec(60), P90Seconds: sec(60)}}, got.Durations)
	require.Len(t, got.Failures, 1)
	require.Equal(t, g2, got.Failures[0].ID)
	require.NotEqual(t, g1, got.Failures[0].ID)

	// App B sees its own jobs only.
	got = jobsView{}
	f.view(t, f.b.SecretKey, "/dashboard/api/jobs", with(), &got)
	require.Equal(t, map[string]map[string]int64{"emote": emotes("failed", 1), "generation": generations("succeeded", 1)}, got.Totals)
	require.Len(t, got.Failures, 1)
	require.Equal(t, b1, got.Failures[0].ID)
	require.Equal(t, "secret B", *got.Failures[0].ErrorMessage)

	// A range with no jobs: every day, all zeros, no durations.
	got = jobsView{}
	f.view(t, f.a.SecretKey, "/dashboard/api/jobs", url.Values{
		"from": {"2025-01-01T12:00:00Z"}, "to": {"2025-01-02T12:00:00Z"}}, &got)
	require.Len(t, got.Days, 2)
	require.Equal(t, map[string]map[string]int64{"emote": emotes(), "generation": generations()}, got.Totals)
	require.Equal(t, map[string]jobDurations{"emote": {}, "generation": {}}, got.Durations)
	require.Empty(t, got.Failures)
	require.NotNil(t, got.Failures)

	// At most 50 failures, the latest finished first.
	_, err := db.Exec(t.Context(), `INSERT INTO emotes (id, app_id, user_id, name, start_ms, end_ms, mature,
			video_key, video_size, video_format, status, error_code, error_message, created_at, updated_at, finished_at)
		SELECT gen_random_uuid(), $1, 'u1', 'wave', 0, 1000, false, 'k', 1, 'mp4', 'failed', 'upstream_failed', 'n' || i,
			t, t, t + interval '1 minute'
		FROM generate_series(1, 51) i, LATERAL (SELECT '2025-06-01T00:00:00Z'::timestamptz + i * interval '1 minute' AS t) x`, a)
	require.NoError(t, err)
	got = jobsView{}
	f.view(t, f.a.SecretKey, "/dashboard/api/jobs", url.Values{"from": {"2025-06-01T00:00:00Z"}, "to": {"2025-06-02T00:00:00Z"}}, &got)
	require.Equal(t, int64(51), got.Totals["emote"]["failed"])
	require.Len(t, got.Failures, maxJobFailures)
	require.Equal(t, "n51", *got.Failures[0].ErrorMessage)
	require.Equal(t, "n2", *got.Failures[49].ErrorMessage)

	for _, tc := range []struct {
		q     url.Values
		field string
	}{
		{with("kind", "emotes"), "kind"},
		{with("kind", "gameplay"), "kind"},
		{with("build_id", "1.0.3"), "build_id"},
		{with("from", "yesterday"), "from"},
		{url.Values{"from": {"2024-01-01T00:00:00Z"}, "to": {"2026-01-01T00:00:00Z"}}, "from"},
	} {
		status, body := f.get(t, f.a.SecretKey, "/dashboard/api/jobs", tc.q)
		require.Equal(t, http.StatusBadRequest, status, tc)
		require.Equal(t, tc.field, body["field"], tc)
	}
	status, _ := f.get(t, "", "/dashboard/api/jobs", with())
	require.Equal(t, http.StatusUnauthorized, status)
}
