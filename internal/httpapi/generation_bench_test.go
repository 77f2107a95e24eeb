package httpapi

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/generaitiv"
)

// insertAwaiting bulk-inserts n submitted generations of app whose
// callback token is their own id, and returns the ids.
func (b *genTestBundle) insertAwaiting(tb testing.TB, n int) []string {
	tb.Helper()
	rows, err := b.pool.Query(context.Background(), `INSERT INTO generations (id, app_id, model, input, status, workload_id, callback_token_hashes, deadline_at)
		SELECT id, $1, 'm', '{"prompt":"p"}', 'submitted', 'w', ARRAY[sha256(convert_to(id::text, 'UTF8'))], now() + interval '1 hour'
		FROM (SELECT gen_random_uuid() AS id FROM generate_series(1, $2)) s RETURNING id::text`, b.appA.AppID, n)
	require.NoError(tb, err)
	var ids []string
	for rows.Next() {
		var id string
		require.NoError(tb, rows.Scan(&id))
		ids = append(ids, id)
	}
	require.NoError(tb, rows.Err())
	return ids
}

// BenchmarkGeneraitivWebhook measures the webhook receiver: each request is
// a first, valid callback for a different generation (token check under
// the row lock, status update and finalize job insert in one transaction).
//
//	go test ./internal/httpapi -run '^$' -bench BenchmarkGeneraitivWebhook -benchtime 3000x
func BenchmarkGeneraitivWebhook(b *testing.B) {
	bundle := genSetup(b, nil)
	ids := bundle.insertAwaiting(b, b.N)
	body := []byte(`{"status":"COMPLETED","link":"https://metadata.generaitiv.xyz/images/asset/x.png"}`)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var next atomic.Int64
	b.SetParallelism(8) // 16 concurrent senders on 2 cores, like an upstream's burst
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := ids[next.Add(1)-1]
			resp, err := client.Post(bundle.api.URL+"/webhooks/generaitiv/"+id+"?token="+id, "application/json", bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	b.StopTimer()
	var finalizing int
	require.NoError(b, bundle.pool.QueryRow(context.Background(), `SELECT count(*) FROM generations WHERE status = 'finalizing'`).Scan(&finalizing))
	require.Equal(b, b.N, finalizing)
}

// BenchmarkGeneraitivCallbackToSucceeded measures the time from a callback
// reaching the api to the generation's "succeeded" notification: the
// finalize job is fetched by River, downloads the PNG from the simulator
// into blob storage and commits succeeded. One generation at a time.
//
//	go test ./internal/httpapi -run '^$' -bench BenchmarkGeneraitivCallbackToSucceeded -benchtime 100x
func BenchmarkGeneraitivCallbackToSucceeded(b *testing.B) {
	bundle := genSetup(b, &genTestOpts{workers: true, simTime: 50 * time.Millisecond})
	c, err := generaitiv.New(&generaitiv.Config{BaseURL: bundle.simURL + "/v1/", APIKey: "k"})
	require.NoError(b, err)
	w, h, steps := 1024, 1024, 5
	resp, err := c.Generate(context.Background(), &generaitiv.GenRequest{Model: "m",
		Input: generaitiv.GenInput{Prompt: "p", Width: &w, Height: &h, NumInferenceSteps: &steps}})
	require.NoError(b, err)
	res, err := c.Follow(context.Background(), resp.WorkloadID, resp.JWT, nil)
	require.NoError(b, err)
	body := []byte(`{"status":"COMPLETED","link":"` + res.Link + `"}`)

	succeeded := make(chan string, 16)
	sub, err := bundle.nc.Subscribe(eventstream.NotifySubject(bundle.appA.AppID.String(), "generation", "succeeded"), func(m *nats.Msg) {
		i := strings.Index(string(m.Data), `"id":"`)
		succeeded <- string(m.Data[i+6 : i+6+36])
	})
	require.NoError(b, err)
	defer func() { _ = sub.Unsubscribe() }()
	ids := bundle.insertAwaiting(b, b.N)
	b.ResetTimer()
	for i := range b.N {
		id := ids[i]
		resp, err := http.Post(bundle.api.URL+"/webhooks/generaitiv/"+id+"?token="+id, "application/json", bytes.NewReader(body))
		require.NoError(b, err)
		_ = resp.Body.Close()
		require.Equal(b, http.StatusOK, resp.StatusCode)
		timeout := time.After(30 * time.Second)
		for done := false; !done; {
			select {
			case got := <-succeeded:
				done = got == id
			case <-timeout:
				b.Fatalf("generation %s did not succeed", id)
			}
		}
	}
	b.StopTimer()
}
