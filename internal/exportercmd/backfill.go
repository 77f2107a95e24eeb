package exportercmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/gamepipe/gamepipe/internal/config"
	"github.com/gamepipe/gamepipe/internal/export"
	"github.com/gamepipe/gamepipe/internal/infra"
	"github.com/gamepipe/gamepipe/internal/telemetry"
)

// backfillArgs are the parsed flags of `exporter backfill`.
type backfillArgs struct {
	appID    string
	from, to time.Time
	kinds    []telemetry.Kind
	out      string
}

// kindList is a repeatable, comma-separated --kind flag.
type kindList []telemetry.Kind

// String implements flag.Value.
func (k *kindList) String() string { return fmt.Sprint(*k) }

// Set implements flag.Value: one kind or several, comma-separated.
func (k *kindList) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		kind := telemetry.Kind(strings.ToLower(strings.TrimSpace(part)))
		if !kind.Valid() {
			return fmt.Errorf("unknown kind %q (want player, funnel, gameplay or realtime)", part)
		}
		*k = append(*k, kind)
	}
	return nil
}

// parseBackfillArgs parses args; help is true for -h.
func parseBackfillArgs(args []string) (a *backfillArgs, help bool, err error) {
	fs := flag.NewFlagSet("backfill", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned as one line
	var from, to string
	var kinds kindList
	a = &backfillArgs{}
	fs.StringVar(&a.appID, "app", "", "app id")
	fs.StringVar(&from, "from", "", "start")
	fs.StringVar(&to, "to", "", "end")
	fs.Var(&kinds, "kind", "kind")
	fs.StringVar(&a.out, "out", "", "output directory")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, true, nil
		}
		return nil, false, fmt.Errorf("backfill: %w", err)
	}
	switch {
	case fs.NArg() > 0:
		return nil, false, fmt.Errorf("backfill: unexpected argument %q", fs.Arg(0))
	case a.appID == "":
		return nil, false, errors.New("backfill: --app is required")
	case from == "" || to == "":
		return nil, false, errors.New("backfill: --from and --to are required")
	}
	if a.from, err = parseTime(from, false); err != nil {
		return nil, false, fmt.Errorf("backfill: --from: %w", err)
	}
	if a.to, err = parseTime(to, true); err != nil {
		return nil, false, fmt.Errorf("backfill: --to: %w", err)
	}
	if !a.to.After(a.from) {
		return nil, false, errors.New("backfill: --to must be after --from")
	}
	a.kinds = kinds
	return a, false, nil
}

// parseTime reads RFC 3339 or a UTC date; as an end, a date means the end
// of that day.
func parseTime(v string, end bool) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	d, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither RFC 3339 (2026-02-12T10:00:00Z) nor a date (2026-02-12)", v)
	}
	if end {
		d = d.AddDate(0, 0, 1)
	}
	return d, nil
}

// runBackfill exports from Postgres; progress goes to stderr, the summary
// to stdout.
func runBackfill(ctx context.Context, args []string, getenv config.Getenv, stdout, stderr io.Writer) error {
	a, help, err := parseBackfillArgs(args)
	if help {
		_, err := io.WriteString(stdout, Usage)
		return err
	}
	if err != nil {
		return err
	}
	cfg, err := config.ExporterFromEnv(getenv)
	if err != nil {
		return err
	}
	if a.out == "" {
		a.out = filepath.Join(cfg.DataDir, "exports-backfill")
	}
	if sameDir(a.out, filepath.Join(cfg.DataDir, "exports")) {
		return errors.New("backfill: --out must not be the streaming exporter's directory (DATA_DIR/exports): backfill replaces files by name")
	}

	pool, err := infra.Postgres(ctx, cfg.DatabaseURL, "gamepipe-exporter-backfill", 2)
	if err != nil {
		return err
	}
	defer pool.Close()

	res, err := export.Backfill(ctx, pool, &export.BackfillParams{
		AppID: a.appID, From: a.from, To: a.to, Kinds: a.kinds, OutDir: a.out, Progress: stderr,
	})
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("backfill interrupted; run the same command again to resume: %w", err)
		}
		return err
	}
	_, err = fmt.Fprintf(stdout, "backfill: wrote %d lines in %d files under %s (%d hours, %d already done)\n",
		res.Lines, res.Files, a.out, res.Hours, res.Skipped)
	return err
}

// sameDir reports whether two paths name the same directory.
func sameDir(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}
