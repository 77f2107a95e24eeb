package e2e

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/dashboard"
	"github.com/gamepipe/gamepipe/internal/httpapi"
	"github.com/gamepipe/gamepipe/internal/store"
)

// screenshotDir holds the browser test's screenshots (git-ignored).
const screenshotDir = "dashboard-screenshots"

// Values from telemetry that would run script if the dashboard rendered
// them as HTML; each sets window.__xss.
const (
	xssEventName = `<img src=x onerror="window.__xss='event_name'">`
	xssCustom    = `<script>window.__xss='custom_data'</script>`
	xssGPU       = `<img src=x onerror="window.__xss='gpu'">`
	xssStep      = `<script>window.__xss='step'</script>`
	xssJobError  = `<img src=x onerror="window.__xss='job_error'">`
)

// longJobError is a job's error message longer than the page is wide, with
// a URL that has no space to break at.
var longJobError = "not done by its deadline: the upstream kept answering 503 while the image was rendered; " +
	"the last answer was https://images.example.com/v1/generations/" + strings.Repeat("0123456789abcdef", 8) +
	"/status?attempt=12&region=eu-west-1 " + strings.Repeat("and the job was retried again later, ", 6)

// chromiumPath finds Debian's chromium. Without it the test skips on a
// developer's machine and fails in CI (CI=true), where .ci/run installs it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("chromium is required in CI (.ci/run installs it): %v", err)
		}
		t.Skip("chromium is not installed (make test installs it as root: apt-get install chromium)")
	}
	return path
}

// TestDashboardInBrowser seeds telemetry through POST /api/events and the
// sink, signs in through the form in headless Chromium, opens every page,
// and checks the numbers shown against SQL on the same rows, that nothing
// from telemetry runs as HTML, and that the console stayed clean.
func TestDashboardInBrowser(t *testing.T) {
	chrome := chromiumPath(t)
	ctx := context.Background()
	s := newStack(t, &stackOpts{extra: func(t *testing.T, s *stack, _ *nats.Conn) httpapi.Deps {
		dash, err := dashboard.New(&dashboard.Config{}, &dashboard.Deps{Logger: zerolog.Nop(), DB: s.db.Pool})
		require.NoError(t, err)
		return httpapi.Deps{Dashboard: dash, Rejections: runRejections(t, s)}
	}})
	app := s.app.AppID.String()

	// Two days of telemetry, two days ago, so every page's range is fixed.
	day0 := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -2)
	at := func(d int, clock string) string {
		c, err := time.Parse("15:04", clock)
		require.NoError(t, err)
		return day0.AddDate(0, 0, d).Add(time.Duration(c.Hour())*time.Hour + time.Duration(c.Minute())*time.Minute).Format(time.RFC3339)
	}
	player := func(id, gpu, ts string) map[string]any {
		return map[string]any{"event_name": "Create_Player", "app_id": app, "build_id": "1.0.3", "player_id": id,
			"region": "EU-West", "hardware": map[string]any{"gpu": gpu}, "timestamp": ts}
	}
	step := func(id, build, name, ts string) map[string]any {
		return map[string]any{"funnel_step_name": name, "app_id": app, "build_id": build, "player_id": id,
			"session_id": id + "-s", "timestamp": ts}
	}
	play := func(id, name string, custom map[string]any, ts string) map[string]any {
		ev := map[string]any{"event_name": name, "app_id": app, "build_id": "1.0.3", "player_id": id,
			"session_id": id + "-s", "level_id": "Level_1", "timestamp": ts}
		if custom != nil {
			ev["custom_data"] = custom
		}
		return ev
	}
	traj := func(id string, fps float64, ts string) map[string]any {
		return map[string]any{"app_id": app, "build_id": "1.0.3", "player_id": id, "session_id": id + "-s",
			"fps":       map[string]any{"mean": fps, "low_5": fps - 10, "low_1": fps - 20},
			"positions": []float64{0, 0, 0, 1, 1, 1}, "timestamp_start": ts, "timestamp_end": ts}
	}
	batch := []any{
		player("p1", "RTX 4090", at(0, "09:00")), player("p2", "GTX 960", at(0, "09:30")),
		player("p3", xssGPU, at(1, "08:00")), player("p4", "RTX 4090", at(1, "09:00")),
		step("p1", "1.0.2", "Tutorial_Start", at(0, "10:00")), step("p1", "1.0.2", "Tutorial_Move", at(0, "10:05")),
		step("p1", "1.0.2", "Tutorial_End", at(0, "10:10")), step("p1", "1.0.2", xssStep, at(0, "10:11")),
		step("p2", "1.0.2", "Tutorial_Start", at(0, "11:00")), step("p2", "1.0.2", "Tutorial_Move", at(0, "11:20")),
		step("p3", "1.0.3", "Tutorial_Start", at(1, "08:30")),
		step("p4", "1.0.3", "Tutorial_Start", at(1, "09:30")), step("p4", "1.0.3", "Tutorial_End", at(1, "09:40")),
		play("p1", "Player_Jump", map[string]any{"weapon": "Sword"}, at(0, "10:20")),
		play("p1", "Player_Jump", nil, at(1, "10:20")),
		play("p2", xssEventName, map[string]any{"note": xssCustom}, at(0, "11:30")),
		play("p5", "Player_Jump", nil, at(1, "12:00")), // no identity row
		traj("p1", 60, at(0, "10:30")), traj("p2", 25, at(0, "11:40")), traj("p3", 45, at(1, "08:40")),
	}
	status, body := s.post(t, pack(t, batch))
	require.Equal(t, 200, status, body)
	s.eventuallyCount(t, 3, "SELECT count(*) FROM trajectories")
	s.eventuallyCount(t, 4, "SELECT count(*) FROM gameplay_events")
	s.eventuallyCount(t, 9, "SELECT count(*) FROM funnel_steps")
	s.eventuallyCount(t, 4, "SELECT count(*) FROM players")
	// A batch of three refused for its last event: the api counts the
	// three for the app, today, and flushes them to ingest_rejections.
	bad := []any{play("p1", "Player_Jump", nil, at(0, "12:00")), play("p1", "Player_Jump", nil, at(0, "12:01")),
		map[string]any{"event_name": "Player_Jump", "app_id": app, "timestamp": at(0, "12:02")}}
	status, body = s.post(t, pack(t, bad))
	require.Equal(t, 400, status, body)
	s.eventuallyCount(t, 3, "SELECT coalesce(sum(events), 0) FROM ingest_rejections WHERE app_id = $1", app)

	from, to := day0.Format(time.RFC3339), day0.AddDate(0, 0, 2).Format(time.RFC3339)
	rng := url.Values{"range": {"custom"}, "from": {from}, "to": {to}}
	pageURL := func(page string, extra url.Values) string {
		q := url.Values{"page": {page}}
		for k, v := range rng {
			q[k] = v
		}
		for k, v := range extra {
			q[k] = v
		}
		return s.api.URL + "/dashboard/analytics?" + q.Encode()
	}

	// The browser, as the Makefile's test target runs it.
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chrome), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	bctx, cancelTimeout := context.WithTimeout(bctx, 3*time.Minute)
	defer cancelTimeout()

	var (
		mu       sync.Mutex
		problems []string
	)
	messages := chromedp.Console(bctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException || m.Type == chromedp.ConsoleWarning {
				mu.Lock()
				problems = append(problems, m.String()+" at "+m.URL)
				mu.Unlock()
			}
		}
	}()

	require.NoError(t, os.MkdirAll(screenshotDir, 0o755))
	shoot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(screenshotDir, name+".png"), png, 0o644))
	}
	// open loads a page and waits until its view has been drawn.
	open := func(u string) {
		t.Helper()
		require.NoError(t, chromedp.Do(bctx, chromedp.Navigate(u),
			chromedp.WaitReady(chromedp.CSS(`body[data-state="ready"]`))), u)
	}
	evalStrings := func(js string) []string {
		t.Helper()
		out, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](js))
		require.NoError(t, err, js)
		return out
	}
	cells := func(sel string) [][]string {
		t.Helper()
		out, err := chromedp.Run(bctx, chromedp.Evaluate[[][]string](`Array.from(document.querySelectorAll(`+
			jsString(sel+" tbody tr")+`)).map(r => Array.from(r.cells).map(c => c.textContent))`))
		require.NoError(t, err, sel)
		return out
	}
	sqlInt := func(q string, args ...any) string {
		t.Helper()
		var n int64
		require.NoError(t, s.db.Pool.QueryRow(ctx, q, args...).Scan(&n), q)
		return fmt.Sprint(n)
	}

	// Signed out, the page shows the form; signing in returns to the view.
	require.NoError(t, chromedp.Do(bctx, chromedp.Navigate(pageURL("overview", nil)),
		chromedp.WaitVisible(chromedp.ID("signin-key"))))
	shoot("signin")
	require.NoError(t, chromedp.Do(bctx,
		chromedp.SendKeys(chromedp.ID("signin-key"), s.app.SecretKey),
		chromedp.Click(chromedp.ID("signin-submit")),
		chromedp.WaitReady(chromedp.CSS(`body[data-state="ready"]`))))
	loc, err := chromedp.Run(bctx, chromedp.Location())
	require.NoError(t, err)
	require.Contains(t, loc, "page=overview", "back to the view asked for")
	stored, err := chromedp.Run(bctx, chromedp.Evaluate[string](`JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie`))
	require.NoError(t, err)
	require.NotContains(t, stored, s.app.SecretKey, "the key is never kept in the browser")

	// Overview: the cards equal SQL on the same rows.
	open(pageURL("overview", nil))
	shoot("overview")
	card := func(key string) string {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.TextContent(chromedp.CSS(`[data-key="`+key+`"]`)))
		require.NoError(t, err, key)
		return v
	}
	activity := `SELECT player_id, "timestamp" AS ts FROM player_events WHERE app_id = $1
		UNION ALL SELECT player_id, "timestamp" FROM funnel_steps WHERE app_id = $1
		UNION ALL SELECT player_id, "timestamp" FROM gameplay_events WHERE app_id = $1
		UNION ALL SELECT player_id, timestamp_start FROM trajectories WHERE app_id = $1`
	require.Equal(t, sqlInt(`SELECT count(DISTINCT player_id) FROM (`+activity+`) a WHERE ts >= $2 AND ts < $3`, app, from, to),
		card("active_players"))
	require.Equal(t, "5", card("active_players"))
	require.Equal(t, sqlInt(`SELECT count(*) FROM players WHERE app_id = $1 AND first_seen >= $2 AND first_seen < $3`, app, from, to),
		card("new_players"))
	require.Equal(t, sqlInt(`SELECT count(*) FROM gameplay_events WHERE app_id = $1`, app), card("events_gameplay"))
	perDay := cells("#days")
	require.Len(t, perDay, 2)
	for i, row := range perDay {
		d := day0.AddDate(0, 0, i)
		require.Equal(t, d.Format(time.DateOnly), row[0])
		require.Equal(t, sqlInt(`SELECT count(DISTINCT player_id) FROM (`+activity+`) a WHERE ts >= $2 AND ts < $3`,
			app, d, d.AddDate(0, 0, 1)), row[1], "daily active players on %s", row[0])
	}
	top := cells("#top-events")
	require.Equal(t, []string{"Player_Jump", "3", "2"}, top[0])
	require.Equal(t, []string{xssEventName, "1", "1"}, top[1], "the event name shows as text")

	// Rejected events: the refused batch shows on today, beside the dead
	// letters, as SQL counts it.
	today := time.Now().UTC().Truncate(24 * time.Hour)
	open(pageURL("overview", url.Values{"to": {today.AddDate(0, 0, 1).Format(time.RFC3339)}}))
	shoot("overview-rejected")
	rejectedSQL := `SELECT coalesce(sum(events), 0) FROM ingest_rejections WHERE app_id = $1 AND day >= $2::date AND day < $3::date`
	require.Equal(t, sqlInt(rejectedSQL, app, day0, today.AddDate(0, 0, 1)), card("rejected"))
	require.Equal(t, "3", card("rejected"))
	require.Equal(t, sqlInt(`SELECT count(*) FROM dead_letters`), card("dead_lettered"))
	rejHeads := evalStrings(`Array.from(document.querySelectorAll('#rejected-days thead th')).map(h => h.textContent)`)
	require.Equal(t, []string{"day", "rejected", "missing_field"}, rejHeads)
	rejectedDays := cells("#rejected-days")
	require.Len(t, rejectedDays, 3)
	for i, row := range rejectedDays {
		d := day0.AddDate(0, 0, i)
		require.Equal(t, []string{d.Format(time.DateOnly), sqlInt(rejectedSQL, app, d, d.AddDate(0, 0, 1))}, row[:2])
	}
	require.Equal(t, "3", rejectedDays[2][2])

	// Funnels: counts and conversion equal SQL.
	open(pageURL("funnels", url.Values{"steps": {"Tutorial_Start,Tutorial_Move,Tutorial_End"}, "window": {"1h"}}))
	shoot("funnels")
	funnel := cells(".funnel table.data")
	require.Len(t, funnel, 3)
	started := `SELECT player_id, min("timestamp") AS t0 FROM funnel_steps
		WHERE app_id = $1 AND funnel_step_name = 'Tutorial_Start' AND "timestamp" >= $2 AND "timestamp" < $3 GROUP BY 1`
	moved := `SELECT s.player_id, min(m."timestamp") AS t1, s.t0 FROM (` + started + `) s JOIN funnel_steps m
		ON m.app_id = $1 AND m.player_id = s.player_id AND m.funnel_step_name = 'Tutorial_Move'
		AND m."timestamp" >= s.t0 AND m."timestamp" <= s.t0 + interval '1 hour' GROUP BY 1, 3`
	nStart := sqlInt(`SELECT count(*) FROM (`+started+`) x`, app, from, to)
	nMove := sqlInt(`SELECT count(*) FROM (`+moved+`) x`, app, from, to)
	nEnd := sqlInt(`SELECT count(*) FROM (`+moved+`) mv WHERE EXISTS (SELECT 1 FROM funnel_steps e
		WHERE e.app_id = $1 AND e.player_id = mv.player_id AND e.funnel_step_name = 'Tutorial_End'
		AND e."timestamp" >= mv.t1 AND e."timestamp" <= mv.t0 + interval '1 hour')`, app, from, to)
	require.Equal(t, []string{"4", "2", "1"}, []string{nStart, nMove, nEnd}, "the SQL's own answer")
	require.Equal(t, []string{nStart, nMove, nEnd}, []string{funnel[0][1], funnel[1][1], funnel[2][1]})
	require.Equal(t, []string{"100.0%", "50.0%", "25.0%"}, []string{funnel[0][2], funnel[1][2], funnel[2][2]})
	require.Equal(t, "50.0%", funnel[2][3])
	options := evalStrings(`Array.from(document.querySelectorAll('#step-names option')).map(o => o.value)`)
	require.Contains(t, options, xssStep)

	// Breakdown by build, side by side.
	open(pageURL("funnels", url.Values{"steps": {"Tutorial_Start,Tutorial_End"}, "fby": {"build_id"}}))
	titles := evalStrings(`Array.from(document.querySelectorAll('.funnel h2')).map(h => h.textContent)`)
	require.ElementsMatch(t, []string{"build 1.0.2", "build 1.0.3"}, titles)

	// Filters live in the URL, show in the form and reach the views.
	open(pageURL("overview", url.Values{"build_id": {"1.0.2"}}))
	require.Equal(t, sqlInt(`SELECT count(*) FROM funnel_steps WHERE app_id = $1 AND build_id = '1.0.2'`, app), card("events_funnel"))
	require.Equal(t, "6", card("events_funnel")) // p1 four steps, p2 two
	require.Equal(t, []string{"1.0.2"}, evalStrings(`[document.getElementById('f-build').value]`))
	open(pageURL("funnels", url.Values{"steps": {"Tutorial_Start,Tutorial_End"}, "fby": {"region"}}))
	titles = evalStrings(`Array.from(document.querySelectorAll('.funnel h2')).map(h => h.textContent)`)
	require.Equal(t, []string{"region EU-West"}, titles)

	// A funnel saved by name from the page is listed, and reopens.
	open(pageURL("funnels", url.Values{"steps": {"Tutorial_Start,Tutorial_End"}, "window": {"2h"}, "region": {"EU-West"}}))
	require.NoError(t, chromedp.Do(bctx,
		chromedp.SendKeys(chromedp.ID("funnel-name"), "Tutorial <b>EU</b>"),
		chromedp.Click(chromedp.ID("save-funnel")),
		chromedp.WaitReady(chromedp.CSS(`#saved-funnels option[value="Tutorial <b>EU</b>"]`))))
	var savedSteps []string
	require.NoError(t, s.db.Pool.QueryRow(ctx, `SELECT steps FROM dashboard_funnels WHERE app_id = $1 AND name = 'Tutorial <b>EU</b>'
		AND window_seconds = 7200 AND filters = '{"region":"EU-West"}'`, app).Scan(&savedSteps))
	require.Equal(t, []string{"Tutorial_Start", "Tutorial_End"}, savedSteps)
	open(pageURL("funnels", nil))
	require.NoError(t, chromedp.Do(bctx, chromedp.WaitReady(chromedp.CSS(`#saved-funnels option[value="Tutorial <b>EU</b>"]`)),
		chromedp.SetValue(chromedp.ID("saved-funnels"), "Tutorial <b>EU</b>")))
	_, err = chromedp.Run(bctx, chromedp.Evaluate[bool](`document.getElementById('saved-funnels').dispatchEvent(new Event('change'))`))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(bctx, chromedp.WaitReady(chromedp.CSS(`body[data-state="ready"]`))))
	loc, err = chromedp.Run(bctx, chromedp.Location())
	require.NoError(t, err)
	require.Contains(t, loc, "steps=Tutorial_Start%2CTutorial_End")
	require.Contains(t, loc, "region=EU-West")

	// Retention: cohort sizes equal SQL.
	open(pageURL("retention", nil))
	shoot("retention")
	cohorts := cells("#cohorts")
	require.Len(t, cohorts, 2)
	for i, row := range cohorts {
		d := day0.AddDate(0, 0, i)
		require.Equal(t, sqlInt(`SELECT count(*) FROM players WHERE app_id = $1 AND first_seen >= $2 AND first_seen < $3`,
			app, d, d.AddDate(0, 0, 1)), row[1])
	}
	require.Equal(t, "1 (50.0%)", cohorts[0][2], "p1 came back the next day, p2 did not")

	// Performance by GPU: the GPU name from telemetry shows as text.
	open(pageURL("performance", url.Values{"by": {"gpu"}}))
	shoot("performance")
	perf := cells("#perf-groups")
	require.Equal(t, []string{"GTX 960", "1", "1", "25.0"}, perf[0][:4])
	require.Equal(t, []string{xssGPU, "1", "1", "45.0"}, perf[1][:4])
	require.Equal(t, []string{"RTX 4090", "1", "1", "60.0"}, perf[2][:4])

	// Explorer: one player's sessions and events, custom_data expanded as
	// text.
	open(pageURL("explorer", url.Values{"player": {"p2"}}))
	shoot("explorer")
	sessions := cells("#sessions")
	require.Len(t, sessions, 1)
	require.Equal(t, "p2-s", sessions[0][0])
	require.Equal(t, sqlInt(`SELECT count(*) FROM gameplay_events WHERE app_id = $1 AND player_id = 'p2'`, app), sessions[0][3])
	events := cells("#events")
	require.Len(t, events, 1)
	require.Equal(t, xssEventName, events[0][4])
	require.Contains(t, events[0][5], `"note": "<script>window.__xss='custom_data'</script>"`)

	// Nothing from telemetry ran or became an element.
	xss, err := chromedp.Run(bctx, chromedp.Evaluate[*string](`window.__xss || null`))
	require.NoError(t, err)
	require.Nil(t, xss, "a telemetry value ran as script")
	n, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('img, script:not([src])').length`))
	require.NoError(t, err)
	require.Zero(t, n)

	// Jobs: emote and generation rows written as the job steps leave them
	// (the page reads the tables, not the jobs), and another app's.
	other, err := store.AppCreate(ctx, s.db.Pool, "other game")
	require.NoError(t, err)
	addJob := func(kind, app, status, created string, took time.Duration, code, msg string) string {
		t.Helper()
		id := uuid.Must(uuid.NewV7())
		var finished *time.Time
		if took > 0 {
			f := mustTime(t, created).Add(took)
			finished = &f
		}
		var err error
		if kind == "emote" {
			var c, m *string
			if code != "" {
				c, m = &code, &msg
			}
			_, err = s.db.Pool.Exec(ctx, `INSERT INTO emotes (id, app_id, user_id, name, start_ms, end_ms, mature,
					video_key, video_size, video_format, status, error_code, error_message, created_at, updated_at, finished_at)
				VALUES ($1, $2, 'u1', 'wave', 0, 1000, false, 'k', 1, 'mp4', $3, $4, $5, $6, $6, $7)`,
				id, app, status, c, m, mustTime(t, created), finished)
		} else {
			_, err = s.db.Pool.Exec(ctx, `INSERT INTO generations (id, app_id, model, input, status, error_code, error_message,
					deadline_at, created_at, updated_at, finished_at)
				VALUES ($1, $2, 'm1', '{}', $3, $4, $5, $6::timestamptz + interval '1 hour', $6, $6, $7)`,
				id, app, status, code, msg, mustTime(t, created), finished)
		}
		require.NoError(t, err)
		return id.String()
	}
	addJob("emote", app, "succeeded", at(0, "10:00"), 40*time.Second, "", "")
	addJob("emote", app, "succeeded", at(1, "10:00"), 20*time.Second, "", "")
	failedEmote := addJob("emote", app, "failed", at(1, "11:00"), 5*time.Minute, "upstream_failed", xssJobError)
	addJob("emote", app, "processing", at(1, "12:00"), 0, "", "")
	addJob("generation", app, "succeeded", at(0, "09:00"), 90*time.Second, "", "")
	timedOut := addJob("generation", app, "timed_out", at(0, "13:00"), time.Hour, "timed_out", longJobError)
	addJob("generation", app, "canceled", at(1, "08:00"), time.Minute, "canceled", "canceled at the app's request")
	addJob("emote", other.AppID.String(), "failed", at(0, "10:00"), time.Second, "upstream_failed", "other app's failure")

	open(pageURL("jobs", nil))
	shoot("jobs")
	jobs := `SELECT status, created_at, finished_at, error_message FROM emotes WHERE app_id = $1 AND created_at >= $2 AND created_at < $3
		UNION ALL SELECT status, created_at, finished_at, error_message FROM generations WHERE app_id = $1 AND created_at >= $2 AND created_at < $3`
	require.Equal(t, sqlInt(`SELECT count(*) FROM emotes WHERE app_id = $1 AND created_at >= $2 AND created_at < $3`, app, from, to),
		card("jobs_emote"))
	require.Equal(t, "4", card("jobs_emote"))
	require.Equal(t, sqlInt(`SELECT count(*) FROM generations WHERE app_id = $1 AND created_at >= $2 AND created_at < $3`, app, from, to),
		card("jobs_generation"))
	// Per day, each status column equals SQL's count over both kinds.
	heads := evalStrings(`Array.from(document.querySelectorAll('#job-days thead th')).map(h => h.textContent)`)
	require.Equal(t, []string{"day", "processing", "succeeded", "failed", "canceled", "timed_out"}, heads)
	jobDays := cells("#job-days")
	require.Len(t, jobDays, 2)
	for i, row := range jobDays {
		d := day0.AddDate(0, 0, i)
		require.Equal(t, d.Format(time.DateOnly), row[0])
		for c, status := range heads[1:] {
			require.Equal(t, sqlInt(`SELECT count(*) FROM (`+jobs+`) j WHERE status = $4`, app, d, d.AddDate(0, 0, 1), status),
				row[c+1], "%s jobs on %s", status, row[0])
		}
	}
	var p50, p90 float64
	require.NoError(t, s.db.Pool.QueryRow(ctx, `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - created_at)),
			percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - created_at))
		FROM emotes WHERE app_id = $1 AND status = 'succeeded' AND created_at >= $2 AND created_at < $3`, app, from, to).Scan(&p50, &p90))
	durations := cells("#job-durations")
	require.Equal(t, []string{"emote", "2", fmt.Sprintf("%.1f s", p50), fmt.Sprintf("%.1f s", p90)}, durations[0])
	require.Equal(t, []string{"emote", "2", "30.0 s", "38.0 s"}, durations[0], "SQL's own answer: 20 s and 40 s")
	require.Equal(t, []string{"generation", "1", "90.0 s", "90.0 s"}, durations[1])
	failures := cells("#job-failures")
	require.Equal(t, sqlInt(`SELECT count(*) FROM (`+jobs+`) j WHERE status IN ('failed', 'timed_out')`, app, from, to),
		fmt.Sprint(len(failures)))
	require.Equal(t, []string{"emote", failedEmote, "failed", "upstream_failed", xssJobError}, failures[0][1:6],
		"the latest failure first, its message as text")
	require.Equal(t, []string{"generation", timedOut, "timed_out", "timed_out", longJobError}, failures[1][1:6])
	// The failures fit the page: a long message wraps, an id shows its
	// start and all of it on hover; nothing scrolls sideways.
	fits, err := chromedp.Run(bctx, chromedp.Evaluate[[]int](`(() => { const p = document.getElementById('job-failures').closest('.panel');
		return [p.scrollWidth, p.clientWidth, document.documentElement.scrollWidth, document.documentElement.clientWidth]; })()`))
	require.NoError(t, err)
	require.LessOrEqual(t, fits[0], fits[1], "the failures panel scrolls sideways")
	require.LessOrEqual(t, fits[2], fits[3], "the page scrolls sideways")
	require.Equal(t, []string{failedEmote, timedOut},
		evalStrings(`Array.from(document.querySelectorAll('#job-failures tbody td .clip')).map(c => c.title)`))
	require.Equal(t, [][]string{{"emote", "processing", "1"}, {"emote", "succeeded", "2"}, {"emote", "failed", "1"},
		{"generation", "succeeded", "1"}, {"generation", "canceled", "1"}, {"generation", "timed_out", "1"}}, cells("#job-totals"))
	// The page filters do not apply to jobs, and are not shown.
	shown, err := chromedp.Run(bctx, chromedp.Evaluate[[]bool](`['f-build', 'f-region', 'f-input', 'f-level'].map(id => document.getElementById(id).offsetParent !== null)`))
	require.NoError(t, err)
	require.Equal(t, []bool{false, false, false, false}, shown)
	page := evalStrings(`[document.body.textContent]`)[0]
	require.NotContains(t, page, "other app's failure")
	// One kind, from the URL.
	open(pageURL("jobs", url.Values{"jkind": {"generation"}}))
	require.Equal(t, []string{"generation"}, evalStrings(`[document.getElementById('job-kind').value]`))
	require.Len(t, cells("#job-failures"), 1)
	// Nothing from a job's error ran or became an element.
	open(pageURL("jobs", nil))
	xss, err = chromedp.Run(bctx, chromedp.Evaluate[*string](`window.__xss || null`))
	require.NoError(t, err)
	require.Nil(t, xss, "a job's error message ran as script")
	n, err = chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('img, script:not([src])').length`))
	require.NoError(t, err)
	require.Zero(t, n)

	// Signing out ends the session: the page asks to sign in again.
	require.NoError(t, chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`#signout button`)),
		chromedp.WaitVisible(chromedp.ID("signin-key"))))

	mu.Lock()
	defer mu.Unlock()
	require.Empty(t, problems, "console errors or warnings")
	require.Contains(t, strings.Join(evalStrings(`[document.title]`), ""), "gamepipe")
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// mustTime parses an RFC 3339 time.
func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	require.NoError(t, err)
	return v
}

// runRejections counts the api's refused events for the dashboard and
// flushes them often, until the test ends.
func runRejections(t *testing.T, s *stack) *httpapi.Rejections {
	t.Helper()
	rej, err := httpapi.NewRejections(s.db.Pool, 50*time.Millisecond, zerolog.Nop())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		rej.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return rej
}
