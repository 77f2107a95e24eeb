package sink

import (
	"cmp"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ApplicationName is the application_name the sink's Postgres connections
// should carry (set it in the pool's RuntimeParams).
const ApplicationName = "gamepipe-sink"

// The stages at which Config.Fault is called.
const (
	// FaultBeforeCommit is called inside the batch's transaction, after
	// every row is written and before the commit.
	FaultBeforeCommit = "before_commit"
	// FaultAfterCommit is called after the commit, before any message is
	// acknowledged.
	FaultAfterCommit = "after_commit"
)

// Config configures a Sink. BatchMax, which an operator sets
// (SINK_BATCH_MAX, its default in internal/config), must be given; the zero
// value of every other field is a usable default.
type Config struct {
	// BatchMax is the most messages fetched and written in one transaction.
	// Required.
	BatchMax int

	// FetchMaxWait bounds how long one fetch waits to fill a batch: the
	// sink writes a batch when it holds BatchMax messages or FetchMaxWait
	// has passed, whichever comes first. It bounds latency when traffic is
	// light and how long Run takes to notice cancellation. Defaults to
	// 200ms.
	FetchMaxWait time.Duration

	// BusyFetchWait bounds the wait of a fetch that follows a batch: what
	// arrived while that batch was written is fetched at once, and only
	// this long is spent waiting for more, so that a busy sink's batches
	// are what piled up, not what piles up in FetchMaxWait, which every
	// event's lag would pay. Defaults to FetchMaxWait / 8 (docs/telemetry.md,
	// "Batches of the sink").
	BusyFetchWait time.Duration

	// Heartbeat is how often, while a batch is being written, each of its
	// messages is marked in progress (InProgress) so that JetStream does not
	// redeliver it. Zero means the consumer's AckWait / 3; negative
	// disables heartbeats (only for tests of the negative case).
	Heartbeat time.Duration

	// PartitionsAhead is how many days ahead of today the sink keeps day
	// partitions (it also keeps yesterday's). Defaults to 3.
	PartitionsAhead int

	// PartitionInterval is how often the sink ensures its partitions, the
	// first time at start. Defaults to 1h. After a failure it tries again
	// within a minute.
	PartitionInterval time.Duration

	// PingInterval is how often an idle sink pings Postgres to keep Healthy
	// current. Defaults to 5s.
	PingInterval time.Duration

	// RetryMin and RetryMax bound the exponential backoff between attempts
	// to write a batch while Postgres is unavailable, and between failed
	// fetches. Default to 100ms and 5s.
	RetryMin, RetryMax time.Duration

	// CommitTimeout bounds one attempt to write and commit a batch.
	// Defaults to 30s.
	CommitTimeout time.Duration

	// Metrics receives the sink's collectors (gamepipe_sink_*); sinks of
	// one process may share it. Nil leaves them unregistered.
	Metrics prometheus.Registerer

	// Fault, when set, is called at FaultBeforeCommit and FaultAfterCommit
	// of every batch (and every retry). It is a test hook for crashing or
	// stalling at those points; leave it nil in production.
	Fault func(stage string)
}

// withDefaults returns a copy of c with defaults applied, or an error for a
// value the sink cannot run with.
func (c *Config) withDefaults() (Config, error) {
	out := Config{}
	if c != nil {
		out = *c
	}
	if out.BatchMax < 0 || out.FetchMaxWait < 0 || out.BusyFetchWait < 0 || out.PartitionsAhead < 0 || out.PartitionInterval < 0 ||
		out.PingInterval < 0 || out.RetryMin < 0 || out.RetryMax < 0 || out.CommitTimeout < 0 {
		return out, errors.New("sink config values must not be negative (but Heartbeat)")
	}
	out.FetchMaxWait = cmp.Or(out.FetchMaxWait, 200*time.Millisecond)
	out.BusyFetchWait = min(cmp.Or(out.BusyFetchWait, out.FetchMaxWait/8), out.FetchMaxWait)
	out.PartitionsAhead = cmp.Or(out.PartitionsAhead, 3)
	out.PartitionInterval = cmp.Or(out.PartitionInterval, time.Hour)
	out.PingInterval = cmp.Or(out.PingInterval, 5*time.Second)
	out.RetryMin = cmp.Or(out.RetryMin, 100*time.Millisecond)
	out.RetryMax = cmp.Or(out.RetryMax, 5*time.Second)
	out.CommitTimeout = cmp.Or(out.CommitTimeout, 30*time.Second)
	if out.BatchMax == 0 {
		return out, errors.New("sink config BatchMax is required")
	}
	if out.RetryMax < out.RetryMin {
		return out, errors.New("sink config RetryMax must not be less than RetryMin")
	}
	return out, nil
}
