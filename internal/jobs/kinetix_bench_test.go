package jobs

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/upstreamsim/kinetixsim"
)

// BenchmarkKinetixEmotesInFlight measures how many emotes one worker holds
// in flight while the upstream takes a long time per process, and the
// worker's memory then. It enqueues KINETIX_BENCH_EMOTES emotes (default
// 1000) against the simulator taking KINETIX_BENCH_PROCESS_SECONDS per
// process (default 60), with the production defaults (10 kinetix workers,
// polls from 1s doubling to 30s), waits until every emote has its upstream
// process, samples RSS while they are all processing, and waits for all to
// complete. Run it alone, once:
//
//	go test ./internal/jobs -run '^$' -bench KinetixEmotesInFlight -benchtime 1x -timeout 15m
//
// The simulator runs in the same process (its share of the memory is
// small: a few hundred bytes per process).
func BenchmarkKinetixEmotesInFlight(b *testing.B) {
	emotes := envInt("KINETIX_BENCH_EMOTES", 1000)
	processSeconds := envInt("KINETIX_BENCH_PROCESS_SECONDS", 60)
	const workers = 10
	ctx := context.Background()

	for b.Loop() {
		env := newKinetixEnv(b, &kinetixEnvOpts{
			poolConns: workers + 8,
			sim:       &kinetixsim.Config{ProcessDuration: time.Duration(processSeconds) * time.Second},
			kinetix: func(k *KinetixDeps) {
				k.PollMin, k.PollMax, k.Deadline = time.Second, 30*time.Second, 10*time.Minute
			},
		})
		client := env.riverClient(b, workers, func(c *river.Config) { c.JobTimeout = time.Minute; c.FetchPollInterval = time.Second })
		start(b, client)

		began := time.Now()
		enqueueMany(b, env, client, emotes)
		inserted := time.Since(began)

		count := func(status string) int {
			var n int
			require.NoError(b, env.db.Pool.QueryRow(ctx, "SELECT count(*) FROM emotes WHERE status = $1", status).Scan(&n))
			return n
		}
		var peakRSS, peakInFlight int64
		sample := func() {
			peakRSS = max(peakRSS, rssBytes())
			peakInFlight = max(peakInFlight, int64(count("processing")))
		}
		deadline := time.Now().Add(time.Duration(processSeconds)*time.Second + 5*time.Minute)
		allCreated := time.Duration(0)
		for count(string(store.JobSucceeded)) < emotes {
			require.True(b, time.Now().Before(deadline), "emotes did not complete in time")
			sample()
			if allCreated == 0 && env.sim.ProcessesCreated() == emotes {
				allCreated = time.Since(began)
			}
			time.Sleep(250 * time.Millisecond) // sampling interval
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		st := env.sim.Stats()
		b.ReportMetric(float64(peakInFlight), "emotes_in_flight")
		b.ReportMetric(float64(peakRSS)/(1<<20), "peak_rss_MiB")
		b.ReportMetric(float64(ms.HeapSys)/(1<<20), "heap_sys_MiB")
		b.ReportMetric(allCreated.Seconds(), "s_to_create_all")
		b.ReportMetric(time.Since(began).Seconds(), "s_to_complete_all")
		b.ReportMetric(inserted.Seconds(), "s_to_insert")
		b.ReportMetric(float64(st.Requests["GET /v1/process/{uuid}"])/float64(emotes), "polls_per_emote")
		b.ReportMetric(float64(st.MaxInFlight), "max_upstream_concurrency")
	}
}

// enqueueMany inserts n emotes and their jobs, 500 per transaction.
func enqueueMany(b *testing.B, env *kinetixEnv, client *river.Client[pgx.Tx], n int) {
	ctx := context.Background()
	info, err := env.blobs.Put(ctx, bytes.NewReader(testVideo), 0)
	require.NoError(b, err)
	for done := 0; done < n; {
		batch := min(500, n-done)
		require.NoError(b, pgx.BeginFunc(ctx, env.db.Pool, func(tx pgx.Tx) error {
			rows := make([]*store.Emote, batch)
			params := make([]river.InsertManyParams, batch)
			for i := range rows {
				rows[i] = &store.Emote{ID: uuid.Must(uuid.NewV7()), AppID: env.appID, UserID: "player-" + strconv.Itoa(done+i),
					Name: "wave", EndMS: 2000, VideoKey: info.Key, VideoSize: info.Size, VideoFormat: "mp4"}
				params[i] = river.InsertManyParams{Args: KinetixEmoteArgs{EmoteID: rows[i].ID}}
			}
			res, err := client.InsertManyTx(ctx, tx, params)
			if err != nil {
				return err
			}
			for i, e := range rows {
				e.JobID = res[i].Job.ID
				if err := store.EmoteInsert(ctx, tx, e); err != nil {
					return err
				}
			}
			return nil
		}))
		done += batch
	}
}

// rssBytes reads this process's resident set size (Linux).
func rssBytes() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
