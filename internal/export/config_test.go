package export

import (
	"cmp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/config"
)

// testConfig returns c with every operator-set value it leaves zero set as
// in production, from internal/config's defaults.
func testConfig(t testing.TB, c *Config) *Config {
	t.Helper()
	prod, err := config.ExporterFromEnv(func(string) string { return "" })
	require.NoError(t, err)
	out := *c
	out.MaxFileBytes = cmp.Or(out.MaxFileBytes, prod.ExportMaxFileBytes)
	out.MaxAge = cmp.Or(out.MaxAge, prod.ExportMaxAge)
	out.MaxBufferedEvents = cmp.Or(out.MaxBufferedEvents, prod.ExportMaxBufferedEvents)
	out.FetchBatch = cmp.Or(out.FetchBatch, prod.ExportFetchBatch)
	out.AckWait = cmp.Or(out.AckWait, prod.ExportAckWait)
	out.CompleteGrace = cmp.Or(out.CompleteGrace, prod.ExportCompleteGrace)
	return &out
}
