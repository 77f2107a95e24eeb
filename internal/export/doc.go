// Package export writes telemetry events as gzipped NDJSON files: the
// streaming Exporter, a durable consumer of the TELEMETRY stream beside the
// sink, and Backfill, which writes the same files from the Postgres
// telemetry tables for data older than the stream keeps.
//
// # Lines
//
// One line per event: json.Marshal of the canonical telemetry.Event, which
// carries the event id and received_at. A message holds one event or many
// (telemetry.SplitStored); its events may go to several files (one per
// hour), and the message is acknowledged only once every one of its lines
// is in a file under its final name, fsynced, and listed in the day's
// manifest, so nothing is ever lost. A poison event is left out and counted
// (the sink keeps its dead letter); a message with nothing to export is
// terminated.
//
// A line may repeat: a message redelivered after a crash, or a client retry
// that became a second message with its own received_at (past the stream's
// duplicate window, or grouped with other requests' events; see
// docs/telemetry.md, "Messages"); readers dedup by id. A retry the stream
// deduplicates makes no second line.
//
// # Layout
//
//	<Dir>/<app_id>/<kind>/<yyyy-mm-dd>/<hh>-<seq>.ndjson.gz
//	<Dir>/<app_id>/<kind>/<yyyy-mm-dd>/manifest.json
//	<Dir>/<app_id>/<kind>/<yyyy-mm-dd>/manifest.log
//
// The day and hour are those of the event's received_at, in UTC, not of the
// client's own timestamp: the stream delivers roughly in received_at order,
// so an hour's directory stops growing soon after the hour ends and a day
// can be declared complete (below); client clocks, late uploads and offline
// play would otherwise keep adding files to old days forever.
//
// <seq> is a six-digit, zero-padded number, the next free one in the hour
// (00-000000, 00-000001, ...). A file is written under
// "<final>.tmp-<random>", fsynced, then hard-linked to the final name, which
// fails if the name exists (so several exporters sharing one directory never
// overwrite each other: the loser takes the next number), the temporary name
// is removed and the directory fsynced. A final name therefore always holds a
// whole gzip stream. Readers ignore names containing ".tmp-"; an exporter
// removes leftovers older than a few minutes when it starts.
//
// # Manifest
//
// The manifest lists a day's files with their line counts, sizes and the
// SHA-256 of their gzip bytes, and the day's total. It is manifest.json plus
// manifest.log: a flush into a day that cannot be complete yet appends its
// files' entries (one JSON object per line) to manifest.log and fsyncs it,
// at the cost of those entries alone, however many files the day holds.
// Once the log is at least as large as manifest.json (and a few KiB),
// manifest.json is rewritten atomically (temp, fsync, rename) with the
// log's entries folded in and the log removed, so each entry is copied a
// bounded number of times on average. ReadManifest applies the log to
// manifest.json (a later entry replaces one of the same name; a partial
// last line, from a crash, is skipped). Every change happens under an flock
// on ".manifest.lock" so that several exporters can share a day. A rewrite
// also adds any final file the manifest misses (one a crashed exporter
// linked but never listed) once it is a minute old (all of them when the
// day completes). The day's first files, files into a day that may already
// be complete, and completing a day rewrite manifest.json, so manifest.json
// exists whenever the day has a file and a complete manifest.json is whole
// by itself, with no log.
//
// complete becomes true once no more lines can arrive for the day: the day
// ended more than CompleteGrace ago and every TELEMETRY message stored
// before that instant has been acknowledged by the exporter consumer (the
// first unacknowledged message, right after the consumer's ack floor, was
// stored after the day's end plus CompleteGrace). Because a message is
// acknowledged only after its file is listed, a complete manifest lists
// every line of the day. A message could still arrive later only if the API
// stamped received_at more than CompleteGrace before the stream stored it
// (clock skew or a very slow publish); its file is then added to the
// manifest and a warning logged. Days without any event have no directory.
//
// # Flush
//
// Events are buffered per (app, kind, hour) and written when a buffer
// reaches MaxFileBytes of NDJSON, when it is older than MaxAge, when the
// exporter holds MaxBufferedEvents, on shutdown, and on request: every
// exporter listens on FlushSubject (core NATS, no queue group), flushes
// everything and replies with a FlushReply. RequestFlush gathers the
// replies; FlushTrigger coalesces the API's POST /api/export calls into at
// most one request per MinInterval (5s), and an exporter flushes on request
// at most once per RequestInterval (2s), whatever the number of API copies
// asking: a request arriving sooner waits for its turn and is never dropped.
package export
