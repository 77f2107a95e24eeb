package benchrun

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gamepipe/gamepipe/internal/loadgen"
)

// callbackSenders is how many callbacks the bench sends at once, and the
// raw ceiling's goroutines.
const callbackSenders = 16

// runWebhookCallbacks measures Generaitiv webhook callbacks/s taken by the
// api (the generation moved to finalizing, the token checked and its
// generaitiv_finalize job inserted, in one transaction), then how the
// finalize jobs take them to succeeded; against River InsertTx of one job
// per transaction from one process.
//
// The callbacks are real: generations created through the api
// (loadgen --mode generations), submitted by the worker's generate jobs to
// the simulator with PUBLIC_BASE_URL pointing at the bench, which catches
// what the simulator delivers (the capability tokens exist only there:
// the row keeps their hashes). The bench then sends them all to the real
// api at once, so the receiver is measured at its own pace rather than at
// the pace the generations were submitted.
func runWebhookCallbacks(ctx context.Context, b *Bench) ([]Row, error) {
	s := b.stack
	if err := b.clearTelemetry(ctx); err != nil {
		return nil, err
	}
	catcher, err := startCatcher()
	if err != nil {
		return nil, err
	}
	defer catcher.close()
	sm, err := s.startSim(ctx, "sim-fast", fastSimEnv)
	if err != nil {
		return nil, err
	}
	if err := s.restartWorker(ctx, s.jobWorkerEnv(sm, catcher.url)); err != nil {
		return nil, err
	}

	// 1. Generations through the api, callbacks caught.
	createFor := b.cfg.duration()
	sources := b.sourcesFor(1000)
	b.say("%s: creating generations through the api for %s (%d source addresses), the worker submitting them, callbacks caught...",
		rowWebhookCallbacks, createFor, sources)
	loadStart := time.Now()
	res, err := b.loadJobs(ctx, loadgen.JobConfig{Mode: loadgen.ModeGenerations, Concurrency: b.cfg.BatchConcurrency,
		Duration: createFor, Sources: sources})
	if err != nil {
		return nil, err
	}
	var created int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM generations`).Scan(&created); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for catcher.count() < created && time.Now().Before(deadline) {
		if err := sleepCtx(ctx, pollEvery); err != nil {
			return nil, err
		}
	}
	calls := catcher.take()
	if len(calls) == 0 {
		return nil, fmt.Errorf("no webhook reached the bench from %d generations (see %s)", created, s.worker.logPath)
	}
	submitRate := float64(len(calls)) / time.Since(loadStart).Seconds()

	// 2. Every callback to the api, callbackSenders at a time, with the
	// worker stopped: like the raw ceiling's, the jobs the callbacks insert
	// are not worked while the inserting is measured (on 2 shared cores the
	// finalize jobs would take a third of the machine from the receiver).
	s.stopWorker()
	b.say("%s: gamepipe, %d callbacks to the api, %d at a time...", rowWebhookCallbacks, len(calls), callbackSenders)
	prof := b.profile(ctx, 0, map[string]string{"api": s.pprofAPI})
	var (
		ok      int64
		elapsed time.Duration
		sendErr error
		codes   map[int]int64
	)
	oursCPU, err := b.phase("gamepipe", func() error {
		ok, codes, elapsed, sendErr = b.sendCallbacks(ctx, calls)
		return sendErr
	})
	b.waitProfiles(prof)
	if err != nil {
		return nil, err
	}
	ours := float64(ok) / elapsed.Seconds()

	// 3. The worker again: the finalize jobs take them to succeeded.
	if err := s.startWorker(ctx); err != nil {
		return nil, err
	}
	began := time.Now()
	finalizeWait := 60 * time.Second
	var succeeded, waiting int
	var lastDone *time.Time
	for end := time.Now().Add(finalizeWait); ; {
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'succeeded'),
				count(*) FILTER (WHERE status IN ('queued', 'submitting', 'submitted', 'processing', 'finalizing')),
				max(finished_at) FILTER (WHERE status = 'succeeded')
			FROM generations`).Scan(&succeeded, &waiting, &lastDone); err != nil {
			return nil, err
		}
		if waiting == 0 || time.Now().After(end) {
			break
		}
		if err := sleepCtx(ctx, pollEvery); err != nil {
			return nil, err
		}
	}
	finalizeNote := fmt.Sprintf("%d of %d generations succeeded", succeeded, created)
	if lastDone != nil && lastDone.After(began) {
		finalizeNote += fmt.Sprintf(", the last %.1fs after the worker was started again (%.0f succeeded/s: finalize downloads "+
			"the 128×128 PNG from the simulator, stores it, commits, announces)", lastDone.Sub(began).Seconds(),
			float64(succeeded)/lastDone.Sub(began).Seconds())
	}
	if waiting > 0 {
		finalizeNote += fmt.Sprintf("; %d still unfinished %s later", waiting, finalizeWait)
	}

	// 4. The raw ceiling, with the worker idle.
	s.stopWorker()
	b.say("%s: raw ceiling, River InsertTx of one job per transaction, %d goroutines...", rowWebhookCallbacks, callbackSenders)
	pool, err := b.rawPool(ctx, callbackSenders+2)
	if err != nil {
		return nil, err
	}
	var raw float64
	rawCPU, err := b.phase("raw", func() (err error) {
		raw, err = b.rawRiverInsertTx(ctx, pool, callbackSenders, b.cfg.duration())
		return err
	})
	pool.Close()
	if err != nil {
		return nil, err
	}

	row := ratioRow(rowWebhookCallbacks, "callbacks/s", ours, raw, 0.5)
	row.Note = fmt.Sprintf("callbacks answered 200 and applied by POST /webhooks/generaitiv/{id}?token= (one transaction in three round trips: begin with one UPDATE of the row holding the token's hash, under its row lock: "+
		"status → finalizing, the token compared in constant time on the row returned; the generaitiv_finalize insert; the job event with commit, the app having no webhook endpoint; the per-source webhook limit raised out of the way), %d sent %d at a time in %.2fs (answers %v); "+
		"the callbacks are the simulator's own (GENERAITIV_SIM_SECONDS=0.001), caught at PUBLIC_BASE_URL by the bench from %d generations "+
		"created through the api over %s (%s; all %d submitted and called back %.0f/s on average: the generate jobs) and then sent at once, with the worker stopped (as in the raw phase, the inserted jobs are not worked while inserting is measured). "+
		"%s. Raw: River InsertTx of one no-op job per transaction (begin, insert, commit), %d goroutines, one process. "+
		"Gamepipe phase: %s. Raw phase: %s.", len(calls), callbackSenders, elapsed.Seconds(), codes, created, createFor,
		jobResultLine(res), len(calls), submitRate, finalizeNote, callbackSenders, oursCPU, rawCPU)
	return []Row{row}, nil
}

// sendCallbacks posts every callback to the api, callbackSenders at a
// time, and returns how many were answered 200 and how long it took.
func (b *Bench) sendCallbacks(ctx context.Context, calls []callback) (ok int64, codes map[int]int64, elapsed time.Duration, err error) {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: callbackSenders, MaxIdleConnsPerHost: callbackSenders, DisableCompression: true,
	}}
	defer client.CloseIdleConnections()
	var (
		next     atomic.Int64
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	codes = map[int]int64{}
	start := time.Now()
	for range callbackSenders {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(calls)) || ctx.Err() != nil {
					return
				}
				c := calls[i]
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.stack.apiURL+c.uri, bytes.NewReader(c.body))
				if err == nil {
					req.Header.Set("Content-Type", "application/json")
					var resp *http.Response
					if resp, err = client.Do(req); err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						mu.Lock()
						codes[resp.StatusCode]++
						if resp.StatusCode == http.StatusOK {
							ok++
						}
						mu.Unlock()
					}
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed = time.Since(start)
	if firstErr != nil {
		return 0, nil, 0, fmt.Errorf("error sending a callback: %w", firstErr)
	}
	if ok == 0 {
		return 0, codes, elapsed, fmt.Errorf("no callback was answered 200: %v", codes)
	}
	return ok, codes, elapsed, ctx.Err()
}
