package telemetry

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// BatchSize counts a refused body's events from its array header alone,
// and never believes a header the body is too short for.
func TestBatchSize(t *testing.T) {
	t.Parallel()
	items := make([]any, 20)
	for i := range items {
		items[i] = map[string]any{"not": "an event"}
	}
	big := make([]any, 70_000) // an array32 header
	for i := range big {
		big[i] = 1
	}
	for name, c := range map[string]struct {
		body []byte
		want int
	}{
		"batch of invalid items":   {pack(t, items), 20},
		"batch16":                  {pack(t, make([]any, 300)), 300},
		"batch32":                  {pack(t, big), 70_000},
		"single event":             {pack(t, docExample(KindGameplay)), 1},
		"empty batch":              {pack(t, []any{}), 1},
		"empty body":               {nil, 1},
		"not msgpack":              {[]byte(`[{"json":true}]`), 1},
		"header claims too much":   {[]byte{0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0}, 1},
		"fixarray claims too much": {[]byte{0x9f, 0xc0}, 1},
	} {
		require.Equal(t, c.want, BatchSize(c.body), name)
	}
}
