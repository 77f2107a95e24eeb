package httpapi

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gamepipe/gamepipe/internal/ratelimit"
)

// BenchmarkIngest measures POST /api/events through the handler with a real
// in-process JetStream: decode, validate, encode, publish, await every ack.
// Run: go test ./internal/httpapi -run '^$' -bench Ingest -benchmem
func BenchmarkIngest(b *testing.B) {
	for _, size := range []int{1, 100} {
		b.Run(map[int]string{1: "Single", 100: "Batch100"}[size], func(b *testing.B) {
			bundle := setupBench(b)
			app := bundle.appA.AppID.String()
			var body []byte
			if size == 1 {
				body = packB(b, gameplay(app, 1))
			} else {
				batch := make([]any, size)
				for i := range batch {
					batch[i] = gameplay(app, i)
				}
				body = packB(b, batch)
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
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
			b.ReportMetric(float64(b.N*size)/time.Since(start).Seconds(), "events/s")
		})
	}
}

func setupBench(b *testing.B) *testBundle {
	b.Helper()
	return setupTB(b, &setupOpts{config: func(c *Config) {
		c.RateLimit = ratelimit.Config{Rate: 1e9, Burst: 1 << 30}
	}})
}
