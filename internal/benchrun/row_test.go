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

	t.Run("FigureNoTarget", func(t *testing.T) {
		t.Parallel()

		r := figureRow("cpu", "µs/event", 30, 10)
		require.InDelta(t, 3, *r.Ratio, 1e-9)
		require.Nil(t, r.Target)
		require.Nil(t, r.Met)
		require.Equal(t, "—", r.cells()[4])
	})

	t.Run("Numbers", func(t *testing.T) {
		t.Parallel()

		for v, want := range map[float64]string{1234567.8: "1,234,568", 999.4: "999", 12.345: "12.3", 1.234: "1.23", 0.0123: "0.012", -4321: "-4,321"} {
			require.Equal(t, want, formatNumber(v), "%v", v)
		}
	})
}

func TestIngestRowsBySync(t *testing.T) {
	t.Parallel()

	ingest := Scenarios()[0]
	require.True(t, ingest.PerSync)
	at := func(sync string) *Bench { return &Bench{step: step{sc: ingest, sync: sync}} }

	t.Run("Names", func(t *testing.T) {
		t.Parallel()

		require.Equal(t, "ingest, batches of 100 @always", at("always").step.name(rowIngestBatch))
		require.Equal(t, "ingest, batches of 100 @2m", at("2m").step.name(rowIngestBatch))
		require.Equal(t, "ingest-batch@2m", at("2m").step.id())
		once := step{sc: Scenario{Name: "sink"}, sync: "always"}
		require.Equal(t, "sink", once.name(rowSink), "a scenario run once keeps its name")
		require.Equal(t, "sink", once.id())
	})

	t.Run("TargetsAtAlways", func(t *testing.T) {
		t.Parallel()

		b := at("always")
		r := figureRow(rowIngestBatch, "events/s", 50000, 80000)
		b.ingestTarget(&r, ">=", batchTargetAlways)
		require.Equal(t, "ours", r.TargetOf)
		require.True(t, *r.Met)
		require.InDelta(t, 0.625, *r.Ratio, 1e-9, "the ratio is still reported")
		require.Equal(t, "≥ 45,000 events/s (met)", r.cells()[4])

		r = figureRow(rowIngestSingle, "requests/s", 5999, 9000)
		b.ingestTarget(&r, ">=", singleTargetAlways)
		require.False(t, *r.Met)

		p99 := Row{Scenario: rowIngestSingleP99, Unit: "ms", Ours: num(51)}
		b.ingestTarget(&p99, "<", singleP99TargetAlways)
		require.False(t, *p99.Met)
		require.Equal(t, "< 50.0 ms (missed)", p99.cells()[4])
	})

	t.Run("NoTargetAtAnotherSetting", func(t *testing.T) {
		t.Parallel()

		r := figureRow(rowIngestBatch, "events/s", 10, 80000)
		r.Note = "measured."
		at("2m").ingestTarget(&r, ">=", batchTargetAlways)
		require.Nil(t, r.Target)
		require.Nil(t, r.Met)
		require.Empty(t, r.TargetOf)
		require.Empty(t, r.Cmp)
		require.Contains(t, r.Note, "measured. No target at this setting")
		require.Contains(t, syncNote("2m"), "every 2m")
		require.Contains(t, syncNote("always"), "on disk")
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
	rep.Rows[0].Sync = "always"

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
	require.Equal(t, "always", rows[0]["sync"])
	require.NotContains(t, rows[1], "sync", "no setting, no key")

	md, err := os.ReadFile(filepath.Join(dir, "latest.md"))
	require.NoError(t, err)
	require.Contains(t, string(md), "2 × test CPU")
	require.Contains(t, string(md), "- **ingest, batches of 100**: how it was measured")
}
