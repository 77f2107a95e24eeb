package export

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/telemetry"
)

// BackfillParams says what Backfill exports.
type BackfillParams struct {
	// AppID is the app whose events are exported (a UUID).
	AppID string
	// From and To bound received_at: [From, To), widened to whole UTC
	// hours.
	From, To time.Time
	// Kinds limits the export to some kinds; empty means all.
	Kinds []telemetry.Kind
	// OutDir is the export root the files go under, in the streaming
	// exporter's layout. It must not be the live exporter's directory:
	// backfill replaces <hh>-000000.ndjson.gz files. Required.
	OutDir string
	// StateFile records the last hour written completely per kind, so that
	// a rerun with the same app and range resumes after it. Defaults to
	// <OutDir>/<app_id>/.backfill-state.json.
	StateFile string
	// Progress, when set, gets a progress bar if it is a terminal and plain
	// lines otherwise.
	Progress io.Writer
	// PageSize is the number of rows per query. Defaults to 5000.
	PageSize int

	// onPage, in tests, is called after each page is written.
	onPage func(kind telemetry.Kind, hour time.Time, page int)
}

// BackfillResult says what Backfill did.
type BackfillResult struct {
	// Hours counts (kind, hour) pairs exported by this run; Skipped those
	// a previous run had finished.
	Hours, Skipped int
	// Files and Lines count what this run wrote.
	Files int
	Lines int64
}

// Backfill exports an app's events from the Postgres telemetry tables, for
// data older than the stream keeps. The lines are those the streaming
// exporter writes for the same events (see compactJSON for the one
// difference jsonb makes), in the same layout and hours (by received_at),
// one file per hour named <hh>-000000.ndjson.gz, each written to a
// temporary name and renamed. Each day gets a manifest, complete once all
// its hours are written and the range covers the whole day.
//
// It is resumable: after each hour it records the hour in the state file;
// an interrupted run leaves no partial file under a final name, and a rerun
// skips finished hours and rewrites the interrupted one.
//
// Reading by received_at wants an index on each table's (app_id,
// received_at); without one every page scans the app's rows.
func Backfill(ctx context.Context, db store.DBTX, p *BackfillParams) (*BackfillResult, error) {
	appID := strings.ToLower(p.AppID)
	switch {
	case !isUUID(appID):
		return nil, fmt.Errorf("error backfilling: app id %q is not a UUID", p.AppID)
	case p.OutDir == "":
		return nil, errors.New("error backfilling: no output directory")
	case !p.To.After(p.From):
		return nil, errors.New("error backfilling: the range is empty (to must be after from)")
	}
	kinds := slices.Clone(p.Kinds)
	if len(kinds) == 0 {
		kinds = telemetry.Kinds
	}
	for _, k := range kinds {
		if !k.Valid() {
			return nil, fmt.Errorf("error backfilling: unknown kind %q", k)
		}
	}
	from := p.From.UTC().Truncate(time.Hour)
	to := p.To.UTC().Add(time.Hour - 1).Truncate(time.Hour)
	statePath := cmp.Or(p.StateFile, filepath.Join(p.OutDir, appID, ".backfill-state.json"))
	st, err := loadBackfillState(statePath, appID, from, to)
	if err != nil {
		return nil, err
	}

	hours := int(to.Sub(from) / time.Hour)
	prog := newProgress(p.Progress, len(kinds)*hours)
	res := &BackfillResult{}
	b := &hourWriter{db: db, appID: appID, outDir: p.OutDir, pageSize: cmp.Or(p.PageSize, 5000), onPage: p.onPage}
	for _, kind := range kinds {
		q := kindQueries[kind]
		for h := from; h.Before(to); h = h.Add(time.Hour) {
			if st.done(kind, h) {
				res.Skipped++
				prog.skip()
				continue
			}
			lines, err := b.write(ctx, q, h)
			if err != nil {
				prog.stop()
				return res, fmt.Errorf("error backfilling %s events of %s: %w", kind, h.Format("2006-01-02T15Z"), err)
			}
			if next := h.Add(time.Hour); next.Hour() == 0 && !h.Truncate(24*time.Hour).Before(from) {
				// The last hour of a day the range covers whole.
				if err := b.completeDay(q.kind, h); err != nil {
					prog.stop()
					return res, err
				}
			}
			st.Done[kind] = h
			if err := st.save(statePath); err != nil {
				prog.stop()
				return res, err
			}
			res.Hours++
			if lines > 0 {
				res.Files++
				res.Lines += lines
			}
			prog.hourDone(kind, h, lines)
		}
	}
	prog.finish()
	return res, nil
}

// hourWriter writes one (kind, hour) file at a time.
type hourWriter struct {
	db       store.DBTX
	appID    string
	outDir   string
	pageSize int
	onPage   func(telemetry.Kind, time.Time, int)
}

// write exports one hour of q's kind and returns its line count. An hour
// without rows has no file (one left by an earlier run is removed).
func (w *hourWriter) write(ctx context.Context, q *kindQuery, hour time.Time) (lines int64, err error) {
	dir := DayDir(w.outDir, w.appID, q.kind, hour)
	final := filepath.Join(dir, fileName(hour.Hour(), 0))
	var g *gzipFile
	defer func() {
		if err != nil && g != nil {
			g.abort()
		}
	}()
	// Every row of the hour is after (hour - 1µs, ...): timestamptz has
	// microsecond precision.
	lastAt, lastID, lastT := hour.Add(-time.Microsecond), "00000000-0000-0000-0000-000000000000", hour
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf) // one JSON value and '\n' per event
	for page := 0; ; page++ {
		rows, err := w.db.Query(ctx, q.sql, w.appID, hour, hour.Add(time.Hour), lastAt, lastID, lastT, w.pageSize)
		if err != nil {
			return 0, fmt.Errorf("error querying: %w", err)
		}
		buf.Reset()
		n := 0
		for rows.Next() {
			ev, err := q.scanEvent(rows, w.appID)
			if err != nil {
				rows.Close()
				return 0, err
			}
			if err := enc.Encode(&ev); err != nil {
				rows.Close()
				return 0, fmt.Errorf("error encoding event %s: %w", ev.ID, err)
			}
			lastAt, lastID, lastT = ev.ReceivedAt, ev.ID, ev.OccurredAt()
			n++
		}
		if err := rows.Err(); err != nil {
			return 0, fmt.Errorf("error reading rows: %w", err)
		}
		if n > 0 {
			if g == nil {
				if err := ensureDir(dir); err != nil {
					return 0, err
				}
				if g, err = createGzip(final); err != nil {
					return 0, err
				}
			}
			if err := g.write(buf.Bytes(), int64(n)); err != nil {
				return 0, err
			}
		}
		if w.onPage != nil {
			w.onPage(q.kind, hour, page)
		}
		if n < w.pageSize {
			break
		}
	}
	if g == nil {
		return 0, w.removeHour(q.kind, hour, final)
	}
	mf, err := g.finish()
	if err != nil {
		g = nil // finish removed it
		return 0, err
	}
	if err := os.Rename(g.tmp, final); err != nil {
		return 0, fmt.Errorf("error renaming %s: %w", g.tmp, err)
	}
	g = nil
	if err := syncDir(dir); err != nil {
		return 0, err
	}
	_, err = updateManifest(&manifestUpdate{
		dir: dir, appID: w.appID, kind: q.kind, day: dayName(hour), add: []ManifestFile{mf}, now: time.Now().UTC(),
	})
	return mf.Lines, err
}

// removeHour drops an hour's file that an earlier run wrote when the hour
// now has no rows.
func (w *hourWriter) removeHour(kind telemetry.Kind, hour time.Time, final string) error {
	err := os.Remove(final)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("error removing %s: %w", final, err)
	}
	dir := filepath.Dir(final)
	_, err = updateManifest(&manifestUpdate{dir: dir, appID: w.appID, kind: kind, day: dayName(hour), now: time.Now().UTC()})
	return err
}

// completeDay marks the day of hour complete, if it has a directory.
func (w *hourWriter) completeDay(kind telemetry.Kind, hour time.Time) error {
	dir := DayDir(w.outDir, w.appID, kind, hour)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil // no events that day
	}
	_, err := updateManifest(&manifestUpdate{
		dir: dir, appID: w.appID, kind: kind, day: dayName(hour), complete: true, now: time.Now().UTC(),
	})
	return err
}

// isUUID reports whether s is a lower-case canonical UUID.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case (c < '0' || c > '9') && (c < 'a' || c > 'f'):
			return false
		}
	}
	return true
}
