package benchrun

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/gamepipe/gamepipe/internal/blob"
	"github.com/gamepipe/gamepipe/internal/jobs"
	"github.com/gamepipe/gamepipe/internal/loadgen"
	"github.com/gamepipe/gamepipe/internal/store"
)

// Row names of the job scenarios.
const (
	rowEmoteJobs         = "emote jobs, zero-latency simulator"
	rowEmoteJobsTuned    = "emote jobs, against River tuned for throughput"
	rowEmotePostgres     = "emote jobs, Postgres work per emote"
	rowEmotesInFlight    = "emotes in flight, simulator takes 60 s"
	rowEmotesInFlightRSS = "emotes in flight, worker RSS"
	rowWebhookCallbacks  = "webhook callbacks"
)

// emoteJobSettings are the worker's River settings for the kinetix queue,
// which the raw ceiling copies.
func (b *Bench) emoteJobSettings() (concurrency int, poll time.Duration, conns int32) {
	// The worker's defaults (internal/config/jobs.go), unless overridden.
	concurrency = b.cfg.envInt("KINETIX_CONCURRENCY", 40)
	poll = b.cfg.envDuration("RIVER_POLL_INTERVAL", time.Second)
	q := jobs.QueueConfig{KinetixWorkers: concurrency, GeneraitivWorkers: b.cfg.envInt("GENERAITIV_CONCURRENCY", 20)}
	return concurrency, poll, int32(q.MaxWorkers() + 8)
}

// runEmoteJobs measures emotes/s reaching completed through the api and
// the worker against a Kinetix simulator that finishes a process at once,
// against two River ceilings of no-op jobs/s: River with the worker's
// client settings, and River tuned for throughput. It also counts the
// Postgres work per emote.
func runEmoteJobs(ctx context.Context, b *Bench) ([]Row, error) {
	s := b.stack
	concurrency, poll, conns := b.emoteJobSettings()
	if err := b.clearTelemetry(ctx); err != nil { // and the raw ceilings run alone
		return nil, err
	}
	defaults := riverTuning{workers: concurrency, poll: poll}
	ceilings := []struct {
		tuning riverTuning
		rate   float64
		cpu    string
	}{{tuning: defaults}, {tuning: throughputTuning}}
	for i := range ceilings {
		c := &ceilings[i]
		b.say("%s: raw ceiling, River no-op jobs, one queue, %s, pool %d, backlog kept...", rowEmoteJobs, c.tuning, conns)
		pool, err := b.rawPool(ctx, conns)
		if err != nil {
			return nil, err
		}
		c.cpu, err = b.phase("raw", func() (err error) {
			c.rate, err = b.rawRiverNoop(ctx, pool, c.tuning, b.cfg.duration())
			return err
		})
		pool.Close()
		if err != nil {
			return nil, err
		}
	}
	raw, tuned := ceilings[0], ceilings[1]

	sm, err := s.startSim(ctx, "sim-fast", fastSimEnv)
	if err != nil {
		return nil, err
	}
	if err := s.restartWorker(ctx, s.jobWorkerEnv(sm, "")); err != nil {
		return nil, err
	}
	counter := b.pgWorkCounter(ctx)
	work0, err := counter.settled(ctx)
	if err != nil {
		return nil, err
	}
	sources := b.sourcesFor(raw.rate * 1.2)
	b.say("%s: gamepipe, POST /v1/emotes, %d in flight from %d source addresses, worker on the simulator...", rowEmoteJobs, b.cfg.BatchConcurrency, sources)
	prof := b.profile(ctx, 0, map[string]string{"api": s.pprofAPI, "worker": s.pprofWrk})
	began := time.Now()
	var res *loadgen.JobResult
	oursCPU, err := b.phase("gamepipe", func() (err error) {
		res, err = b.loadJobs(ctx, loadgen.JobConfig{Mode: loadgen.ModeEmotes, Concurrency: b.cfg.BatchConcurrency,
			Duration: b.cfg.duration(), Warmup: warmup, Sources: sources})
		return err
	})
	b.waitProfiles(prof)
	if err != nil {
		return nil, err
	}
	// An emote needs two runs of its job a snooze apart (create, then
	// poll): the completions are counted over the load's window shifted
	// by that latency, PollMin (1 s) plus a River poll.
	shift := time.Second + poll
	from := began.Add(warmup + shift)
	until := from.Add(b.cfg.duration())
	if err := sleepCtx(ctx, time.Until(until)); err != nil {
		return nil, err
	}
	var inWindow int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM emotes WHERE status = 'succeeded' AND finished_at >= $1 AND finished_at < $2`,
		from, until).Scan(&inWindow); err != nil {
		return nil, err
	}
	ours := float64(inWindow) / b.cfg.duration().Seconds()
	// Then let the rest finish, for the end-to-end latencies.
	st, err := b.waitEmotes(ctx, began, 30*time.Second)
	if err != nil {
		return nil, err
	}
	work, err := counter.since(ctx, work0)
	if err != nil {
		return nil, err
	}
	var emotes int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM emotes WHERE created_at >= $1`, began).Scan(&emotes); err != nil {
		return nil, err
	}

	row := ratioRow(rowEmoteJobs, "emotes/s", ours, raw.rate, 0.2)
	row.Note = fmt.Sprintf("emotes reaching completed (finished_at) over %ds, the load's window shifted by %s (an emote is a create run, a %s snooze, "+
		"a poll run); loadgen: %d creates in flight from %d source addresses (limiter on), %.1f accepted/s, create p99 %s, %s; "+
		"every emote of the run: %s, created→finished p50 %s p99 %s. Simulator: KINETIX_SIM_PROCESS_SECONDS=0.001. Worker: "+
		"APP_KINETIX_IN_FLIGHT and APP_GENERAITIV_IN_FLIGHT %s unless set (the bench is one app; the row measures the queue, not one app's share). "+
		"Raw: River client in the bench process, one queue, %s, pool %d, no-op worker, backlog of no-op jobs: River's fetch cadence "+
		"with the worker's settings, not HTTP, upload, the emote rows or the simulator. Gamepipe phase: %s. Raw phase: %s.",
		b.cfg.Seconds, shift, time.Second, b.cfg.BatchConcurrency, sources, res.AcceptedPerSec(),
		res.Latency.Quantile(0.99).Round(100*time.Microsecond), jobResultLine(res), st.counts, st.p50, st.p99, appInFlight,
		raw.tuning, conns, oursCPU, raw.cpu)
	tunedRow := Row{Scenario: rowEmoteJobsTuned, Unit: "emotes/s", Ours: num(ours), Raw: num(tuned.rate)}
	if tuned.rate > 0 {
		tunedRow.Ratio = num(ours / tuned.rate)
	}
	tunedRow.Note = fmt.Sprintf("the emotes/s above against River no-op jobs/s with River tuned for throughput: %s (the settings of "+
		"River's own benchmark command), pool %d, one queue in the bench process. No target: it shows how far the worker's fetch settings "+
		"(%s) are from what River itself can run on this machine, and what an emote costs beyond a job: two runs each, the api's create, "+
		"the upload, the emote row's updates, the simulator. Raw phase: %s.", tuned.tuning, conns, raw.tuning, tuned.cpu)
	workRow := counter.row(work, emotes)
	return []Row{row, tunedRow, workRow}, nil
}

// emoteStats is the emotes created since a time, by status, and the
// latency of the completed ones.
type emoteStats struct {
	counts   string
	open     int
	p50, p99 time.Duration
}

// waitEmotes waits until every emote created since began has ended, at
// most maxWait, and describes them.
func (b *Bench) waitEmotes(ctx context.Context, began time.Time, maxWait time.Duration) (*emoteStats, error) {
	deadline := time.Now().Add(maxWait)
	st := &emoteStats{}
	for {
		if err := b.stack.pool.QueryRow(ctx, `SELECT count(*) FROM emotes WHERE created_at >= $1
			AND status IN ('queued', 'processing')`, began).Scan(&st.open); err != nil {
			return nil, err
		}
		if st.open == 0 || time.Now().After(deadline) {
			break
		}
		if err := sleepCtx(ctx, pollEvery); err != nil {
			return nil, err
		}
	}
	rows, err := b.stack.pool.Query(ctx, `SELECT status, count(*) FROM emotes WHERE created_at >= $1 GROUP BY status ORDER BY 2 DESC`, began)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var status string
		var n int64
		if err := rows.Scan(&status, &n); err != nil {
			return nil, err
		}
		if st.counts != "" {
			st.counts += ", "
		}
		st.counts += fmt.Sprintf("%d %s", n, status)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var p50, p99 *float64
	if err := b.stack.pool.QueryRow(ctx, `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - created_at)),
			percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - created_at))
		FROM emotes WHERE created_at >= $1 AND status = 'succeeded'`, began).Scan(&p50, &p99); err != nil {
		return nil, err
	}
	if p50 != nil && p99 != nil {
		st.p50, st.p99 = secondsDur(*p50), secondsDur(*p99)
	}
	return st, nil
}

func secondsDur(s float64) time.Duration {
	return time.Duration(s * float64(time.Second)).Round(time.Millisecond)
}

// loadJobs runs loadgen's job mode against the api with the bench app's
// secret key and progress on the output.
func (b *Bench) loadJobs(ctx context.Context, cfg loadgen.JobConfig) (*loadgen.JobResult, error) {
	cfg.URL = b.stack.apiURL
	cfg.SecretKey = b.stack.app.SecretKey
	cfg.SourceRate = b.cfg.sourceRate()
	b.maxSources = max(b.maxSources, cfg.Sources)
	prog := loadgen.NewProgress(b.out, b.terminal)
	cfg.Progress = prog.UpdateJobs
	res, err := loadgen.RunJobs(ctx, &cfg)
	prog.Done()
	if err != nil {
		return nil, err
	}
	if res.Accepted == 0 {
		return nil, fmt.Errorf("no create accepted: %s", jobResultLine(res))
	}
	return res, nil
}

func jobResultLine(r *loadgen.JobResult) string {
	return fmt.Sprintf("%d creates in %.1fs, answers:%s", r.Requests, r.Elapsed.Seconds(), answers(r.Statuses, r.Errors))
}

// heldAfter is how long a kinetix job may stay running before the
// in-flight scenario counts it as holding its slot while the upstream
// works: a create (token, upload) or a poll takes milliseconds.
const heldAfter = 5 * time.Second

// inFlightEmotes is how many emotes the in-flight scenario aims at
// (BENCH_INFLIGHT_EMOTES overrides it).
const inFlightEmotes = 10000

// runEmotesInFlight measures how many emotes one worker holds in flight
// while the simulator takes 60 s per process, its peak RSS, and that
// River's running jobs stay within the queue's concurrency meanwhile
// (polling is a snooze, not a held slot).
func runEmotesInFlight(ctx context.Context, b *Bench) ([]Row, error) {
	s := b.stack
	concurrency, _, _ := b.emoteJobSettings()
	n := b.cfg.envInt("BENCH_INFLIGHT_EMOTES", inFlightEmotes)
	const processSeconds = 60
	if err := b.clearTelemetry(ctx); err != nil {
		return nil, err
	}
	sm, err := s.startSim(ctx, "sim-slow", map[string]string{"KINETIX_SIM_PROCESS_SECONDS": strconv.Itoa(processSeconds)})
	if err != nil {
		return nil, err
	}
	if err := s.restartWorker(ctx, s.jobWorkerEnv(sm, "")); err != nil {
		return nil, err
	}
	defer b.cancelEmoteJobs(ctx)
	_, rss0, err := s.worker.memory()
	if err != nil {
		return nil, err
	}

	b.say("%s: inserting %d emotes and their kinetix_emote jobs (store + River InsertManyTx, 500 per transaction)...", rowEmotesInFlight, n)
	began := time.Now()
	if err := b.insertEmotes(ctx, n); err != nil {
		return nil, err
	}
	inserted := time.Since(began)

	hold := max(b.cfg.duration(), 10*time.Second)
	// The first emotes end 60 s after their process was created: past
	// that the count can only fall.
	limit := began.Add(processSeconds*time.Second + hold)
	b.say("%s: worker creating the processes (simulator takes %ds), sampling until all %d are processing for %s, or %s...",
		rowEmotesInFlight, processSeconds, n, hold, time.Until(limit).Round(time.Second))
	prof := b.profile(ctx, 0, map[string]string{"worker": s.pprofWrk})
	var (
		peak, maxRunning, peakQueued int
		maxHeld                      int
		oldestRunning                float64
		allAt, reachedAt             time.Time
		lastLine                     time.Time
	)
	cpu, err := b.phase("gamepipe", func() error {
		for time.Now().Before(limit) {
			var processing, queued, running int
			if err := s.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'processing'), count(*) FILTER (WHERE status = 'queued')
				FROM emotes WHERE created_at >= $1`, began).Scan(&processing, &queued); err != nil {
				return err
			}
			// A job that held its slot while the process works would stay
			// running for up to 60 s; a poll or a create takes milliseconds.
			// (The running count itself can exceed the queue's concurrency
			// by the jobs River's batched completer has yet to mark done.)
			var held int
			var oldest float64
			if err := s.pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE attempted_at < now() - $2::interval),
					coalesce(extract(epoch FROM now() - min(attempted_at)), 0)
				FROM river_job WHERE queue = $1 AND state = 'running'`,
				jobs.QueueKinetix, heldAfter.String()).Scan(&running, &held, &oldest); err != nil {
				return err
			}
			maxRunning, maxHeld = max(maxRunning, running), max(maxHeld, held)
			oldestRunning = max(oldestRunning, oldest)
			peakQueued = max(peakQueued, queued)
			if processing > peak {
				peak, reachedAt = processing, time.Now()
			}
			if allAt.IsZero() && processing >= n {
				allAt = time.Now()
				if end := allAt.Add(hold); end.Before(limit) {
					limit = end
				}
			}
			if time.Since(lastLine) >= 5*time.Second {
				lastLine = time.Now()
				_, rss, _ := s.worker.memory()
				b.say("  %5.1fs: %d processing, %d queued, %d running jobs, worker RSS %.0f MB", time.Since(began).Seconds(),
					processing, queued, running, float64(rss)/(1<<20))
			}
			if err := s.alive(); err != nil {
				return err
			}
			if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
				return err
			}
		}
		return nil
	})
	b.waitProfiles(prof)
	if err != nil {
		return nil, err
	}
	hwm, rss, err := s.worker.memory()
	if err != nil {
		return nil, err
	}

	inFlight := Row{Scenario: rowEmotesInFlight, Unit: "emotes", Ours: num(float64(peak)), Target: num(inFlightEmotes), TargetOf: "ours", Cmp: ">="}
	inFlight.judge()
	slotsOK := maxHeld == 0
	if !slotsOK {
		met := false
		inFlight.Met = &met
	}
	how := "all processing after %.1fs (then sampled %s more)"
	at := allAt
	if allAt.IsZero() {
		how, at = "not all processing within the window; the peak was at %.1fs (window: %s past 60 s)", reachedAt
	}
	inFlight.Note = fmt.Sprintf("peak count of emotes in status processing (upstream process created, job snoozing between polls) of %d "+
		"inserted directly in the bench process in %.1fs (rows with store.EmoteInsert and kinetix_emote jobs with River InsertManyTx, "+
		"500 per transaction: through the API this many creates take longer than the scenario), "+how+"; simulator "+
		"KINETIX_SIM_PROCESS_SECONDS=%d; one worker, kinetix queue of %d: no job stayed running longer than %s (%s; the longest run seen %.1fs; "+
		"rows in state running peaked at %d, which counts jobs River's batched completer had yet to mark done); most queued %d. Phase: %s.",
		n, inserted.Seconds(), at.Sub(began).Seconds(), hold, processSeconds, concurrency, heldAfter,
		map[bool]string{true: "slots not held while waiting", false: fmt.Sprintf("FAILED: up to %d jobs held a slot longer", maxHeld)}[slotsOK],
		oldestRunning, maxRunning, peakQueued, cpu)
	mem := limitRow(rowEmotesInFlightRSS, "MB", float64(hwm)/(1<<20), math.NaN(), 250)
	mem.Note = fmt.Sprintf("VmHWM of the worker process (pid %d, started for this scenario; %.0f MB at start), over the scenario above; VmRSS at the end %.0f MB.",
		s.worker.pid(), float64(rss0)/(1<<20), float64(rss)/(1<<20))
	return []Row{inFlight, mem}, nil
}

// insertEmotes inserts n queued emotes for the bench app with their
// kinetix_emote jobs, 500 per transaction, as the API would (one video
// blob, shared: blobs are content-addressed).
func (b *Bench) insertEmotes(ctx context.Context, n int) error {
	s := b.stack
	appID, err := uuid.Parse(s.app.AppID)
	if err != nil {
		return fmt.Errorf("bench app id: %w", err)
	}
	blobs, err := blob.NewDirStore(filepath.Join(s.runDir, "data", "blobs"))
	if err != nil {
		return err
	}
	info, err := blobs.Put(ctx, bytes.NewReader(loadgen.DefaultVideo), 0)
	if err != nil {
		return err
	}
	client, err := river.NewClient(riverpgxv5.New(s.pool), &river.Config{Logger: quietLogger})
	if err != nil {
		return err
	}
	for done := 0; done < n; {
		batch := min(500, n-done)
		if err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			rows := make([]*store.Emote, batch)
			params := make([]river.InsertManyParams, batch)
			for i := range rows {
				rows[i] = &store.Emote{ID: uuid.Must(uuid.NewV7()), AppID: appID, UserID: "player-" + strconv.Itoa((done+i)%1000),
					Name: "wave", EndMS: 2000, VideoKey: info.Key, VideoSize: info.Size, VideoFormat: "mp4"}
				params[i] = river.InsertManyParams{Args: jobs.KinetixEmoteArgs{EmoteID: rows[i].ID}}
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
		}); err != nil {
			return fmt.Errorf("error inserting emotes: %w", err)
		}
		done += batch
	}
	return nil
}

// cancelEmoteJobs stops the worker and drops the kinetix_emote jobs still
// pending, so the 60-s emotes do not load the scenarios after this one.
func (b *Bench) cancelEmoteJobs(ctx context.Context) {
	b.stack.stopWorker()
	_, err := b.stack.pool.Exec(context.WithoutCancel(ctx), `DELETE FROM river_job WHERE kind = $1
		AND state NOT IN ('completed', 'cancelled', 'discarded')`, jobs.KinetixEmoteArgs{}.Kind())
	if err != nil {
		b.say("error dropping the in-flight emote jobs: %v", err)
	}
}
