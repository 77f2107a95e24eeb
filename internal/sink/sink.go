package sink

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/gamepipe/gamepipe/internal/store"
)

// errNotRunning is Healthy's answer before Run has reached Postgres.
var errNotRunning = errors.New("sink is not running")

// Sink writes the TELEMETRY stream into Postgres. Create it with New and
// call Run once; Healthy may be called from any goroutine.
type Sink struct {
	cfg       Config
	logger    zerolog.Logger
	pool      *pgxpool.Pool
	cons      jetstream.Consumer
	heartbeat time.Duration
	metrics   *sinkMetrics

	health  atomic.Pointer[error] // nil when healthy
	running atomic.Bool

	// Run's own state, reused from batch to batch.
	nextPartitions time.Time
	lastDBOK       time.Time
	batch          batch
}

// New returns a Sink reading cons (a durable pull consumer on TELEMETRY,
// see eventstream.EnsureConsumer) and writing through pool.
func New(logger zerolog.Logger, cfg *Config, pool *pgxpool.Pool, cons jetstream.Consumer) (*Sink, error) {
	if pool == nil || cons == nil {
		return nil, errors.New("sink needs a pool and a consumer")
	}
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ackWait := 30 * time.Second // JetStream's default
	if info := cons.CachedInfo(); info != nil && info.Config.AckWait > 0 {
		ackWait = info.Config.AckWait
	}
	heartbeat := c.Heartbeat
	if heartbeat == 0 {
		heartbeat = ackWait / 3
	}
	if heartbeat >= ackWait {
		return nil, fmt.Errorf("sink Heartbeat (%s) must be shorter than the consumer's AckWait (%s)", heartbeat, ackWait)
	}
	m, err := newSinkMetrics(c.Metrics)
	if err != nil {
		return nil, err
	}
	s := &Sink{
		cfg:       c,
		metrics:   m,
		logger:    logger.With().Str("component", "sink").Logger(),
		pool:      pool,
		cons:      cons,
		heartbeat: heartbeat,
	}
	s.setHealth(errNotRunning)
	return s, nil
}

// Healthy returns nil while the sink is running and its last write or ping
// reached Postgres; an error saying "postgres unavailable: ..." while it
// cannot write (it keeps retrying; the worker's readiness reports its sink
// check unavailable); and an error before Run starts and after it
// returns.
func (s *Sink) Healthy() error {
	if p := s.health.Load(); p != nil {
		return *p
	}
	return nil
}

// Run pulls and writes batches until ctx is cancelled, then finishes the
// batch in flight (see the package doc's ack contract) and returns nil.
// Postgres or NATS being unavailable never makes it return: it retries with
// backoff and reports through Healthy. It returns an error only if it is
// already running.
func (s *Sink) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("sink is already running")
	}
	defer s.running.Store(false)
	defer s.setHealth(errNotRunning)

	s.logger.Info().Int("batch_max", s.cfg.BatchMax).Dur("fetch_max_wait", s.cfg.FetchMaxWait).
		Dur("heartbeat", s.heartbeat).Msg("sink: Starting")
	s.ping(ctx)
	s.ensurePartitions(ctx)

	fetchBackoff := s.cfg.RetryMin
	for ctx.Err() == nil {
		if !time.Now().Before(s.nextPartitions) {
			s.ensurePartitions(ctx)
		}
		msgs, err := s.fetch()
		if err != nil {
			s.logger.Warn().Err(err).Dur("retry_in", fetchBackoff).Msg("sink: Error fetching messages")
			sleep(ctx, fetchBackoff)
			fetchBackoff = min(2*fetchBackoff, s.cfg.RetryMax)
			continue
		}
		fetchBackoff = s.cfg.RetryMin
		if len(msgs) == 0 {
			if time.Since(s.lastDBOK) >= s.cfg.PingInterval {
				s.ping(ctx)
			}
			continue
		}
		s.handle(ctx, msgs)
	}
	s.logger.Info().Msg("sink: Stopped")
	return nil
}

// fetch pulls up to BatchMax messages, waiting at most FetchMaxWait, or
// BusyFetchWait right after a batch. An error that ends a fetch after some
// messages arrived is only logged: the messages are good.
func (s *Sink) fetch() ([]jetstream.Msg, error) {
	// The last fetch's messages, until this one's arrive.
	wait := s.cfg.FetchMaxWait
	if len(s.batch.msgs) > 0 {
		wait = s.cfg.BusyFetchWait
	}
	mb, err := s.cons.Fetch(s.cfg.BatchMax, jetstream.FetchMaxWait(wait))
	if err != nil {
		return nil, fmt.Errorf("error fetching: %w", err)
	}
	msgs := s.batch.msgs[:0]
	for msg := range mb.Messages() {
		msgs = append(msgs, msg)
	}
	s.batch.msgs = msgs
	if err := mb.Error(); err != nil {
		if len(msgs) == 0 {
			return nil, fmt.Errorf("error fetching: %w", err)
		}
		s.logger.Debug().Err(err).Int("batch_size", len(msgs)).Msg("sink: Fetch ended early")
	}
	return msgs, nil
}

// handle writes one batch and acknowledges it.
func (s *Sink) handle(ctx context.Context, msgs []jetstream.Msg) {
	start := time.Now()
	b := &s.batch
	b.decode(s.logger, msgs)

	stopHeartbeat := s.startHeartbeat(msgs)
	res, letters, err := s.writeWithRetry(ctx, b)
	stopHeartbeat()
	if err != nil {
		// Cancelled while Postgres was unavailable: hand the batch back.
		for _, msg := range msgs {
			_ = msg.NakWithDelay(s.cfg.RetryMax)
		}
		s.logger.Warn().Err(err).Int("batch_size", len(msgs)).Msg("sink: Gave batch back at shutdown")
		return
	}
	s.fault(FaultAfterCommit)
	s.ack(ctx, msgs)

	now := time.Now()
	s.metrics.batchSize.Observe(float64(len(msgs)))
	for kind, n := range res.Inserted {
		s.metrics.rows.WithLabelValues(string(kind)).Add(float64(n))
	}
	s.metrics.deadLetters.Add(float64(letters))
	for i := range b.events {
		s.metrics.lag.Observe(now.Sub(b.events[i].ReceivedAt).Seconds())
	}
	s.logger.Debug().Int("batch_size", len(msgs)).Int("skipped", res.Skipped).Int64("dead_letters", letters).
		Dur("duration", now.Sub(start)).Msg("sink: Wrote batch")
}

// writeWithRetry writes the batch until it commits. A batch that Postgres
// refuses as data is written again event by event, each on a savepoint, to
// find the refused events and dead-letter them. Any other error is retried
// with backoff, unhealthy, until ctx is cancelled; the error is returned
// only then.
func (s *Sink) writeWithRetry(ctx context.Context, b *batch) (*store.InsertResult, int64, error) {
	// Detached: a batch in flight is finished even when Run is cancelled.
	wctx := context.WithoutCancel(ctx)
	isolate := false
	backoff := s.cfg.RetryMin
	for {
		res, letters, err := s.write(wctx, b, isolate)
		if err == nil {
			s.markDBOK()
			return res, letters, nil
		}
		if !isolate && store.IsDataError(err) {
			s.logger.Warn().Err(err).Int("batch_size", len(b.msgs)).Msg("sink: Postgres refused a batch, writing it event by event")
			isolate = true
			continue
		}
		s.metrics.errors.Inc()
		s.setHealth(err)
		s.logger.Error().Err(err).Int("batch_size", len(b.msgs)).Dur("retry_in", backoff).Msg("sink: Error writing batch")
		if ctx.Err() != nil || !sleep(ctx, backoff) {
			return nil, 0, err
		}
		backoff = min(2*backoff, s.cfg.RetryMax)
	}
}

// write makes one attempt to write the batch's rows and dead letters in one
// transaction.
func (s *Sink) write(ctx context.Context, b *batch, isolate bool) (*store.InsertResult, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.CommitTimeout)
	defer cancel()
	var (
		res     *store.InsertResult
		letters int64
	)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		dead := b.letters
		var err error
		if isolate {
			res, dead, err = b.insertEachEvent(ctx, s.logger, tx, dead)
		} else {
			res, err = store.InsertEvents(ctx, tx, b.events)
		}
		if err != nil {
			return err
		}
		if letters, err = store.InsertDeadLetters(ctx, tx, b.deadLetters(dead)); err != nil {
			return err
		}
		s.fault(FaultBeforeCommit)
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("error writing batch: %w", err)
	}
	return res, letters, nil
}

// ack acknowledges every message of a committed batch. When Run is being
// cancelled this is the last batch, so it waits for the server to confirm
// each ack (DoubleAck) before Run returns and the caller closes the
// connection. Otherwise acks are sent without waiting: a lost ack means a
// redelivery, which the primary key makes harmless.
func (s *Sink) ack(ctx context.Context, msgs []jetstream.Msg) {
	last := ctx.Err() != nil
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var failed int
	var firstErr error
	for _, msg := range msgs {
		var err error
		if last {
			err = msg.DoubleAck(actx)
		} else {
			err = msg.Ack()
		}
		if err != nil {
			failed++
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	if failed > 0 {
		s.logger.Warn().Err(firstErr).Int("failed", failed).Int("batch_size", len(msgs)).
			Msg("sink: Error acking committed messages; they will be redelivered and skipped")
	}
}

// startHeartbeat marks msgs in progress every heartbeat until the returned
// function is called.
func (s *Sink) startHeartbeat(msgs []jetstream.Msg) (stop func()) {
	if s.heartbeat <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		ticker := time.NewTicker(s.heartbeat)
		defer ticker.Stop()
		for {
			select {
			case <-done:
				return
			case <-ticker.C:
				for _, msg := range msgs {
					if err := msg.InProgress(); err != nil {
						s.logger.Debug().Err(err).Msg("sink: Error sending heartbeat")
						break
					}
				}
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// ensurePartitions creates the day partitions from yesterday to
// PartitionsAhead days ahead.
func (s *Sink) ensurePartitions(ctx context.Context) {
	now := time.Now()
	pctx, cancel := context.WithTimeout(ctx, s.cfg.CommitTimeout)
	defer cancel()
	err := store.EnsurePartitions(pctx, s.pool, now.AddDate(0, 0, -1), now.AddDate(0, 0, s.cfg.PartitionsAhead))
	if err != nil {
		s.nextPartitions = now.Add(min(time.Minute, s.cfg.PartitionInterval))
		s.logger.Warn().Err(err).Msg("sink: Error ensuring partitions")
		if _, ok := errors.AsType[*pgconn.PgError](err); !ok && ctx.Err() == nil {
			s.setHealth(err) // Postgres itself is unreachable
		}
		return
	}
	s.nextPartitions = now.Add(s.cfg.PartitionInterval)
	s.markDBOK()
}

// ping checks that Postgres answers.
func (s *Sink) ping(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, min(s.cfg.CommitTimeout, 5*time.Second))
	defer cancel()
	if err := s.pool.Ping(pctx); err != nil {
		if ctx.Err() == nil {
			s.setHealth(err)
			s.logger.Warn().Err(err).Msg("sink: Error pinging Postgres")
		}
		return
	}
	s.markDBOK()
}

func (s *Sink) markDBOK() {
	s.lastDBOK = time.Now()
	if s.health.Load() != nil {
		s.logger.Info().Msg("sink: Postgres available")
	}
	s.health.Store(nil)
}

// setHealth records err as the reason the sink is not healthy.
func (s *Sink) setHealth(err error) {
	if !errors.Is(err, errNotRunning) {
		err = fmt.Errorf("postgres unavailable: %w", err)
	}
	s.health.Store(&err)
}

func (s *Sink) fault(stage string) {
	if s.cfg.Fault != nil {
		s.cfg.Fault(stage)
	}
}

// sleep waits d or until ctx is done, and reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
