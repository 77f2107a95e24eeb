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
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/dashboard"
	"github.com/gamepipe/gamepipe/internal/httpapi"
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
)

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
		return httpapi.Deps{Dashboard: dash}
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
