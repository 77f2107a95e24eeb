package export

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/telemetry"
)

// staleTempAge is how old a temporary file must be before a starting
// exporter removes it: younger ones may belong to another exporter's flush
// in progress.
const staleTempAge = 5 * time.Minute

// dayRef is one existing day directory.
type dayRef struct {
	path  string
	appID string
	kind  telemetry.Kind
	day   time.Time // midnight UTC
}

// recentDays lists the day directories of the last ScanDays days (today
// included) under Dir. Only recent days can still receive files: the hour
// is that of received_at, and the stream keeps events for days, not years.
func (e *Exporter) recentDays(now time.Time) []dayRef {
	apps, err := os.ReadDir(e.cfg.Dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			e.log.Warn().Err(err).Msg("export: error listing export directory")
		}
		return nil
	}
	today := now.UTC().Truncate(24 * time.Hour)
	var out []dayRef
	for _, app := range apps {
		if !app.IsDir() || !safeSegment(app.Name()) {
			continue
		}
		for _, kind := range telemetry.Kinds {
			for d := range e.cfg.ScanDays {
				day := today.AddDate(0, 0, -d)
				path := DayDir(e.cfg.Dir, app.Name(), kind, day)
				if fi, err := os.Stat(path); err == nil && fi.IsDir() {
					out = append(out, dayRef{path: path, appID: app.Name(), kind: kind, day: day})
				}
			}
		}
	}
	return out
}

// removeStaleTemps removes temporary files that a crash left behind.
func (e *Exporter) removeStaleTemps(now time.Time) {
	removed := 0
	for _, d := range e.recentDays(now) {
		entries, err := os.ReadDir(d.path)
		if err != nil {
			continue
		}
		for _, ent := range entries {
			if !isTemp(ent.Name()) {
				continue
			}
			if info, err := ent.Info(); err != nil || now.Sub(info.ModTime()) < staleTempAge {
				continue
			}
			if err := os.Remove(filepath.Join(d.path, ent.Name())); err == nil {
				removed++
			}
		}
	}
	if removed > 0 {
		e.log.Info().Int("removed", removed).Msg("export: removed stale temporary files")
	}
}

// completeDays marks complete the manifests of recent days that can get no
// more lines; see the package doc.
func (e *Exporter) completeDays(ctx context.Context, now time.Time) {
	var due []dayRef
	for _, d := range e.recentDays(now) {
		if now.Before(d.day.Add(24*time.Hour + e.cfg.CompleteGrace)) {
			continue
		}
		if m, err := ReadManifest(d.path); err == nil && m.Complete {
			continue
		}
		due = append(due, d)
	}
	if len(due) == 0 {
		return
	}
	frontier, err := e.frontier(ctx)
	if err != nil {
		e.log.Warn().Err(err).Msg("export: error reading the consumer's ack floor")
		return
	}
	for _, d := range due {
		if frontier.Before(d.day.Add(24*time.Hour + e.cfg.CompleteGrace)) {
			continue
		}
		_, err := updateManifest(&manifestUpdate{
			dir: d.path, appID: d.appID, kind: d.kind, day: dayName(d.day), complete: true, now: now.UTC(),
		})
		if err != nil {
			e.log.Error().Err(err).Str("dir", d.path).Msg("export: error completing manifest")
			continue
		}
		e.log.Info().Str("dir", d.path).Msg("export: day complete")
	}
}

// frontier is a time before which every TELEMETRY message is acknowledged by
// the exporter consumer: the store time of the first message after the ack
// floor, or now when there is none.
func (e *Exporter) frontier(ctx context.Context) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	now := time.Now()
	info, err := e.cons.Info(ctx)
	if err != nil {
		return time.Time{}, fmt.Errorf("error getting consumer info: %w", err)
	}
	m, err := e.stream.GetMsg(ctx, info.AckFloor.Stream+1, jetstream.WithGetMsgSubject(eventstream.SubjectsFilter))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return now, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("error getting message %d: %w", info.AckFloor.Stream+1, err)
	}
	return m.Time, nil
}
