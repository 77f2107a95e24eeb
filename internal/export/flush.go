package export

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// flushReason says why a flush ran (the flushes metric's label).
type flushReason string

const (
	reasonSize     flushReason = "size"
	reasonAge      flushReason = "age"
	reasonCount    flushReason = "count"
	reasonRequest  flushReason = "request"
	reasonShutdown flushReason = "shutdown"
)

// orphanAge is how old an unlisted data file must be before a flush's
// manifest update lists it: younger ones are likely being listed by the
// exporter that wrote them. Completing a day lists every file.
const orphanAge = time.Minute

// flushResult is what one flush wrote.
type flushResult struct {
	Files  int
	Events int
	// Err is the first write error; those buffers were nak'd.
	Err error
}

// flush writes bufs, each as one file, updates their days' manifests and
// acks the messages of the files written. A buffer that cannot be written
// has its messages nak'd for redelivery. The error is only ever the Fault
// hook's: Run must stop at once, acking nothing more.
func (e *Exporter) flush(bufs []*buffer, reason flushReason) (flushResult, error) {
	start := time.Now()
	e.metrics.flushes.WithLabelValues(string(reason)).Inc()
	defer func() {
		e.metrics.buffered.Set(float64(e.bufs.events))
		e.metrics.flushDuration.Observe(time.Since(start).Seconds())
	}()

	byDay := make(map[dayKey][]*buffer)
	for _, b := range bufs {
		if len(b.refs) > 0 {
			byDay[b.key.day()] = append(byDay[b.key.day()], b)
		}
	}
	var res flushResult
	var done []*buffer
	for day, group := range byDay {
		written, err := e.writeDay(day, group)
		if err != nil {
			if fe := (*faultError)(nil); errors.As(err, &fe) {
				return res, err
			}
			e.metrics.flushErrors.Inc()
			e.log.Error().Err(err).Str("app_id", day.appID).Str("kind", string(day.kind)).Str("day", day.day).
				Msg("export: error writing files; their events will be redelivered")
			res.Err = cmp.Or(res.Err, err)
		}
		done = append(done, written...)
	}
	if err := e.fault(FaultBeforeAck); err != nil {
		return res, err
	}
	for _, b := range done {
		e.bufs.written(b, func(m jetstream.Msg) {
			if err := m.Ack(); err != nil {
				e.log.Warn().Err(err).Msg("export: error acking; the message's events will be written again")
			}
		})
		res.Files++
		res.Events += len(b.refs)
		e.metrics.events.WithLabelValues(string(b.key.kind)).Add(float64(len(b.refs)))
	}
	e.metrics.files.Add(float64(res.Files))
	if res.Files > 0 {
		e.log.Debug().Str("reason", string(reason)).Int("files", res.Files).Int("events", res.Events).
			Dur("took", time.Since(start)).Msg("export: flushed")
	}
	return res, nil
}

// writeDay writes one day directory's buffers and lists them in its
// manifest. It returns the buffers whose files are in place (to ack); the
// others are nak'd and the error says why.
func (e *Exporter) writeDay(day dayKey, group []*buffer) ([]*buffer, error) {
	slices.SortFunc(group, func(a, b *buffer) int { return a.key.hour.Compare(b.key.hour) })
	dir := filepath.Join(e.cfg.Dir, day.appID, string(day.kind), day.day)
	nak := func(bs []*buffer) {
		for _, b := range bs {
			e.bufs.failed(b, func(m jetstream.Msg) { _ = m.NakWithDelay(e.cfg.NakDelay) })
		}
	}
	if err := ensureDir(dir); err != nil {
		nak(group)
		return nil, err
	}
	next, err := e.seqs.next(dir)
	if err != nil {
		nak(group)
		return nil, err
	}

	var written []*buffer
	var added []ManifestFile
	var firstErr error
	for i, b := range group {
		hour := b.key.hour.Hour()
		seq := next[hour]
		tmp, mf, err := writeTempGzip(filepath.Join(dir, fileName(hour, seq)), b.lines.Bytes(), int64(len(b.refs)))
		if err == nil {
			if ferr := e.fault(FaultAfterWrite); ferr != nil {
				return nil, ferr
			}
			mf.Name, err = publishSeq(dir, tmp, hour, &seq)
			next[hour] = seq
			if err != nil {
				_ = os.Remove(tmp)
				e.seqs.forget(dir)
			}
		}
		if err != nil {
			nak(group[i : i+1])
			firstErr = cmp.Or(firstErr, err)
			continue
		}
		if ferr := e.fault(FaultAfterLink); ferr != nil {
			return nil, ferr
		}
		written = append(written, b)
		added = append(added, mf)
	}
	if len(written) == 0 {
		return nil, firstErr
	}
	if err := syncDir(dir); err != nil {
		// The files may not survive a crash: let their events come back.
		nak(written)
		return nil, err
	}
	now := time.Now().UTC()
	u := &manifestUpdate{
		dir: dir, appID: day.appID, kind: day.kind, day: day.day,
		add: added, orphanAge: orphanAge, now: now,
	}
	// A day that cannot be complete yet gets its new files appended to
	// the manifest log, at the cost of those files alone; one that may be
	// (received_at far behind the stream) has manifest.json rewritten, so
	// that a complete manifest.json stays whole by itself.
	open := now.Before(group[0].key.hour.UTC().Truncate(24 * time.Hour).Add(24*time.Hour + e.cfg.CompleteGrace))
	var m *Manifest
	if open {
		err = appendManifest(u)
	} else {
		m, err = updateManifest(u)
	}
	switch {
	case err != nil:
		// The files are durable; a later update lists them as orphans.
		e.log.Error().Err(err).Str("dir", dir).Msg("export: error updating manifest")
	case m != nil && m.Complete:
		e.log.Warn().Str("dir", dir).Msg("export: wrote into a day already marked complete (received_at far behind the stream)")
	}
	return written, firstErr
}

// faultError is the Fault hook's error: Run stops on it.
type faultError struct {
	point FaultPoint
	err   error
}

// Error implements error.
func (f *faultError) Error() string { return fmt.Sprintf("fault at %s: %v", f.point, f.err) }

// Unwrap returns the hook's error.
func (f *faultError) Unwrap() error { return f.err }

func (e *Exporter) fault(p FaultPoint) error {
	if e.cfg.Fault == nil {
		return nil
	}
	if err := e.cfg.Fault(p); err != nil {
		return &faultError{point: p, err: err}
	}
	return nil
}
