package httpapi

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/ratelimit"
)

// BenchmarkIngest measures POST /api/events through the handler with a real
// in-process JetStream: decode, validate, encode, publish, await every ack.
// Single and Batch100 run one client per CPU sending one body over and over
// (after the first, every message is a duplicate the stream drops) and
// publish at once; the Clients64 rows run 64 clients per CPU sending 1024
// different bodies in turn, each on its own and with the api's default
// group commit (Grouped: INGEST_LINGER=0, messages gather behind the one
// awaiting its ack).
// Run: go test ./internal/httpapi -run '^$' -bench Ingest -benchmem
func BenchmarkIngest(b *testing.B) {
	rows := []struct {
		name    string
		size    int
		clients int // per CPU; 0: RunParallel's default of 1
		group   bool
	}{
		{"Single", 1, 0, false},
		{"Batch100", 100, 0, false},
		{"Single/Clients64", 1, 64, false},
		{"Single/Clients64/Grouped", 1, 64, true},
		{"Batch100/Clients64/Grouped", 100, 64, true},
	}
	for _, row := range rows {
		b.Run(row.name, func(b *testing.B) {
			bundle := setupBench(b, row.group)
			app := bundle.appA.AppID.String()
			n := 1
			if row.clients > 0 {
				n = 1024
			}
			bodies := make([][]byte, n)
			for j := range bodies {
				batch := make([]any, row.size)
				for i := range batch {
					batch[i] = gameplay(app, j*row.size+i)
				}
				if row.size == 1 {
					bodies[j] = packB(b, batch[0])
				} else {
					bodies[j] = packB(b, batch)
				}
			}
			var next atomic.Uint64
			b.SetBytes(int64(len(bodies[0])))
			b.ReportAllocs()
			if row.clients > 0 {
				b.SetParallelism(row.clients)
			}
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					body := bodies[next.Add(1)%uint64(len(bodies))]
					req := httptest.NewRequest(http.MethodPost, "/api/events", bytes.NewReader(body))
					req.Header.Set("Content-Type", "application/msgpack")
					req.Header.Set("x-public-token", bundle.appA.PublicToken)
					rec := httptest.NewRecorder()
					bundle.api.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Errorf("status %d: %s", rec.Code, rec.Body)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N*row.size)/time.Since(start).Seconds(), "events/s")
		})
	}
}

func setupBench(b *testing.B, group bool) *testBundle {
	b.Helper()
	return setupTB(b, &setupOpts{
		config: func(c *Config) {
			c.RateLimit = ratelimit.Config{Rate: 1e9, Burst: 1 << 30}
		},
		publisher: func(c *eventstream.PublisherConfig) { c.Group = group },
	})
}
