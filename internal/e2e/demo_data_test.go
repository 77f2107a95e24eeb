package e2e

import (
	"bytes"
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/blob"
	"github.com/gamepipe/gamepipe/internal/dashboard"
	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/demodata"
	"github.com/gamepipe/gamepipe/internal/gamepipecmd"
	"github.com/gamepipe/gamepipe/internal/httpapi"
)

// TestDemoData: gamepipe demo-data sends its week through the api, every
// event lands, the dashboard sees the story it tells (build 1.0.3 keeps
// more players through the tutorial), and with the secret key the demo
// levels' models are uploaded once.
func TestDemoData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	blobs, err := blob.NewDirStore(t.TempDir())
	require.NoError(t, err)
	s := newStack(t, &stackOpts{extra: func(t *testing.T, s *stack, _ *nats.Conn) httpapi.Deps {
		dash, err := dashboard.New(&dashboard.Config{}, &dashboard.Deps{Logger: zerolog.Nop(), DB: s.db.Pool})
		require.NoError(t, err)
		return httpapi.Deps{Dashboard: dash, Jobs: &httpapi.JobDeps{Pool: s.db.Pool, Blob: blobs}}
	}})
	app := s.app.AppID.String()
	want, err := demodata.Events(&demodata.Config{AppID: app, Players: 200})
	require.NoError(t, err)

	var out, errOut bytes.Buffer
	getenv := func(k string) string {
		return map[string]string{"DATABASE_URL": dbtest.URL(), "DATA_DIR": t.TempDir()}[k]
	}
	err = gamepipecmd.Run(ctx, []string{"demo-data", "--app", app, "--token", s.app.PublicToken, "--key", s.app.SecretKey,
		"--api", s.api.URL, "--players", "200"}, getenv, &out, &errOut)
	require.NoError(t, err, errOut.String())
	require.Contains(t, out.String(), "/dashboard/analytics")
	require.Contains(t, out.String(), "uploaded models of Level_1, Level_2, Level_3_Jungle")
	var formats []string
	require.NoError(t, s.db.Pool.QueryRow(ctx, `SELECT array_agg(level_name || ' ' || format || ' v' || version ORDER BY level_name)
		FROM level_models WHERE app_id = $1`, app).Scan(&formats))
	require.Equal(t, []string{"Level_1 glb v1", "Level_2 obj v1", "Level_3_Jungle glb v1"}, formats)
	// Levels that have a model get no second version.
	again, err := demodata.UploadModels(ctx, s.api.Client(), s.api.URL, s.app.SecretKey)
	require.NoError(t, err)
	require.Empty(t, again)
	require.Equal(t, 3, s.count(t, "SELECT count(*) FROM level_models"))

	total := `SELECT (SELECT count(*) FROM player_events) + (SELECT count(*) FROM funnel_steps)
		+ (SELECT count(*) FROM gameplay_events) + (SELECT count(*) FROM trajectories)`
	s.eventuallyCount(t, len(want), total)
	require.Equal(t, 200, s.count(t, "SELECT count(*) FROM players"))

	// Without --token, only the saved demo app's token is used.
	err = gamepipecmd.Run(ctx, []string{"demo-data", "--app", app, "--api", s.api.URL}, getenv, &out, &errOut)
	require.ErrorIs(t, err, gamepipecmd.ErrUsage)

	// The tutorial funnel by build, as the dashboard computes it.
	funnel := map[string]float64{}
	rows, err := s.db.Pool.Query(ctx, `WITH e AS (SELECT player_id, build_id, funnel_step_name AS step FROM funnel_steps)
		SELECT build_id, count(DISTINCT player_id) FILTER (WHERE step = 'Tutorial_End')::float8
			/ count(DISTINCT player_id) FILTER (WHERE step = 'Tutorial_Start') FROM e GROUP BY 1`)
	require.NoError(t, err)
	for rows.Next() {
		var (
			build string
			conv  float64
		)
		require.NoError(t, rows.Scan(&build, &conv))
		funnel[build] = conv
	}
	require.NoError(t, rows.Err())
	require.Greater(t, funnel["1.0.3"], funnel["1.0.2"]+0.1, "%v", funnel)
}
