package gamepipecmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/gamepipe/gamepipe/internal/auth"
	"github.com/gamepipe/gamepipe/internal/config"
	"github.com/gamepipe/gamepipe/internal/dashboard"
	"github.com/gamepipe/gamepipe/internal/infra"
	"github.com/gamepipe/gamepipe/internal/store"
)

// dashboardBench is `gamepipe dashboard-bench`: it fills a database of its
// own with synthetic telemetry through COPY, rolls it up as the worker
// would, and times every dashboard JSON view over the last 7 and 30 days
// (README.md, "Dashboard benchmark"). It is a benchmark, not a test.
func dashboardBench(ctx context.Context, cfg *config.Common, args []string, stdout, stderr io.Writer) error {
	c := newCommand("dashboard-bench", stderr)
	dbName := c.String("database", "gamepipe_dashboard_bench", "the database to create (dropped first) on DATABASE_URL's server")
	rows := c.Int("rows", 10_000_000, "telemetry rows to generate")
	players := c.Int("players", 50_000, "players")
	days := c.Int("days", 30, "days of telemetry, up to now")
	runs := c.Int("runs", 10, "timed requests per view and range (after one warm-up)")
	levelPoints := c.Int("level-points", 10_000_000, "trajectory points on "+benchPathLevel+", in paths over the level, on top of --rows")
	reuse := c.Bool("reuse", false, "keep the database's data if it is already filled")
	if _, err := c.parse(args); err != nil {
		return err
	}
	if *rows < 1000 || *players < 10 || *days < 1 || *days > 60 || *runs < 1 || *levelPoints < 0 {
		return fmt.Errorf("%w: --rows must be at least 1000, --players 10, --days 1 to 60, --runs 1, --level-points 0", ErrUsage)
	}
	benchURL, err := benchDatabase(ctx, cfg.DatabaseURL, *dbName, !*reuse)
	if err != nil {
		return err
	}
	pool, err := infra.Postgres(ctx, benchURL, "gamepipe-dashboard-bench", 4)
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := store.Migrate(ctx, pool); err != nil {
		return err
	}
	end := time.Now().UTC()
	var n int64
	if err := pool.QueryRow(ctx, "SELECT (SELECT count(*) FROM gameplay_events) + (SELECT count(*) FROM funnel_steps) + (SELECT count(*) FROM trajectories) + (SELECT count(*) FROM player_events)").Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		fmt.Fprintf(stdout, "reusing %d rows already in %s\n", n, *dbName)
		if err := pool.QueryRow(ctx, `SELECT max("timestamp") FROM gameplay_events`).Scan(&end); err != nil {
			return err
		}
	} else {
		gen := &benchGen{players: *players, days: *days, rows: *rows, levelPoints: *levelPoints, end: end}
		start := time.Now()
		n, err = gen.fill(ctx, pool, stdout)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "generated %d rows in %s\n", n, time.Since(start).Round(time.Second))
	}
	// A fresh key for this run; the app is the one the rows belong to.
	var app uuid.UUID
	if err := pool.QueryRow(ctx, "SELECT id FROM apps ORDER BY created_at LIMIT 1").Scan(&app); err != nil {
		return err
	}
	key, err := benchSecretKey(ctx, pool, app)
	if err != nil {
		return err
	}
	// As the worker's job would, run after run until every trajectory has
	// its level (a run attributes at most dashboard.LevelAttributionBudget).
	for {
		start := time.Now()
		st, err := dashboard.Rollup(ctx, pool, end)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "attributed levels of %d app-days, rolled up %d app-days (%d rebuilt) in %s\n",
			st.LevelDays, st.Days, st.Rebuilt, time.Since(start).Round(time.Millisecond))
		if st.LevelDaysLeft == 0 {
			break
		}
	}
	// The rollups and attribution rewrote many rows: the statistics
	// autovacuum would gather before long.
	if _, err := pool.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		return err
	}

	h, err := dashboard.New(&dashboard.Config{QueryTimeout: time.Minute, Now: func() time.Time { return end }},
		&dashboard.Deps{Logger: zerolog.Nop(), DB: pool})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// The level views ask for benchPathLevel, the paths for its five
	// latest sessions.
	level := "levels/" + url.PathEscape(benchPathLevel)
	heat := level + "/heatmap"
	pathSessions, err := benchPathSessions(ctx, pool, app, 5)
	if err != nil {
		return err
	}
	quarterCell, err := benchQuarterCell(ctx, srv.URL+"/dashboard/api/"+heat, key, end)
	if err != nil {
		return err
	}
	views := []struct{ name, path, query string }{
		{"overview", "overview", ""},
		{"overview, build filter", "overview", "build_id=1.0.3"},
		{"funnel, 3 steps, 1h", "funnel", "steps=Tutorial_Start,Tutorial_Move,Tutorial_End&window=1h"},
		{"funnel by build", "funnel", "steps=Tutorial_Start,Tutorial_Move,Tutorial_End&window=1h&by=build_id"},
		{"funnel by input method", "funnel", "steps=Tutorial_Start,Tutorial_Move,Tutorial_End&window=1h&by=input_method"},
		{"funnel steps", "funnel/steps", ""},
		{"retention", "retention", ""},
		{"performance by build", "performance", "by=build_id"},
		{"performance by GPU", "performance", "by=gpu"},
		{"performance by level", "performance", "by=level_id"},
		{"events (explorer)", "events", "kind=gameplay&name=Player_Jump"},
		{"player timeline", "player", "player_id=player-42"},
		{"levels", "levels", ""},
		{"levels, build and region filters", "levels", "build_id=1.0.3&region=EU-West"},
		{"trajectory heatmap, count, 3D", heat, ""},
		{"trajectory heatmap, count, 2D", heat, "dims=2"},
		{"trajectory heatmap, fps_mean, 3D", heat, "metric=fps_mean"},
		{"trajectory heatmap, fps_mean, 2D", heat, "metric=fps_mean&dims=2"},
		{"trajectory heatmap, fps_mean, 3D, build filter", heat, "metric=fps_mean&build_id=1.0.3"},
		{"trajectory heatmap, count, 3D, build and region filters", heat, "build_id=1.0.3&region=EU-West"},
		{"trajectory heatmap, count, 3D, a quarter of the default cell (raw)", heat, quarterCell},
		{"gameplay heatmap, 3D", heat, "kind=gameplay"},
		{"gameplay heatmap, 2D, one event", heat, "kind=gameplay&dims=2&events=Player_Death"},
		{"gameplay heatmap, 3D, build and region filters", heat, "kind=gameplay&build_id=1.0.3&region=EU-West"},
		{"level event names", level + "/events", ""},
		{"level sessions", level + "/sessions", ""},
		{"level paths, 5 sessions", level + "/paths", pathSessions},
	}
	fmt.Fprintf(stdout, "\n| View | 7 days p50 | 7 days p95 | 30 days p50 | 30 days p95 |\n|---|---|---|---|---|\n")
	for _, v := range views {
		cells := []string{v.name}
		for _, rangeDays := range []int{7, 30} {
			q := "from=" + url.QueryEscape(end.AddDate(0, 0, -rangeDays).Format(time.RFC3339)) + "&to=" + url.QueryEscape(end.Format(time.RFC3339))
			if v.query != "" {
				q += "&" + v.query
			}
			times, err := benchView(ctx, srv.URL+"/dashboard/api/"+v.path+"?"+q, key, *runs)
			if err != nil {
				return fmt.Errorf("%s over %d days: %w", v.name, rangeDays, err)
			}
			cells = append(cells, fmtMillis(percentile(times, 0.5)), fmtMillis(percentile(times, 0.95)))
		}
		fmt.Fprintf(stdout, "| %s |\n", strings.Join(cells, " | "))
	}
	return nil
}

// benchQuarterCell is the query asking for a quarter of the heatmap's
// default cell over the last 30 days: finer than the stored cells.
func benchQuarterCell(ctx context.Context, heatURL, key string, end time.Time) (string, error) {
	q := url.Values{"from": {end.AddDate(0, 0, -30).Format(time.RFC3339)}, "to": {end.Format(time.RFC3339)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, heatURL+"?"+q.Encode(), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("x-api-key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var ans struct {
		Cell float64 `json:"cell"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil || resp.StatusCode != http.StatusOK || ans.Cell <= 0 {
		return "", fmt.Errorf("the heatmap's default cell: %s %v", resp.Status, err)
	}
	return "cell=" + strconv.FormatFloat(ans.Cell/4, 'g', -1, 64), nil
}

// benchPathSessions is the query naming the n latest sessions with
// trajectories on benchPathLevel.
func benchPathSessions(ctx context.Context, pool *pgxpool.Pool, app uuid.UUID, n int) (string, error) {
	rows, err := pool.Query(ctx, `SELECT session_id FROM trajectories WHERE app_id = $1 AND level_id = $2
		GROUP BY 1 ORDER BY max(timestamp_start) DESC LIMIT $3`, app, benchPathLevel, n)
	if err != nil {
		return "", err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", err
	}
	q := url.Values{"session_id": ids}
	return q.Encode(), nil
}

// benchView times runs requests of u after one warm-up.
func benchView(ctx context.Context, u, key string, runs int) ([]time.Duration, error) {
	var out []time.Duration
	for i := 0; i <= runs; i++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("x-api-key", key)
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("%s: %s", resp.Status, body)
		}
		if i > 0 {
			out = append(out, time.Since(start))
		}
	}
	return out, nil
}

// percentile is the nearest-rank percentile of ds.
func percentile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

func fmtMillis(d time.Duration) string {
	return fmt.Sprintf("%d ms", d.Milliseconds())
}

// benchDatabase creates the bench database on the server of base (dropping
// it first when fresh) and returns its URL.
func benchDatabase(ctx context.Context, base, name string, fresh bool) (string, error) {
	if !pgIdent(name) {
		return "", fmt.Errorf("%w: --database must be lower-case letters, digits and _", ErrUsage)
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("DATABASE_URL: %w", err)
	}
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if fresh {
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			return "", err
		}
	}
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
			return "", err
		}
	}
	u.Path = "/" + name
	return u.String(), nil
}

func pgIdent(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' {
			return false
		}
	}
	return true
}

// benchSecretKey creates the bench app if missing and gives it a new
// secret key.
func benchSecretKey(ctx context.Context, pool *pgxpool.Pool, app uuid.UUID) (string, error) {
	creds, err := store.AppRotateKey(ctx, pool, &store.AppRotateParams{AppID: app, Kind: auth.KindSecret})
	if err != nil {
		return "", err
	}
	return creds.SecretKey, nil
}

// benchGen generates the benchmark's telemetry: players who start on some
// day of the range and come back for a few sessions; each session has
// funnel steps (the tutorial on a player's first session, level steps on
// every session), gameplay events and trajectories, in the proportions of
// a real game (most rows gameplay, a quarter trajectories).
type benchGen struct {
	players, days, rows int
	// levelPoints is how many trajectory points to add on benchPathLevel
	// (pathRows).
	levelPoints int
	end         time.Time
	app         uuid.UUID
	sessions    []benchSession
}

type benchSession struct {
	player, index int
	start         time.Time
	build, input  string
	level         string
	events        int // gameplay events; trajectories and steps follow from it
}

var (
	benchBuilds  = []string{"1.0.1", "1.0.2", "1.0.3"}
	benchRegions = []string{"EU-West", "EU-East", "US-East", "US-West", "Asia", "LatAm"}
	benchGPUs    = []string{"RTX 4090", "RTX 3070", "RTX 2060", "GTX 1060", "GTX 960", "RX 6800", "RX 580", "Intel Iris Xe", "Apple M2", "Adreno 740"}
	benchInputs  = []string{"Keyboard", "Gamepad", "Touch"}
	benchLevels  = []string{"Level_1_Meadow", "Level_2_Caves", "Level_3_Jungle", "Level_4_Castle", "Level_5_Summit"}
	benchNames   = []string{"Player_Jump", "Player_Shoot", "Player_Hit", "Item_Pickup", "Enemy_Killed", "Player_Death", "Checkpoint", "Ability_Used"}
	benchSteps   = []string{"Tutorial_Start", "Tutorial_Move", "Tutorial_Jump", "Tutorial_End"}
)

// plan draws the sessions: about rows/60 of them (each has ~40 gameplay
// events, ~15 trajectories and 3 to 7 funnel steps). Each player starts on
// some day of the range and comes back about a day apart a few times.
func (g *benchGen) plan() {
	start := g.end.AddDate(0, 0, -g.days)
	span := g.end.Sub(start)
	avg := max(1, float64(g.rows/60)/float64(g.players))
	for p := range g.players {
		r := rand.New(rand.NewPCG(uint64(p), 7))
		first := start.Add(time.Duration(r.Int64N(int64(span * 9 / 10))))
		input := benchInputs[r.IntN(len(benchInputs))]
		k := 1 + r.IntN(int(2*avg-1)+1)
		for j := range k {
			at := first.Add(time.Duration(j)*22*time.Hour + time.Duration(r.IntN(4*3600))*time.Second)
			if !at.Before(g.end) {
				break
			}
			g.sessions = append(g.sessions, benchSession{
				player: p, index: j, start: at, input: input,
				build:  benchBuilds[min(len(benchBuilds)-1, int(at.Sub(start)*time.Duration(len(benchBuilds))/span))],
				level:  benchLevels[r.IntN(len(benchLevels))],
				events: 20 + r.IntN(41),
			})
		}
	}
}

func (g *benchGen) fill(ctx context.Context, pool *pgxpool.Pool, stdout io.Writer) (int64, error) {
	creds, err := store.AppCreate(ctx, pool, "dashboard bench")
	if err != nil {
		return 0, err
	}
	g.app = creds.AppID
	if err := store.EnsurePartitions(ctx, pool, g.end.AddDate(0, 0, -g.days-1), g.end.AddDate(0, 0, 1)); err != nil {
		return 0, err
	}
	g.plan()
	var total int64
	// copyTableBatch copies rows into table, batchRows rows per COPY.
	copyTableBatch := func(table string, cols []string, batchRows int, rows func(yield func([]any) bool)) error {
		t0 := time.Now()
		var batch [][]any
		flush := func() error {
			n, err := pool.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(batch))
			total += n
			batch = batch[:0]
			return err
		}
		var ferr error
		rows(func(r []any) bool {
			batch = append(batch, r)
			if len(batch) == batchRows {
				if ferr = flush(); ferr != nil {
					return false
				}
			}
			return true
		})
		if ferr != nil {
			return ferr
		}
		if err := flush(); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "  %s: done in %s (%d rows so far)\n", table, time.Since(t0).Round(time.Second), total)
		return nil
	}
	copyTable := func(table string, cols []string, rows func(yield func([]any) bool)) error {
		return copyTableBatch(table, cols, 50_000, rows)
	}

	// Players: one Create_Player event and players row each, at their
	// first session.
	firstSeen := map[int]time.Time{}
	for _, s := range g.sessions {
		if t, ok := firstSeen[s.player]; !ok || s.start.Before(t) {
			firstSeen[s.player] = s.start
		}
	}
	ids := make([]int, 0, len(firstSeen))
	for p := range firstSeen {
		ids = append(ids, p)
	}
	slices.Sort(ids)
	hw := func(p int) string {
		return `{"gpu":"` + benchGPUs[(p*7)%len(benchGPUs)] + `","ram":"16GB"}`
	}
	err = copyTable("player_events", []string{"event_id", "app_id", "build_id", "player_id", "event_name", "region", "hardware", "timestamp", "received_at"},
		func(yield func([]any) bool) {
			for _, p := range ids {
				at := firstSeen[p].Add(-time.Second)
				if !yield([]any{uuid.New(), g.app, benchBuilds[0], benchPlayer(p), "Create_Player", benchRegions[p%len(benchRegions)], hw(p), at, at}) {
					return
				}
			}
		})
	if err != nil {
		return total, err
	}
	err = copyTable("players", []string{"app_id", "player_id", "build_id", "region", "hardware", "first_seen", "last_seen"},
		func(yield func([]any) bool) {
			for _, p := range ids {
				at := firstSeen[p].Add(-time.Second)
				if !yield([]any{g.app, benchPlayer(p), benchBuilds[0], benchRegions[p%len(benchRegions)], hw(p), at, at}) {
					return
				}
			}
		})
	if err != nil {
		return total, err
	}
	total -= int64(len(ids)) // players rows are not telemetry rows

	err = copyTable("funnel_steps", []string{"event_id", "app_id", "build_id", "player_id", "session_id", "level_id", "funnel_step_name", "timestamp", "received_at"},
		func(yield func([]any) bool) {
			for i, s := range g.sessions {
				r := rand.New(rand.NewPCG(uint64(i), 3))
				at := s.start
				steps := []string{"Level_Start", "Level_Checkpoint", "Level_End"}
				if s.index == 0 {
					// Build 1.0.3 keeps more players through the tutorial.
					keep := 2 + r.IntN(3)
					if s.build == "1.0.3" {
						keep = 3 + r.IntN(2)
					}
					steps = append(slices.Clone(benchSteps[:min(keep, len(benchSteps))]), steps...)
				}
				for _, step := range steps {
					at = at.Add(time.Duration(30+r.IntN(600)) * time.Second)
					if !yield([]any{uuid.New(), g.app, s.build, benchPlayer(s.player), benchSessionID(i), s.level, step, at, at}) {
						return
					}
				}
			}
		})
	if err != nil {
		return total, err
	}
	err = copyTable("gameplay_events", []string{"event_id", "app_id", "build_id", "player_id", "session_id", "level_id", "event_name",
		"pos_x", "pos_y", "pos_z", "custom_data", "input_method", "timestamp", "received_at"},
		func(yield func([]any) bool) {
			for i, s := range g.sessions {
				r := rand.New(rand.NewPCG(uint64(i), 4))
				at := s.start
				for range s.events {
					at = at.Add(time.Duration(5+r.IntN(60)) * time.Second)
					name := benchNames[min(r.IntN(len(benchNames)+4), len(benchNames)-1)]
					var custom any
					if name == "Enemy_Killed" {
						custom = `{"weapon":"Sword","damage":` + fmt.Sprint(r.IntN(100)) + `}`
					}
					if !yield([]any{uuid.New(), g.app, s.build, benchPlayer(s.player), benchSessionID(i), s.level, name,
						r.Float64() * 100, r.Float64() * 10, r.Float64() * 100, custom, s.input, at, at}) {
						return
					}
				}
			}
		})
	if err != nil {
		return total, err
	}
	err = copyTable("trajectories", []string{"event_id", "app_id", "build_id", "player_id", "session_id", "status", "input_method",
		"fps_mean", "fps_low_5", "fps_low_1", "positions", "num_points", "timestamp_start", "timestamp_end", "received_at"},
		func(yield func([]any) bool) {
			for i, s := range g.sessions {
				r := rand.New(rand.NewPCG(uint64(i), 5))
				// Older GPUs and the jungle run slower.
				base := 140.0 - float64((s.player*7)%len(benchGPUs))*11
				if s.level == "Level_3_Jungle" {
					base -= 25
				}
				at := s.start.Add(30 * time.Second)
				for range s.events * 3 / 8 {
					at = at.Add(time.Duration(20+r.IntN(60)) * time.Second)
					fps := max(5, base+r.NormFloat64()*12)
					if !yield([]any{uuid.New(), g.app, s.build, benchPlayer(s.player), benchSessionID(i), "ok", s.input,
						fps, fps * 0.7, fps * 0.5, []float64{0, 0, 0, 1, 0, 1, 2, 0, 2}, 3, at, at.Add(15 * time.Second), at}) {
						return
					}
				}
			}
		})
	if err != nil {
		return total, err
	}
	// The level's paths: long position arrays, so smaller batches.
	err = copyTableBatch("trajectories", []string{"event_id", "app_id", "build_id", "player_id", "session_id", "status", "input_method",
		"level_id", "fps_mean", "fps_low_5", "fps_low_1", "positions", "num_points", "timestamp_start", "timestamp_end", "received_at"},
		2_000, func(yield func([]any) bool) { g.pathRows(g.levelPoints, yield) })
	if err != nil {
		return total, err
	}
	fmt.Fprintln(stdout, "  analyzing")
	_, err = pool.Exec(ctx, "ANALYZE")
	return total, err
}

func benchPlayer(p int) string    { return fmt.Sprintf("player-%d", p) }
func benchSessionID(i int) string { return fmt.Sprintf("s-%d", i) }
