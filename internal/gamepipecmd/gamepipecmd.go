// Package gamepipecmd is the admin command: `gamepipe migrate` and
// `gamepipe apps create|list|rotate`.
package gamepipecmd

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/gamepipe/gamepipe/internal/config"
	"github.com/gamepipe/gamepipe/internal/infra"
	"github.com/gamepipe/gamepipe/internal/store"
)

const usage = `usage: gamepipe <command>

commands:
  migrate                                  create the database if missing and apply all migrations (idempotent)
  apps create --name NAME [--json]         create an app; prints its app_id, public_token and secret_key once
  apps list [--json]                       list apps
  apps rotate --app ID [--grace D] [--json] issue new keys; old ones stop working after the grace (default 0)
  apps set --app ID [--kinetix-key K] [--generaitiv-key K]
                                           give an app its own upstream keys ("" clears one)
  demo-data --app ID [--token T] [--api URL] [--players N] [--days N]
                                           send a week of realistic telemetry through the api, for the dashboard
`

// ErrUsage is returned for a malformed command line; the usage was printed.
var ErrUsage = errors.New("invalid usage")

// Run executes one admin command.
func Run(ctx context.Context, args []string, getenv config.Getenv, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return ErrUsage
		}
		return nil
	}
	cfg, err := config.CommonFromEnv(getenv)
	if err != nil {
		return err
	}
	switch {
	case args[0] == "migrate":
		return migrate(ctx, cfg, stdout)
	case args[0] == "demo-data":
		return demoData(ctx, cfg, args[1:], stdout, stderr)
	case args[0] == "apps" && len(args) > 1:
		switch args[1] {
		case "create":
			return appsCreate(ctx, cfg, args[2:], stdout, stderr)
		case "list":
			return appsList(ctx, cfg, args[2:], stdout, stderr)
		case "rotate":
			return appsRotate(ctx, cfg, args[2:], stdout, stderr)
		case "set":
			return appsSet(ctx, cfg, args[2:], stdout, stderr)
		}
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("%w: unknown command %q", ErrUsage, strings.Join(args, " "))
}

func migrate(ctx context.Context, cfg *config.Common, stdout io.Writer) error {
	pool, err := infra.Postgres(ctx, cfg.DatabaseURL, "gamepipe-migrate", 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	res, err := store.Migrate(ctx, pool)
	if err != nil {
		return err
	}
	if len(res.Applied) == 0 && len(res.RiverVersions) == 0 {
		fmt.Fprintln(stdout, "migrations: up to date")
		return nil
	}
	fmt.Fprintf(stdout, "migrations: applied river %v, gamepipe %v\n", res.RiverVersions, res.Applied)
	return nil
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("gamepipe apps "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func appsCreate(ctx context.Context, cfg *config.Common, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("create", stderr)
	name := fs.String("name", "", "the app's name")
	asJSON := fs.Bool("json", false, `print exactly {"app_id":..,"public_token":..,"secret_key":..}`)
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	*name = strings.TrimSpace(*name)
	if *name == "" || len(*name) > 200 {
		return fmt.Errorf("%w: --name is required (at most 200 characters)", ErrUsage)
	}
	pool, err := infra.Postgres(ctx, cfg.DatabaseURL, "gamepipe-admin", 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	creds, err := store.AppCreate(ctx, pool, *name)
	if err != nil {
		return err
	}
	return printCreds(stdout, creds, *asJSON, "created app "+*name)
}

func appsRotate(ctx context.Context, cfg *config.Common, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("rotate", stderr)
	app := fs.String("app", "", "the app's id")
	grace := fs.Duration("grace", 0, "how long the old keys keep working")
	asJSON := fs.Bool("json", false, "print the new keys as JSON")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	id, err := uuid.Parse(*app)
	if err != nil {
		return fmt.Errorf("%w: --app must be an app id (a UUID)", ErrUsage)
	}
	if *grace < 0 {
		return fmt.Errorf("%w: --grace must not be negative", ErrUsage)
	}
	pool, err := infra.Postgres(ctx, cfg.DatabaseURL, "gamepipe-admin", 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	creds, err := store.AppRotateKeys(ctx, pool, id, *grace)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no app with id %s", id)
	}
	if err != nil {
		return err
	}
	return printCreds(stdout, creds, *asJSON, fmt.Sprintf("rotated keys of app %s (old keys expire in %s)", id, *grace))
}

func printCreds(w io.Writer, creds *store.AppCredentials, asJSON bool, title string) error {
	if asJSON {
		return json.NewEncoder(w).Encode(creds)
	}
	fmt.Fprintf(w, "%s\n\n  app_id:       %s\n  public_token: %s   (for game clients: x-public-token)\n  secret_key:   %s   (for servers: x-api-key or Authorization: Bearer)\n\nThe keys are shown only now; gamepipe stores only their hashes.\n",
		title, creds.AppID, creds.PublicToken, creds.SecretKey)
	return nil
}

func appsList(ctx context.Context, cfg *config.Common, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("list", stderr)
	asJSON := fs.Bool("json", false, "print as JSON")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	pool, err := infra.Postgres(ctx, cfg.DatabaseURL, "gamepipe-admin", 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	apps, err := store.AppList(ctx, pool)
	if err != nil {
		return err
	}
	if *asJSON {
		type row struct {
			AppID      uuid.UUID `json:"app_id"`
			Name       string    `json:"name"`
			CreatedAt  time.Time `json:"created_at"`
			ActiveKeys int       `json:"active_keys"`
		}
		out := make([]row, len(apps))
		for i, a := range apps {
			out[i] = row{a.ID, a.Name, a.CreatedAt, a.ActiveKeys}
		}
		return json.NewEncoder(stdout).Encode(out)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "APP ID\tNAME\tCREATED\tACTIVE KEYS")
	for _, a := range apps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", a.ID, a.Name, a.CreatedAt.UTC().Format(time.RFC3339), a.ActiveKeys)
	}
	return tw.Flush()
}

func appsSet(ctx context.Context, cfg *config.Common, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("set", stderr)
	app := fs.String("app", "", "the app's id")
	kinetix := fs.String("kinetix-key", "", "the app's Kinetix API key (empty clears it)")
	generaitiv := fs.String("generaitiv-key", "", "the app's Generaitiv API key (empty clears it)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	id, err := uuid.Parse(*app)
	if err != nil {
		return fmt.Errorf("%w: --app must be an app id (a UUID)", ErrUsage)
	}
	var kin, gen *string
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "kinetix-key":
			kin = kinetix
		case "generaitiv-key":
			gen = generaitiv
		}
	})
	if kin == nil && gen == nil {
		return fmt.Errorf("%w: nothing to set: give --kinetix-key and/or --generaitiv-key", ErrUsage)
	}
	pool, err := infra.Postgres(ctx, cfg.DatabaseURL, "gamepipe-admin", 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := store.AppSetUpstreamKeys(ctx, pool, id, kin, gen); errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no app with id %s", id)
	} else if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "updated upstream keys of app %s\n", id)
	return nil
}
