package benchrun

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/loadgen"
	"github.com/gamepipe/gamepipe/internal/telemetry"
)

func TestConfigFromEnv(t *testing.T) {
	t.Parallel()

	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()

		cfg, err := ConfigFromEnv(env(nil), []string{"PATH=/bin"})
		require.NoError(t, err)
		require.Equal(t, 10, cfg.Seconds)
		require.Equal(t, "bench/out", cfg.OutDir)
		require.Equal(t, "gamepipe_bench", cfg.DBName)
		require.Equal(t, 1, cfg.Rounds)
		require.Equal(t, 60, cfg.SustainSeconds)
		require.Equal(t, 5, cfg.SustainSteps)
		require.InDelta(t, 9, cfg.sourceRate(), 1e-9)
		require.Equal(t, loadgen.DefaultMix, cfg.Mix)
		require.False(t, cfg.Profile)
		require.Equal(t, "postgres://postgres@127.0.0.1:5432/gamepipe_bench?sslmode=disable", cfg.databaseURL())
	})

	t.Run("Set", func(t *testing.T) {
		t.Parallel()

		cfg, err := ConfigFromEnv(env(map[string]string{
			"BENCH_SECONDS": "5", "BENCH_PROFILE": "1", "RATE_LIMIT_RPS": "20", "BENCH_MIX": "gameplay=1",
			"BENCH_ROUNDS": "3", "BENCH_DB": "other_bench", "BENCH_ONLY": "ingest-batch, sink",
			"BENCH_SUSTAIN_SECONDS": "5", "BENCH_SUSTAIN_STEPS": "2",
		}), nil)
		require.NoError(t, err)
		require.Equal(t, 5, cfg.Seconds)
		require.True(t, cfg.Profile)
		require.InDelta(t, 18, cfg.sourceRate(), 1e-9)
		require.Equal(t, loadgen.Mix{telemetry.KindGameplay: 1}, cfg.Mix)
		require.Equal(t, 3, cfg.Rounds)
		require.Equal(t, 5, cfg.SustainSeconds)
		require.Equal(t, 2, cfg.SustainSteps)
		require.Contains(t, cfg.databaseURL(), "/other_bench")
		require.True(t, cfg.runs("sink"))
		require.False(t, cfg.runs("ingest-single"))
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()

		for _, m := range []map[string]string{
			{"BENCH_SECONDS": "0"},
			{"BENCH_SECONDS": "x"},
			{"BENCH_SECONDS": "99999"},
			{"RATE_LIMIT_RPS": "-1"},
			{"BENCH_MIX": "bogus=1"},
			{"BENCH_DB": "Robert'); DROP TABLE"},
			{"BENCH_ROUNDS": "50"},
			{"BENCH_SUSTAIN_SECONDS": "0"},
			{"BENCH_SUSTAIN_STEPS": "21"},
			{"BENCH_ONLY": "sink-lag"},
			{"BENCH_ONLY": "ingest-batch,nope"},
			{"PG_ADMIN_URL": "mysql://x"},
		} {
			_, err := ConfigFromEnv(env(m), nil)
			require.Error(t, err, "%v", m)
		}
	})
}
