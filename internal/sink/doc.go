// Package sink moves telemetry from the TELEMETRY stream into Postgres: a
// Sink pulls batches from the durable "sink" consumer, decodes them, writes
// each batch in one transaction with store.InsertEvents (COPY straight into
// the day-partitioned tables on a savepoint, falling back to a staging table
// and INSERT ... ON CONFLICT DO NOTHING when a row already exists; player
// events always take that path to upsert players), and acknowledges the
// messages only after the commit. It also keeps the day partitions ahead of
// time (Config.PartitionsAhead), reports its state through Healthy (the
// worker's "sink" readiness check) and counts its work in the gamepipe_sink_*
// collectors registered on Config.Metrics. Several sinks may share one
// consumer in a process (SINK_CONCURRENCY) and across processes.
//
// # Ack contract
//
// A message is acknowledged only once its row (or its dead letter) is
// committed. Delivery is therefore at least once, and the primary key makes
// it exactly once in the tables: a message redelivered after a crash between
// commit and ack, or a late duplicate stored twice in the stream, finds its
// row and is skipped. In detail:
//
//   - Good messages: their rows and the batch's dead letters commit in one
//     transaction, then each message is acked (Ack; DoubleAck for the last
//     batch before Run returns). A lost ack only means a redelivery, which
//     writes nothing.
//   - Poison (a message telemetry.SplitStored refuses; within a message,
//     an event telemetry.UnmarshalStored refuses, one whose subject is not
//     telemetry.<its app_id>.<its kind>, one store.CheckEvent refuses, or
//     one Postgres refuses as data) is written to the dead_letters table,
//     one row per message: its raw bytes when the whole message is poison
//     or holds one event, otherwise a batch of just its poison events with
//     a reason naming each by its index. The row commits in the same
//     transaction as the good rows, the message's other events among them,
//     and the message is then acked like the others. Poison never blocks
//     the stream or loops on redelivery.
//   - Postgres unavailable: nothing is acked or nacked. The sink keeps the
//     batch, marks itself unhealthy (Healthy), and retries the same batch
//     with exponential backoff while heartbeats (InProgress) keep the
//     messages from being redelivered elsewhere. Not nacking matters: each
//     nak would use one of the consumer's MaxDeliver deliveries, and an
//     outage longer than MaxDeliver retries would make JetStream give up on
//     the messages. The process never exits because Postgres went away.
//   - Shutdown: when Run's context is cancelled, the batch in flight is
//     still committed (with a context detached from Run's, bounded by
//     Config.CommitTimeout) and acked before Run returns. If Postgres is
//     unavailable then, the batch is nacked with a delay instead, so another
//     worker picks it up.
//   - A crash at any point leaves the messages unacked; JetStream redelivers
//     them after the consumer's AckWait.
//
// Heartbeats: while a batch is being written the sink calls InProgress on
// each of its messages every AckWait/3 (Config.Heartbeat), so a slow commit
// does not trigger a redelivery to another worker.
//
// The sink's Postgres pool should set application_name to ApplicationName
// ("gamepipe-sink"), so operators, and the reliability tests, can find its
// connections in pg_stat_activity.
package sink
