package benchrun

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// Queues of the River raw ceilings: no gamepipe worker serves them.
const (
	rawNoopQueue   = "bench_noop"
	rawInsertQueue = "bench_insert"
)

// noopArgs is the raw ceilings' job: it does nothing.
type noopArgs struct{}

func (noopArgs) Kind() string { return "bench_noop" }

type noopWorker struct {
	river.WorkerDefaults[noopArgs]
}

func (noopWorker) Work(context.Context, *river.Job[noopArgs]) error { return nil }

// quietLogger drops River's logs.
var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// rawPool opens a pool of conns connections to the bench database, all
// connected (so the phase's CPU accounting finds their backends).
func (b *Bench) rawPool(ctx context.Context, conns int32) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(b.stack.dbURL)
	if err != nil {
		return nil, err
	}
	pc.MaxConns, pc.MinConns = conns, conns
	pc.ConnConfig.RuntimeParams["application_name"] = "gamepipe-bench-raw"
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, err
	}
	held := make([]*pgxpool.Conn, 0, conns)
	defer func() {
		for _, c := range held {
			c.Release()
		}
	}()
	for range conns {
		c, err := pool.Acquire(ctx)
		if err != nil {
			pool.Close()
			return nil, err
		}
		held = append(held, c)
	}
	return pool, nil
}

// riverTuning is how a River raw ceiling's client fetches: its queue's
// workers, FetchPollInterval and FetchCooldown (0: River's default).
type riverTuning struct {
	workers  int
	poll     time.Duration
	cooldown time.Duration
}

// throughputTuning is River tuned for throughput, with the settings
// River's own benchmark command (riverbench, in River's repository) uses:
// its authors found them much faster than the defaults, which bound a
// queue to MaxWorkers jobs per FetchCooldown (100 ms). A fetch at most
// every 2 ms, a poll every 20 ms, and 1,000 workers, about the best they
// measured.
var throughputTuning = riverTuning{workers: 1000, poll: 20 * time.Millisecond, cooldown: 2 * time.Millisecond}

func (t riverTuning) String() string {
	cooldown := "default 100ms"
	if t.cooldown > 0 {
		cooldown = t.cooldown.String()
	}
	return fmt.Sprintf("%d workers, FetchPollInterval %s, FetchCooldown %s", t.workers, t.poll, cooldown)
}

// rawRiverNoop measures River no-op jobs/s: a River client in this
// process, on the bench database, with one queue fetching as tuning says
// (the worker's settings, or River's for throughput), working a backlog of
// no-op jobs inserted beforehand (and topped up if it runs low). It counts
// job_completed events over d after a warmup.
func (b *Bench) rawRiverNoop(ctx context.Context, pool *pgxpool.Pool, tuning riverTuning, d time.Duration) (float64, error) {
	workers := river.NewWorkers()
	river.AddWorker(workers, noopWorker{})
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Logger:            quietLogger,
		Queues:            map[string]river.QueueConfig{rawNoopQueue: {MaxWorkers: tuning.workers}},
		Workers:           workers,
		FetchPollInterval: tuning.poll,
		FetchCooldown:     tuning.cooldown,
		JobTimeout:        time.Minute,
	})
	if err != nil {
		return 0, fmt.Errorf("error creating the raw River client: %w", err)
	}
	defer func() {
		_, _ = b.stack.pool.Exec(context.WithoutCancel(ctx), "DELETE FROM river_job WHERE queue = $1", rawNoopQueue)
	}()
	var inserted atomic.Int64
	insert := func(n int) error {
		params := make([]river.InsertManyParams, n)
		for i := range params {
			params[i] = river.InsertManyParams{Args: noopArgs{}, InsertOpts: &river.InsertOpts{Queue: rawNoopQueue}}
		}
		_, err := client.InsertManyFast(ctx, params)
		if err == nil {
			inserted.Add(int64(n))
		}
		return err
	}
	for range max(4, b.cfg.Seconds) {
		if err := insert(5000); err != nil {
			return 0, fmt.Errorf("error inserting no-op jobs: %w", err)
		}
	}
	// A channel large enough that no completion is dropped at the tuned
	// client's rate (River drops events a full channel cannot take).
	events, cancel := client.SubscribeConfig(&river.SubscribeConfig{ChanSize: 100000, Kinds: []river.EventKind{river.EventKindJobCompleted}})
	defer cancel()
	var completed atomic.Int64
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-runCtx.Done():
				return
			case _, ok := <-events:
				if !ok {
					return
				}
				completed.Add(1)
			}
		}
	})
	// Keep a backlog: a measurement that runs out of jobs measures nothing.
	var feedErr error
	wg.Go(func() {
		for sleepCtx(runCtx, 100*time.Millisecond) == nil {
			for runCtx.Err() == nil && inserted.Load()-completed.Load() < 20000 {
				if err := insert(5000); err != nil && runCtx.Err() == nil {
					feedErr = err
					return
				}
			}
		}
	})
	if err := client.Start(runCtx); err != nil {
		return 0, fmt.Errorf("error starting the raw River client: %w", err)
	}
	err = sleepCtx(ctx, warmup)
	c0, t0 := completed.Load(), time.Now()
	if err == nil {
		err = sleepCtx(ctx, d)
	}
	c1, t1 := completed.Load(), time.Now()
	stop()
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer scancel()
	_ = client.Stop(sctx)
	wg.Wait()
	if err != nil {
		return 0, err
	}
	if feedErr != nil {
		return 0, fmt.Errorf("error inserting no-op jobs: %w", feedErr)
	}
	if c1 <= c0 {
		return 0, fmt.Errorf("the raw River client completed no job")
	}
	return float64(c1-c0) / t1.Sub(t0).Seconds(), nil
}

// rawRiverInsertTx measures River InsertTx of one job per transaction:
// goroutines each begin a transaction, insert one no-op job with an
// insert-only client and commit, for d after a warmup.
func (b *Bench) rawRiverInsertTx(ctx context.Context, pool *pgxpool.Pool, goroutines int, d time.Duration) (float64, error) {
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Logger: quietLogger})
	if err != nil {
		return 0, fmt.Errorf("error creating the raw River client: %w", err)
	}
	defer func() {
		_, _ = b.stack.pool.Exec(context.WithoutCancel(ctx), "DELETE FROM river_job WHERE queue = $1", rawInsertQueue)
	}()
	start := time.Now()
	from, until := start.Add(warmup), start.Add(warmup+d)
	var n atomic.Int64
	var firstErr atomic.Pointer[error]
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for ctx.Err() == nil {
				now := time.Now()
				if !now.Before(until) {
					return
				}
				tx, err := pool.Begin(ctx)
				if err == nil {
					_, err = client.InsertTx(ctx, tx, noopArgs{}, &river.InsertOpts{Queue: rawInsertQueue})
					if err == nil {
						err = tx.Commit(ctx)
					} else {
						_ = tx.Rollback(ctx)
					}
				}
				if err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				if !now.Before(from) {
					n.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		return 0, fmt.Errorf("raw InsertTx: %w", *e)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return float64(n.Load()) / d.Seconds(), nil
}
