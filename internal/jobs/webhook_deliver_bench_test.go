package jobs

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/store"
)

// BenchmarkWebhookDeliveries measures deliveries per second to a local
// receiver that answers 200 at once: b.N job status changes, each stored
// with its delivery in one transaction, then sent, signed, by four
// workers, and recorded.
func BenchmarkWebhookDeliveries(b *testing.B) {
	var got atomic.Int64
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		got.Add(1)
	}))
	b.Cleanup(recv.Close)
	env := newWebhookEnvTB(b, &WebhookDeps{AllowPrivate: true, RetrySchedule: fastRetries})
	env.endpointTB(b, recv.URL, true, "*")
	ctx := context.Background()

	b.ResetTimer()
	start := time.Now()
	for range b.N {
		g := &store.Generation{ID: uuid.New(), AppID: env.appID, Model: "m", Input: json.RawMessage(`{}`), DeadlineAt: time.Now().Add(time.Hour)}
		require.NoError(b, pgx.BeginFunc(ctx, env.pool, func(tx pgx.Tx) error { return store.GenerationInsert(ctx, tx, g) }))
	}
	require.Eventually(b, func() bool { return got.Load() >= int64(b.N) }, 10*time.Minute, 10*time.Millisecond)
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "deliveries/s")
}
