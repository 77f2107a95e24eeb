package benchrun

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRow(t *testing.T) {
	t.Parallel()

	t.Run("RatioMet", func(t *testing.T) {
		t.Parallel()

		r := ratioRow("ingest", "events/s", 60000, 100000, 0.5)
		require.InDelta(t, 0.6, *r.Ratio, 1e-9)
		require.True(t, *r.Met)
		require.Equal(t, [5]string{"ingest", "60,000 events/s", "100,000 events/s", "0.60", "≥ 0.5 (met)"}, r.cells())
	})

	t.Run("RatioMissed", func(t *testing.T) {
		t.Parallel()

		r := ratioRow("sink", "rows/s", 5000, 10000, 0.7)
		require.False(t, *r.Met)
		require.Equal(t, "≥ 0.7 (missed)", r.cells()[4])
	})

	t.Run("NoRawNoRatio", func(t *testing.T) {
		t.Parallel()

		r := ratioRow("x", "events/s", 5, 0, 0.5)
		require.Nil(t, r.Ratio)
		require.Nil(t, r.Met)
	})

	t.Run("Limit", func(t *testing.T) {
		t.Parallel()

		r := limitRow("p99", "ms", 12.34, math.NaN(), 25)
		require.Nil(t, r.Raw, "NaN is no number")
		require.True(t, *r.Met)
		require.Equal(t, [5]string{"p99", "12.3 ms", "—", "—", "< 25.0 ms (met)"}, r.cells())
		r = limitRow("mem", "MB", 151, math.NaN(), 150)
		require.False(t, *r.Met)
	})

	t.Run("Pending", func(t *testing.T) {
		t.Parallel()

		r := pendingRow("emote jobs", "emotes/s", "needs issue 4", 0.2, "ratio", ">=")
		require.Nil(t, r.Ours)
		require.Nil(t, r.Met)
		require.Equal(t, [5]string{"emote jobs", "pending: needs issue 4", "—", "—", "≥ 0.2"}, r.cells())
	})

	t.Run("Failed", func(t *testing.T) {
		t.Parallel()

		r := Row{Scenario: "sink", Note: "failed: boom"}
		require.Equal(t, "failed", r.cells()[1])
	})

	t.Run("Numbers", func(t *testing.T) {
		t.Parallel()

		for v, want := range map[float64]string{1234567.8: "1,234,568", 999.4: "999", 12.345: "12.3", 1.234: "1.23", 0.0123: "0.012", -4321: "-4,321"} {
			require.Equal(t, want, formatNumber(v), "%v", v)
		}
	})
}

func TestReport(t *testing.T) {
	t.Parallel()

	rep := &Report{
		Started: time.Date(2026, 2, 12, 10, 0, 0, 0, time.UTC),
		Seconds: 5,
		Machine: "2 × test CPU",
		Rows: []Row{
			ratioRow("ingest, batches of 100", "events/s", 60000, 100000, 0.5),
			limitRow("api memory", "MB", 90, math.NaN(), 150),
			pendingRow("webhook callbacks", "callbacks/s", "needs issue 5", 0.5, "ratio", ">="),
		},
	}
	rep.Rows[0].Note = "how it was measured"

	var table strings.Builder
	rep.WriteTable(&table)
	lines := strings.Split(strings.TrimSpace(table.String()), "\n")
	require.Len(t, lines, 5)
	require.True(t, strings.HasPrefix(lines[0], "| scenario"))
	for _, l := range lines {
		require.Equal(t, len([]rune(lines[0])), len([]rune(l)), "columns line up: %q", l)
	}

	dir := t.TempDir()
	require.NoError(t, rep.WriteFiles(dir))
	raw, err := os.ReadFile(filepath.Join(dir, "latest.json"))
	require.NoError(t, err)
	require.Contains(t, string(raw), `">="`, "no HTML escaping")
	var rows []map[string]any
	require.NoError(t, json.Unmarshal(raw, &rows))
	require.Len(t, rows, 3)
	for _, key := range []string{"scenario", "ours", "raw", "ratio", "target", "unit"} {
		for _, r := range rows {
			require.Contains(t, r, key, "every row has %s, null or not", key)
		}
	}
	require.InDelta(t, 0.6, rows[0]["ratio"], 1e-9)
	require.Nil(t, rows[1]["raw"])
	require.Nil(t, rows[2]["ours"])
	require.Equal(t, "needs issue 5", rows[2]["pending"])

	md, err := os.ReadFile(filepath.Join(dir, "latest.md"))
	require.NoError(t, err)
	require.Contains(t, string(md), "2 × test CPU")
	require.Contains(t, string(md), "- **ingest, batches of 100**: how it was measured")
}
