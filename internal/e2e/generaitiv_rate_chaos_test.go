//go:build chaos

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/jobs"
	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/upstreamsim/generaitivsim"
)

// TestGeneraitivKeyRateChaos: three worker processes (workercmd, as
// cmd/worker runs it) share one Generaitiv API key with
// GENERAITIV_RATE_LIMIT=4 and work 80 generations at once, each process
// able to send three times that rate on its own. The simulator counts the
// rate-limited calls it receives (its REST routes under /v1/) and never
// sees more than the key's rate across all three: over any window W at
// most burst + (W + slack)×rate calls, where slack covers the time
// between a call's slot and its arrival on a busy machine; three
// processes limiting on their own would send about three times as many.
func TestGeneraitivKeyRateChaos(t *testing.T) {
	ctx := context.Background()
	const (
		rate        = 4  // GENERAITIV_RATE_LIMIT, calls per second per key
		burst       = 10 // the workers' burst per key (workercmd)
		generations = 80
		window      = 5 * time.Second
		slack       = 3 * time.Second
	)

	sim := generaitivsim.New(&generaitivsim.Config{GenerationTime: 200 * time.Millisecond, GenRate: 1000, GenBurst: 1000})
	var (
		mu       sync.Mutex
		arrivals []time.Time
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The websocket, images and signed uploads are not API calls the
		// key's limit spaces; everything under /v1/ is.
		if strings.HasPrefix(r.URL.Path, "/v1/") && r.Header.Get("Upgrade") == "" {
			mu.Lock()
			arrivals = append(arrivals, time.Now())
			mu.Unlock()
		}
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { srv.Close(); sim.Close() })

	s := newStack(t, &stackOpts{noSink: true})
	env := []string{"GAMEPIPE_E2E_WORKER=1", "DATABASE_URL=" + s.db.URL, "NATS_URL=" + s.natsURL, "LOG_LEVEL=warn",
		"LOG_FORMAT=json", "DATA_DIR=" + t.TempDir(), "WORKER_HTTP_ADDR=127.0.0.1:0",
		"GENERAITIV_BASE_URL=" + srv.URL + "/v1/", "GENERAITIV_API_KEY=one-shared-key",
		fmt.Sprintf("GENERAITIV_RATE_LIMIT=%d", rate), "GENERAITIV_CONCURRENCY=6",
		// One app may use the key's whole rate in each process, and run
		// every generation at once: only the key's limit holds them back.
		"GENERAITIV_APP_SHARE=1", fmt.Sprintf("APP_GENERAITIV_IN_FLIGHT=%d", generations)}
	start := time.Now()
	for i := range 3 {
		newSubprocess(t, fmt.Sprintf("worker%d", i+1), env...).start()
	}

	// What POST /v1/generations inserts: the row and its generate job.
	inserter, err := river.NewClient(riverpgxv5.New(s.db.Pool), &river.Config{})
	require.NoError(t, err)
	input := json.RawMessage(`{"prompt":"a red fox","width":128,"height":128,"num_inference_steps":10}`)
	require.NoError(t, pgx.BeginFunc(ctx, s.db.Pool, func(tx pgx.Tx) error {
		var params []river.InsertManyParams
		for range generations {
			g := &store.Generation{ID: uuid.New(), AppID: s.app.AppID, Model: "stability-ai-sdxl", Input: input,
				DeadlineAt: time.Now().Add(time.Hour)}
			if err := store.GenerationInsert(ctx, tx, g); err != nil {
				return err
			}
			params = append(params, river.InsertManyParams{Args: jobs.GeneraitivGenerateArgs{GenerationID: g.ID}})
		}
		_, err := inserter.InsertManyTx(ctx, tx, params)
		return err
	}))

	statuses := func() map[string]int {
		rows, err := s.db.Pool.Query(ctx, "SELECT status, count(*) FROM generations GROUP BY status")
		require.NoError(t, err)
		out := map[string]int{}
		for rows.Next() {
			var st string
			var n int
			require.NoError(t, rows.Scan(&st, &n))
			out[st] = n
		}
		require.NoError(t, rows.Err())
		return out
	}
	require.Eventually(t, func() bool { return statuses()[string(store.JobSucceeded)] == generations },
		5*time.Minute, 250*time.Millisecond, "every generation succeeds")
	t.Logf("generations: %v", statuses())

	mu.Lock()
	seen := slices.Clone(arrivals)
	mu.Unlock()
	slices.SortFunc(seen, func(a, b time.Time) int { return a.Compare(b) })
	require.GreaterOrEqual(t, len(seen), generations, "each generation was submitted")
	require.GreaterOrEqual(t, sim.Stats().GenAccepted, generations)

	// The most calls that arrived within any window of the given length.
	most := func(w time.Duration) int {
		n, j := 0, 0
		for i := range seen {
			for j < len(seen) && seen[j].Sub(seen[i]) <= w {
				j++
			}
			n = max(n, j-i)
		}
		return n
	}
	limit := burst + int((window+slack).Seconds()*rate)
	t.Logf("%d calls in %s; at most %d in one second, %d in %s (limit %d)",
		len(seen), seen[len(seen)-1].Sub(seen[0]), most(time.Second), most(window), window, limit)
	require.LessOrEqual(t, most(window), limit, "the key's rate held across the three workers")
	// Slots are one interval apart and none is more than burst-1
	// intervals before the first call was asked for (after start), so the
	// last call cannot arrive before this however the machine schedules.
	least := time.Duration(float64(len(seen)-burst) / rate * float64(time.Second))
	require.GreaterOrEqual(t, seen[len(seen)-1].Sub(start), least, "the key's rate held across the three workers")
}
