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
		require.Equal(t, []string{"2m", "always"}, cfg.Syncs, "both settings, the default last")
		require.Equal(t, "postgres://postgres@127.0.0.1:5432/gamepipe_bench?sslmode=disable", cfg.databaseURL())
	})

	t.Run("Set", func(t *testing.T) {
		t.Parallel()

		cfg, err := ConfigFromEnv(env(map[string]string{
			"BENCH_SECONDS": "5", "BENCH_PROFILE": "1", "RATE_LIMIT_RPS": "20", "BENCH_MIX": "gameplay=1",
			"BENCH_ROUNDS": "3", "BENCH_DB": "other_bench", "BENCH_ONLY": "ingest-batch, sink",
			"BENCH_SUSTAIN_SECONDS": "5", "BENCH_SUSTAIN_STEPS": "2", "BENCH_SYNC": " Always ",
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
		require.Equal(t, []string{"always"}, cfg.Syncs)
	})

	t.Run("Syncs", func(t *testing.T) {
		t.Parallel()

		for v, want := range map[string][]string{
			"both":         {"2m", "always"},
			"2m":           {"2m"},
			"always":       {"always"},
			"always, 30s":  {"always", "30s"},
			"1s,2m,always": {"1s", "2m", "always"},
		} {
			cfg, err := ConfigFromEnv(env(map[string]string{"BENCH_SYNC": v}), nil)
			require.NoError(t, err, v)
			require.Equal(t, want, cfg.Syncs, v)
		}
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
			{"BENCH_SYNC": "sometimes"},
			{"BENCH_SYNC": "0s"},
			{"BENCH_SYNC": "-2m"},
			{"BENCH_SYNC": "always,always"},
			{"BENCH_SYNC": "both,always"},
			{"BENCH_SYNC": "2m,"},
		} {
			_, err := ConfigFromEnv(env(m), nil)
			require.Error(t, err, "%v", m)
		}
	})
}

func TestPlan(t *testing.T) {
	t.Parallel()

	ids := func(cfg *Config) []string {
		require.NoError(t, cfg.validate())
		var out []string
		for _, st := range cfg.plan(Scenarios()) {
			out = append(out, st.id()+" "+st.sync)
		}
		return out
	}
	base := func() *Config {
		return &Config{Seconds: 1, AdminURL: "postgres://x/y", DBName: "b", Rounds: 1, SustainSeconds: 1, SustainSteps: 1}
	}

	t.Run("BothSettingsIngestFirstThenTheRestAtAlways", func(t *testing.T) {
		t.Parallel()

		got := ids(base())
		require.Equal(t, []string{
			"ingest-batch@2m 2m", "ingest-single@2m 2m",
			"ingest-batch@always always", "ingest-single@always always",
			"sink always", "sustained always", "emote-jobs always", "emotes-in-flight always",
			"webhook-callbacks always", "api-memory always",
		}, got)
	})

	t.Run("Only", func(t *testing.T) {
		t.Parallel()

		cfg := base()
		cfg.Only = []string{"sustained", "ingest-batch"}
		require.Equal(t, []string{"ingest-batch@2m 2m", "ingest-batch@always always", "sustained always"}, ids(cfg))
	})

	t.Run("NoIngestNoSwitch", func(t *testing.T) {
		t.Parallel()

		cfg := base()
		cfg.Only = []string{"sink"}
		require.Equal(t, []string{"sink always"}, ids(cfg), "only the last setting is started")
	})

	t.Run("OneSetting", func(t *testing.T) {
		t.Parallel()

		cfg := base()
		cfg.Syncs = []string{"2m"}
		cfg.Only = []string{"ingest-single", "sink"}
		require.Equal(t, []string{"ingest-single@2m 2m", "sink 2m"}, ids(cfg), "the rest runs at the one setting")
	})
}
