package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/blob"
	"github.com/gamepipe/gamepipe/internal/dashboard"
	"github.com/gamepipe/gamepipe/internal/demodata"
	"github.com/gamepipe/gamepipe/internal/httpapi"
)

// xssLevel is a level id that would run script if the Levels page rendered
// it as HTML.
const xssLevel = `<img src=x onerror="window.__xss='level'">`

// levelWalk is one session's walk on a level: straight legs between
// corners, a point per unit of length and per second, one trajectory per
// leg.
type levelWalk struct {
	player, session, level string
	corners                [][3]float64
	fps                    float64
	at                     time.Time
}

// trajectories are the walk's legs as trajectory events, with a
// Level_Start gameplay event of the session first, from which the rollup
// job gives them their level.
func (w *levelWalk) events(app string) []any {
	out := []any{map[string]any{"event_name": "Level_Start", "app_id": app, "build_id": "1.0.3", "player_id": w.player,
		"session_id": w.session, "level_id": w.level, "timestamp": w.at.Format(time.RFC3339)}}
	start := w.at.Add(10 * time.Second)
	for leg := 0; leg+1 < len(w.corners); leg++ {
		positions := w.leg(leg)
		n := len(positions) / 3
		ev := map[string]any{"app_id": app, "build_id": "1.0.3", "player_id": w.player, "session_id": w.session,
			"positions": positions, "timestamp_start": start.Format(time.RFC3339),
			"timestamp_end": start.Add(time.Duration(n-1) * time.Second).Format(time.RFC3339),
			"fps":           map[string]any{"mean": w.fps, "low_5": w.fps - 5, "low_1": w.fps - 10}}
		out = append(out, ev)
		start = start.Add(time.Duration(n+20) * time.Second) // a gap between legs
	}
	return out
}

// leg is the points of one leg, a unit apart, both corners included.
func (w *levelWalk) leg(i int) []float64 {
	a, b := w.corners[i], w.corners[i+1]
	d := math.Sqrt((b[0]-a[0])*(b[0]-a[0]) + (b[1]-a[1])*(b[1]-a[1]) + (b[2]-a[2])*(b[2]-a[2]))
	n := int(math.Round(d)) + 1
	var out []float64
	for k := range n {
		f := float64(k) / float64(n-1)
		out = append(out, a[0]+(b[0]-a[0])*f, a[1]+(b[1]-a[1])*f, a[2]+(b[2]-a[2])*f)
	}
	return out
}

// heatAnswer is the part of a heatmap answer the test reads.
type heatAnswer struct {
	Cell    float64           `json:"cell"`
	Origin  []float64         `json:"origin"`
	Up      string            `json:"up"`
	Axes    []string          `json:"axes"`
	Columns []string          `json:"columns"`
	Cells   []json.RawMessage `json:"cells"`
	Metric  string            `json:"metric"`
}

// pathsAnswer is the part of a paths answer the test reads.
type pathsAnswer struct {
	Paths []struct {
		SessionID    string `json:"session_id"`
		Trajectories []struct {
			TimestampStart time.Time  `json:"timestamp_start"`
			TimestampEnd   *time.Time `json:"timestamp_end"`
			Positions      []float64  `json:"positions"`
		} `json:"trajectories"`
	} `json:"paths"`
}

// markerState is what window.gpLevels.markerPosition() returns.
type markerState struct {
	Telemetry []float64 `json:"telemetry"`
	Model     []float64 `json:"model"`
	// MS is the replay's time in milliseconds since the epoch, unrounded.
	MS     float64 `json:"ms"`
	Slider float64 `json:"slider"`
}

// at is the marker's time.
func (m markerState) at() time.Time { return time.Unix(0, int64(math.Round(m.MS*1e6))) }

// TestLevelsPageInBrowser uploads level models (GLB, OBJ and a broken one)
// through POST /api/models, sends walks on those levels through
// POST /api/events, runs the rollup job, and opens the Levels page in
// headless Chromium with WebGL on SwiftShader: the model renders, the
// heatmap draws as many cells as the server answers (and as the test counts
// itself), fps colouring changes the picture, the replay marker moves along
// the path, the alignment saved from the page moves the overlays, and a
// broken model shows its message while the 2D view still draws.
func TestLevelsPageInBrowser(t *testing.T) {
	chrome := chromiumPath(t)
	ctx := context.Background()
	blobs, err := blob.NewDirStore(t.TempDir())
	require.NoError(t, err)
	s := newStack(t, &stackOpts{extra: func(t *testing.T, s *stack, _ *nats.Conn) httpapi.Deps {
		dash, err := dashboard.New(&dashboard.Config{}, &dashboard.Deps{Logger: zerolog.Nop(), DB: s.db.Pool, Blob: blobs})
		require.NoError(t, err)
		return httpapi.Deps{Dashboard: dash, Jobs: &httpapi.JobDeps{Pool: s.db.Pool, Blob: blobs}}
	}})
	app := s.app.AppID.String()
	key := s.app.SecretKey

	// Models: Level_1 in GLB, Level_2 in OBJ (its telemetry is z up and at
	// half the model's scale), Level_Broken a GLB header over nonsense.
	glb, err := demodata.DemoLevel("Level_1").GLB()
	require.NoError(t, err)
	l1 := uploadLevelModel(t, s, "Level_1", "level1.glb", glb)
	l2 := uploadLevelModel(t, s, "Level_2", "level2.obj", demodata.DemoLevel("Level_2").OBJ())
	broken := append([]byte("glTF"), bytes.Repeat([]byte{0x01, 0x00, 0x00, 0x00, 0xff}, 40)...)
	uploadLevelModel(t, s, "Level_Broken", "broken.glb", broken)
	require.Equal(t, "glb", l1["format"])
	require.Equal(t, "obj", l2["format"])

	// Walks two days ago, so the range is fixed and the rollup job takes
	// the day. North-west of Level_1 at 20 fps, south-east at 90.
	day0 := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -2)
	walks := []*levelWalk{
		{player: "p1", session: "w1", level: "Level_1", fps: 20, at: day0.Add(10 * time.Hour),
			corners: [][3]float64{{10.3, 0.2, 10.3}, {40.3, 0.2, 10.3}, {40.3, 0.2, 45.3}}},
		{player: "p2", session: "e1", level: "Level_1", fps: 90, at: day0.Add(11 * time.Hour),
			corners: [][3]float64{{60.3, 0.2, 60.3}, {90.3, 0.2, 60.3}, {90.3, 0.2, 90.3}}},
		{player: "p3", session: "c1", level: "Level_1", fps: 55, at: day0.Add(12 * time.Hour),
			corners: [][3]float64{{50.3, 0.2, 5.3}, {50.3, 0.2, 95.3}}},
		// Level_2's telemetry is z up at half scale: the model's (x, 0, z)
		// is sent as (x/2, −z/2, 0).
		{player: "p4", session: "z1", level: "Level_2", fps: 45, at: day0.Add(13 * time.Hour),
			corners: [][3]float64{{10.1, -10.1, 0.1}, {40.1, -10.1, 0.1}, {40.1, -40.1, 0.1}}},
		{player: "p5", session: "b1", level: "Level_Broken", fps: 60, at: day0.Add(14 * time.Hour),
			corners: [][3]float64{{2.5, 0.5, 2.5}, {20.5, 0.5, 2.5}, {20.5, 0.5, 20.5}}},
		{player: "p6", session: "x1", level: xssLevel, fps: 30, at: day0.Add(15 * time.Hour),
			corners: [][3]float64{{1.5, 0.5, 1.5}, {5.5, 0.5, 1.5}}},
	}
	var batch []any
	trajectories := 0
	for _, w := range walks {
		evs := w.events(app)
		trajectories += len(evs) - 1
		batch = append(batch, evs...)
	}
	death := func(x, z float64, ts time.Time) map[string]any {
		return map[string]any{"event_name": "Player_Death", "app_id": app, "build_id": "1.0.3", "player_id": "p1", "session_id": "w1",
			"level_id": "Level_1", "position": []float64{x, 0.5, z}, "timestamp": ts.Format(time.RFC3339)}
	}
	pickup := map[string]any{"event_name": "Item_Pickup", "app_id": app, "build_id": "1.0.3", "player_id": "p2", "session_id": "e1",
		"level_id": "Level_1", "position": []float64{70.5, 0.5, 70.5}, "timestamp": day0.Add(11*time.Hour + time.Minute).Format(time.RFC3339)}
	batch = append(batch, death(20.5, 10.5, day0.Add(10*time.Hour+time.Minute)), death(22.5, 10.5, day0.Add(10*time.Hour+2*time.Minute)),
		death(35.5, 30.5, day0.Add(10*time.Hour+3*time.Minute)), pickup)
	status, body := s.post(t, pack(t, batch))
	require.Equal(t, 200, status, body)
	s.eventuallyCount(t, trajectories, "SELECT count(*) FROM trajectories")
	s.eventuallyCount(t, len(walks)+4, "SELECT count(*) FROM gameplay_events")

	// The rollup job gives the trajectories their levels (and builds what
	// the trajectory heatmap reads), as the worker does every 15 minutes.
	require.Eventually(t, func() bool {
		st, err := dashboard.Rollup(ctx, s.db.Pool, time.Now())
		require.NoError(t, err)
		return st.LevelDaysLeft == 0
	}, 2*time.Minute, 10*time.Millisecond)
	require.Equal(t, trajectories, s.count(t, "SELECT count(*) FROM trajectories WHERE level_id IS NOT NULL"))

	from, to := day0.Format(time.RFC3339), day0.AddDate(0, 0, 1).Format(time.RFC3339)
	rng := url.Values{"from": {from}, "to": {to}}
	pageURL := func(extra url.Values) string {
		q := url.Values{"page": {"levels"}, "range": {"custom"}, "from": {from}, "to": {to}}
		for k, v := range extra {
			q[k] = v
		}
		return s.api.URL + "/dashboard/analytics?" + q.Encode()
	}
	apiGet := func(path string, q url.Values, out any) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, s.api.URL+path+"?"+q.Encode(), nil)
		require.NoError(t, err)
		req.Header.Set("x-api-key", key)
		resp, err := s.api.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, 200, resp.StatusCode, "%s: %s", path, raw)
		require.NoError(t, json.Unmarshal(raw, out), "%s", raw)
	}
	// apiError asks path and wants a 400, whose JSON body it returns.
	apiError := func(path string, q url.Values) map[string]any {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, s.api.URL+path+"?"+q.Encode(), nil)
		require.NoError(t, err)
		req.Header.Set("x-api-key", key)
		resp, err := s.api.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s: %s", path, raw)
		var body map[string]any
		require.NoError(t, json.Unmarshal(raw, &body), "%s", raw)
		return body
	}
	heatmap := func(ref string, q url.Values) heatAnswer {
		t.Helper()
		for k, v := range rng {
			q[k] = v
		}
		var h heatAnswer
		apiGet("/dashboard/api/levels/"+url.PathEscape(ref)+"/heatmap", q, &h)
		return h
	}

	// The browser, with WebGL drawn by SwiftShader (no GPU here).
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chrome), chromedp.Headless, chromedp.NoSandbox, chromedp.NoFirstRun,
		chromedp.Flag("use-angle", "swiftshader"), chromedp.Flag("enable-unsafe-swiftshader", true),
		chromedp.Flag("ignore-gpu-blocklist", true),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 1000))
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	bctx, cancelTimeout := context.WithTimeout(bctx, 4*time.Minute)
	defer cancelTimeout()

	var (
		mu     sync.Mutex
		errors []string
	)
	messages := chromedp.Console(bctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			// Warnings are not counted: SwiftShader's GL driver warns about
			// reading pixels back, which the canvas captures below do. Nor is
			// the browser's own line for the heatmap the test asks at a cell
			// too small, whose 400 the page answers with its offer of the
			// smallest cell.
			tooSmall := m.Type == chromedp.ConsoleError && strings.Contains(m.String(), "status of 400") &&
				strings.Contains(m.URL, "/heatmap?") && strings.Contains(m.URL, "cell=1e-9")
			if (m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException) && !tooSmall {
				mu.Lock()
				errors = append(errors, m.String()+" at "+m.URL)
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
	open := func(u string) {
		t.Helper()
		require.NoError(t, chromedp.Do(bctx, chromedp.Navigate(u),
			chromedp.WaitReady(chromedp.CSS(`body[data-state="ready"]`))), u)
	}
	eval := func(js string, out any) {
		t.Helper()
		raw, err := chromedp.Run(bctx, chromedp.Evaluate[string](`JSON.stringify(`+js+`)`))
		require.NoError(t, err, js)
		require.NoError(t, json.Unmarshal([]byte(raw), out), "%s: %s", js, raw)
	}
	evalInt := func(js string) int {
		t.Helper()
		var n int
		eval(js, &n)
		return n
	}
	// canvas reads a canvas's pixels (the WebGL one keeps its drawing
	// buffer, so what was drawn last is still there).
	canvas := func(id string) image.Image {
		t.Helper()
		var data string
		eval(`document.getElementById(`+jsString(id)+`).toDataURL('image/png')`, &data)
		b64, ok := strings.CutPrefix(data, "data:image/png;base64,")
		require.True(t, ok, "a PNG data URL")
		raw, err := base64.StdEncoding.DecodeString(b64)
		require.NoError(t, err)
		img, err := png.Decode(bytes.NewReader(raw))
		require.NoError(t, err)
		return img
	}

	// Sign in through the form.
	require.NoError(t, chromedp.Do(bctx, chromedp.Navigate(pageURL(nil)), chromedp.WaitVisible(chromedp.ID("signin-key"))))
	require.NoError(t, chromedp.Do(bctx, chromedp.SendKeys(chromedp.ID("signin-key"), key),
		chromedp.Click(chromedp.ID("signin-submit")), chromedp.WaitReady(chromedp.CSS(`body[data-state="ready"]`))))

	// Every level is offered, each marked by whether it has a model; the
	// level id from telemetry is text.
	var options []string
	eval(`Array.from(document.querySelectorAll('#lv-level option')).map(o => o.textContent)`, &options)
	require.Len(t, options, 4)
	require.Equal(t, xssLevel+" — no model", options[0])
	require.Equal(t, []string{"Level_1 — model v1 (glb)", "Level_2 — model v1 (obj)", "Level_Broken — model v1 (glb)"}, options[1:])

	// The GLB in 3D with the trajectory heatmap by count.
	open(pageURL(url.Values{"level": {"Level_1"}}))
	var model map[string]any
	eval(`window.gpLevels.model()`, &model)
	require.Equal(t, "loaded", model["state"], model)
	var webgl bool
	eval(`window.gpLevels.webgl()`, &webgl)
	require.True(t, webgl, "a WebGL context")
	var progress []float64
	eval(`[document.getElementById('model-progress').value, document.getElementById('model-progress').max]`, &progress)
	require.Equal(t, []float64{float64(len(glb)), float64(len(glb))}, progress, "the download's progress reached its size")
	shoot("levels-3d")
	byCount := canvas("level-canvas")
	require.Greater(t, variance(byCount), 100.0, "the 3D view is not blank")

	var pageHeat heatAnswer
	eval(`window.gpLevels.heatmap()`, &pageHeat)
	// The default cell: the model's largest side (100) / 64, to a power of
	// two.
	require.Equal(t, 2.0, pageHeat.Cell)
	server := heatmap("Level_1", url.Values{"kind": {"trajectory"}, "dims": {"3"}, "cell": {"2"}})
	require.Len(t, server.Cells, countCells(walks, "Level_1", 2, server.Origin), "the server's cells are the walks' cells")
	require.Equal(t, len(server.Cells), evalInt(`window.gpLevels.cellsDrawn()`), "one instance per cell of the answer")

	// Colour by fps: the same cells, another picture.
	open(pageURL(url.Values{"level": {"Level_1"}, "metric": {"fps_mean"}}))
	shoot("levels-3d-fps")
	byFps := canvas("level-canvas")
	require.Equal(t, len(server.Cells), evalInt(`window.gpLevels.cellsDrawn()`))
	require.Greater(t, differing(byCount, byFps), 0.002, "fps colouring changes the picture")

	// A cell far too small: the page says so and offers the server's
	// smallest cell, which then draws.
	refused := apiError("/dashboard/api/levels/Level_1/heatmap", url.Values{"kind": {"trajectory"}, "dims": {"3"}, "cell": {"1e-9"},
		"from": {from}, "to": {to}})
	require.Equal(t, "too_many_cells", refused["error"], refused)
	minCell, ok := refused["min_cell"].(float64)
	require.True(t, ok, refused)
	require.Greater(t, minCell, 1e-9)
	open(pageURL(url.Values{"level": {"Level_1"}, "cell": {"1e-9"}}))
	shoot("levels-too-small")
	require.Zero(t, evalInt(`window.gpLevels.cellsDrawn()`))
	require.Equal(t, 1, evalInt(`document.querySelectorAll('#lv-too-small #lv-min-cell').length`), "the smallest cell is offered")
	text, err := chromedp.Run(bctx, chromedp.TextContent(chromedp.ID("lv-too-small")))
	require.NoError(t, err)
	require.Contains(t, text, "Cell 1e-9 is too small")
	var minText string
	eval(`String(`+strconv.FormatFloat(minCell, 'g', -1, 64)+`)`, &minText)
	button, err := chromedp.Run(bctx, chromedp.TextContent(chromedp.ID("lv-min-cell")))
	require.NoError(t, err)
	require.Equal(t, "Use the smallest allowed cell ("+minText+")", button)
	require.NoError(t, chromedp.Do(bctx, chromedp.Click(chromedp.ID("lv-min-cell")),
		chromedp.WaitReady(chromedp.CSS(`body[data-state="ready"]`))))
	loc, err := chromedp.Run(bctx, chromedp.Location())
	require.NoError(t, err)
	require.Contains(t, loc, "cell="+url.QueryEscape(minText))
	shown, err := chromedp.Run(bctx, chromedp.TextContent(chromedp.ID("lv-cell")))
	require.NoError(t, err)
	require.Equal(t, minText, shown)
	eval(`window.gpLevels.heatmap()`, &pageHeat)
	require.Equal(t, minCell, pageHeat.Cell)
	smallest := heatmap("Level_1", url.Values{"kind": {"trajectory"}, "dims": {"3"}, "cell": {minText}})
	require.Equal(t, minCell, smallest.Cell)
	require.Equal(t, smallest.Cells, pageHeat.Cells)
	require.Equal(t, len(smallest.Cells), evalInt(`window.gpLevels.cellsDrawn()`), "one instance per cell at the smallest cell")
	require.Zero(t, evalInt(`document.querySelectorAll('#lv-too-small').length`))

	// Gameplay events: Player_Death only, and a coarser cell (× 2). The
	// Events input suggests the level's own names with a position, the
	// most first: not Level_Start, which was sent without one.
	open(pageURL(url.Values{"level": {"Level_1"}, "kind": {"gameplay"}, "events": {"Player_Death"}}))
	var names struct {
		Events []struct {
			Name string `json:"name"`
			N    int    `json:"positioned_events"`
		} `json:"events"`
	}
	apiGet("/dashboard/api/levels/Level_1/events", rng, &names)
	require.Len(t, names.Events, 2)
	require.Equal(t, []any{"Player_Death", 3, "Item_Pickup", 1},
		[]any{names.Events[0].Name, names.Events[0].N, names.Events[1].Name, names.Events[1].N})
	var suggested []string
	require.Eventually(t, func() bool {
		eval(`Array.from(document.querySelectorAll('#lv-event-names option')).map(o => o.value)`, &suggested)
		return len(suggested) > 0
	}, 30*time.Second, 50*time.Millisecond, "the event names are suggested")
	require.Equal(t, []string{"Player_Death", "Item_Pickup"}, suggested)
	deaths := heatmap("Level_1", url.Values{"kind": {"gameplay"}, "events": {"Player_Death"}, "dims": {"3"}, "cell": {"2"}})
	require.Len(t, deaths.Cells, 3)
	require.Equal(t, 3, evalInt(`window.gpLevels.cellsDrawn()`))
	require.NoError(t, chromedp.Do(bctx, chromedp.Click(chromedp.ID("lv-cell-double")),
		chromedp.WaitReady(chromedp.CSS(`body[data-state="ready"]`))))
	loc, err = chromedp.Run(bctx, chromedp.Location())
	require.NoError(t, err)
	require.Contains(t, loc, "cell=4")
	require.Equal(t, 2, evalInt(`window.gpLevels.cellsDrawn()`), "deaths at x 20.5 and 22.5 share a 4-unit cell")

	// The replay: the marker moves along w1's path over time.
	open(pageURL(url.Values{"level": {"Level_1"}, "sessions": {"w1,e1"}, "replay": {"w1"}}))
	var paths pathsAnswer
	apiGet("/dashboard/api/levels/Level_1/paths", url.Values{"session_id": {"w1"}, "from": {from}, "to": {to}}, &paths)
	require.Len(t, paths.Paths, 1)
	slide := func(v int) markerState {
		t.Helper()
		_, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`(() => { const s = document.getElementById('lv-replay-slider');
			s.value = '`+fmt.Sprint(v)+`'; return s.dispatchEvent(new Event('input')); })()`))
		require.NoError(t, err)
		var m markerState
		eval(`window.gpLevels.markerPosition()`, &m)
		require.Equal(t, float64(v), m.Slider)
		return m
	}
	first, second := slide(200), slide(800)
	shoot("levels-replay")
	require.NotEqual(t, first.Model, second.Model, "the marker moved")
	require.Less(t, first.MS, second.MS)
	for _, m := range []markerState{first, second} {
		require.Less(t, distanceToPath(m.Model, paths, identity), 1e-6, "the marker is on the path: %v", m.Model)
		require.InDeltaSlice(t, replayAt(paths, m.at()), m.Telemetry, 1e-4, "where the replay rule puts the player at %s", m.at())
	}

	// The OBJ, aligned from the page: z up, scale 2 (its telemetry is half
	// size and z up). Saved, the overlays land on the model.
	open(pageURL(url.Values{"level": {"Level_2"}, "replay": {"z1"}}))
	eval(`window.gpLevels.model()`, &model)
	require.Equal(t, "loaded", model["state"], model)
	require.NoError(t, chromedp.Do(bctx, chromedp.SetValue(chromedp.ID("al-up"), "z"), chromedp.SetValue(chromedp.ID("al-scale"), "2")))
	_, err = chromedp.Run(bctx, chromedp.Evaluate[bool](`document.getElementById('al-scale').dispatchEvent(new Event('input'))`))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(bctx, chromedp.Click(chromedp.ID("al-save"))))
	require.Eventually(t, func() bool {
		var text string
		eval(`document.getElementById('al-status').textContent`, &text)
		return text == "Saved for model v1."
	}, 30*time.Second, 50*time.Millisecond, "the alignment is saved")
	var levels struct {
		Levels []struct {
			Ref    string `json:"ref"`
			Models []struct {
				Alignment struct {
					UpAxis string    `json:"up_axis"`
					Scale  float64   `json:"scale"`
					Offset []float64 `json:"offset"`
				} `json:"alignment"`
			} `json:"models"`
		} `json:"levels"`
	}
	apiGet("/dashboard/api/levels", rng, &levels)
	var found bool
	for _, l := range levels.Levels {
		if l.Ref == "Level_2" {
			found = true
			require.Equal(t, "z", l.Models[0].Alignment.UpAxis)
			require.Equal(t, 2.0, l.Models[0].Alignment.Scale)
			require.Equal(t, []float64{0, 0, 0}, l.Models[0].Alignment.Offset)
		}
	}
	require.True(t, found)
	open(pageURL(url.Values{"level": {"Level_2"}, "replay": {"z1"}}))
	shoot("levels-obj")
	require.Greater(t, variance(canvas("level-canvas")), 100.0, "the OBJ view is not blank")
	server = heatmap("Level_2", url.Values{"kind": {"trajectory"}, "dims": {"3"}, "cell": {"1"}})
	eval(`window.gpLevels.heatmap()`, &pageHeat)
	require.Equal(t, 1.0, pageHeat.Cell, "100 model units / 2 / 64, to a power of two")
	require.Equal(t, len(server.Cells), evalInt(`window.gpLevels.cellsDrawn()`))
	var z1 pathsAnswer
	apiGet("/dashboard/api/levels/Level_2/paths", url.Values{"session_id": {"z1"}, "from": {from}, "to": {to}}, &z1)
	zUp := func(p []float64) []float64 { return []float64{2 * p[0], 2 * p[2], -2 * p[1]} }
	m := slide(500)
	require.Less(t, distanceToPath(m.Model, z1, zUp), 1e-6, "the marker is on the aligned path: %v", m.Model)
	for _, c := range m.Model {
		require.True(t, c > -1 && c < 101, "the aligned marker is on the model: %v", m.Model)
	}

	// The 2D view of Level_2: top-down on x and y (z up), as many cells as
	// the server's answer.
	open(pageURL(url.Values{"level": {"Level_2"}, "view": {"2d"}}))
	shoot("levels-2d")
	flat := heatmap("Level_2", url.Values{"kind": {"trajectory"}, "dims": {"2"}, "cell": {"1"}})
	require.Equal(t, "z", flat.Up)
	require.Equal(t, []string{"x", "y"}, flat.Axes)
	require.Equal(t, len(flat.Cells), evalInt(`window.gpLevels.cells2D()`))
	require.Greater(t, variance(canvas("level-2d")), 100.0)

	// The broken model: its message, the overlays still drawn, and the 2D
	// view draws the cells.
	open(pageURL(url.Values{"level": {"Level_Broken"}}))
	shoot("levels-broken")
	eval(`window.gpLevels.model()`, &model)
	require.Equal(t, "error", model["state"])
	msg, err := chromedp.Run(bctx, chromedp.TextContent(chromedp.ID("model-message")))
	require.NoError(t, err)
	require.Contains(t, msg, "could not be read")
	require.Positive(t, evalInt(`window.gpLevels.cellsDrawn()`))
	open(pageURL(url.Values{"level": {"Level_Broken"}, "view": {"2d"}}))
	shoot("levels-broken-2d")
	server = heatmap("Level_Broken", url.Values{"kind": {"trajectory"}, "dims": {"2"}})
	require.NotEmpty(t, server.Cells)
	require.Equal(t, len(server.Cells), evalInt(`window.gpLevels.cells2D()`))
	require.Greater(t, variance(canvas("level-2d")), 100.0, "the 2D view draws without the model")

	// Nothing from telemetry ran or became an element.
	open(pageURL(url.Values{"level": {xssLevel}}))
	var xss *string
	eval(`window.__xss || null`, &xss)
	require.Nil(t, xss, "a level id ran as script")
	require.Zero(t, evalInt(`document.querySelectorAll('img, script:not([src])').length`))

	mu.Lock()
	defer mu.Unlock()
	require.Empty(t, errors, "console errors")
}

// uploadLevelModel posts a model through POST /api/models and returns the
// answer.
func uploadLevelModel(t *testing.T, s *stack, level, filename string, file []byte) map[string]any {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	require.NoError(t, mw.WriteField("app_name", "game"))
	require.NoError(t, mw.WriteField("level_name", level))
	fw, err := mw.CreateFormFile("model_file", filename)
	require.NoError(t, err)
	_, err = fw.Write(file)
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	req, err := http.NewRequest(http.MethodPost, s.api.URL+"/api/models", &body)
	require.NoError(t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("x-api-key", s.app.SecretKey)
	resp, err := s.api.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%v", out)
	return out
}

// countCells counts the distinct cells of edge cell from origin that the
// walks of level pass through, as the heatmap should.
func countCells(walks []*levelWalk, level string, cell float64, origin []float64) int {
	seen := map[[3]int]bool{}
	for _, w := range walks {
		if w.level != level {
			continue
		}
		for leg := 0; leg+1 < len(w.corners); leg++ {
			p := w.leg(leg)
			for i := 0; i < len(p); i += 3 {
				var k [3]int
				for a := range 3 {
					k[a] = int(math.Floor((p[i+a] - origin[a]) / cell))
				}
				seen[k] = true
			}
		}
	}
	return len(seen)
}

// identity leaves a point as it is (the default alignment).
func identity(p []float64) []float64 { return p }

// distanceToPath is how far q (model space) lies from the nearest segment
// of the paths' trajectories, mapped by align.
func distanceToPath(q []float64, paths pathsAnswer, align func([]float64) []float64) float64 {
	best := math.Inf(1)
	for _, p := range paths.Paths {
		for _, tr := range p.Trajectories {
			for i := 0; i+5 < len(tr.Positions); i += 3 {
				a, b := align(tr.Positions[i:i+3]), align(tr.Positions[i+3:i+6])
				best = min(best, segmentDistance(q, a, b))
			}
		}
	}
	return best
}

func segmentDistance(q, a, b []float64) float64 {
	var ab, aq [3]float64
	var l2, dot float64
	for i := range 3 {
		ab[i], aq[i] = b[i]-a[i], q[i]-a[i]
		l2 += ab[i] * ab[i]
		dot += ab[i] * aq[i]
	}
	f := 0.0
	if l2 > 0 {
		f = max(0, min(1, dot/l2))
	}
	var d float64
	for i := range 3 {
		x := aq[i] - f*ab[i]
		d += x * x
	}
	return math.Sqrt(d)
}

// replayAt is where the replay rule puts the player at time at: a
// trajectory's points spread evenly over its start … end; between
// trajectories, the last point of the one before.
func replayAt(paths pathsAnswer, at time.Time) []float64 {
	trs := paths.Paths[0].Trajectories
	cur := trs[0]
	for _, tr := range trs {
		if !tr.TimestampStart.After(at) {
			cur = tr
		}
	}
	n := len(cur.Positions) / 3
	point := func(k int) []float64 { return cur.Positions[3*k : 3*k+3] }
	end := cur.TimestampStart
	if cur.TimestampEnd != nil {
		end = *cur.TimestampEnd
	}
	switch {
	case n == 1 || !at.After(cur.TimestampStart):
		return point(0)
	case !at.Before(end):
		return point(n - 1)
	}
	f := float64(at.Sub(cur.TimestampStart)) / float64(end.Sub(cur.TimestampStart)) * float64(n-1)
	k := min(n-2, int(f))
	w := f - float64(k)
	a, b := point(k), point(k+1)
	return []float64{a[0] + (b[0]-a[0])*w, a[1] + (b[1]-a[1])*w, a[2] + (b[2]-a[2])*w}
}

// variance is the variance of an image's luminance (0–255): near 0 for a
// blank canvas.
func variance(img image.Image) float64 {
	var sum, sq, n float64
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			l := (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(bl)) / 257
			sum += l
			sq += l * l
			n++
		}
	}
	mean := sum / n
	return sq/n - mean*mean
}

// differing is the share of pixels whose colour differs by more than a
// little between two images of one size.
func differing(a, b image.Image) float64 {
	if a.Bounds() != b.Bounds() {
		return 1
	}
	var diff, n float64
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := b.At(x, y).RGBA()
			d := math.Abs(float64(r1)-float64(r2)) + math.Abs(float64(g1)-float64(g2)) + math.Abs(float64(b1)-float64(b2))
			if d/257 > 30 {
				diff++
			}
			n++
		}
	}
	return diff / n
}
