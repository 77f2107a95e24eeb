// Package gamepipecmd is the admin command: `gamepipe migrate` (under an
// advisory lock, safe beside running copies) and `gamepipe apps
// create|list|rotate|disable|enable|set`: apps, their public token and
// secret key (rotated separately, stored hashed), and with set an app's own
// Kinetix and Generaitiv keys, sealed with GAMEPIPE_SECRETS_KEY.
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
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gamepipe/gamepipe/internal/config"
	"github.com/gamepipe/gamepipe/internal/infra"
	"github.com/gamepipe/gamepipe/internal/store"
)

const usage = `usage: gamepipe <command>

commands:
  migrate                                  create the database if missing and apply all migrations (idempotent);
                                           with a secrets key, also seals upstream keys still stored in clear
  apps create --name NAME [--json]         create an app; prints its app_id, public_token and secret_key once
  apps list [--json]                       list apps
  apps rotate --app ID (--public | --secret) [--grace D] [--json]
                                           issue a new public token or secret key (or both, given both flags);
                                           the old one stops working after the grace (default 0)
  apps disable --app ID                    the app's keys stop authenticating and its jobs wait
  apps enable --app ID                     undo disable
  apps set --app ID [--kinetix-key-file PATH | --kinetix-key-env NAME | --clear-kinetix-key]
                    [--generaitiv-key-file PATH | --generaitiv-key-env NAME | --clear-generaitiv-key]
                                           give an app its own upstream keys, read from a file (/dev/stdin
                                           works) or an environment variable, never from the command line;
                                           they are stored sealed with GAMEPIPE_SECRETS_KEY
  webhooks add --app ID --url URL --events TYPES [--description S] [--disabled] [--json]
                                           add a webhook endpoint (docs/webhooks.md); prints its signing secret once
  webhooks list --app ID [--json]          list an app's webhook endpoints
  webhooks rm --app ID --id ENDPOINT       remove a webhook endpoint
  demo-data --app ID [--token T] [--api URL] [--players N] [--days N]
                                           send a week of realistic telemetry through the api, for the dashboard
  dashboard-bench [--rows N] [--players N] [--days N] [--runs N] [--database NAME] [--reuse]
                                           fill a database of its own with synthetic telemetry (COPY) and time
                                           the dashboard's JSON views over 7 and 30 days (a benchmark)
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
	case args[0] == "dashboard-bench":
		return dashboardBench(ctx, cfg, args[1:], stdout, stderr)
	case args[0] == "webhooks":
		return webhooks(ctx, cfg, args[1:], stdout, stderr)
	case args[0] == "apps" && len(args) > 1:
		switch args[1] {
		case "create":
			return appsCreate(ctx, cfg, args[2:], stdout, stderr)
		case "list":
			return appsList(ctx, cfg, args[2:], stdout, stderr)
		case "rotate":
			return appsRotate(ctx, cfg, args[2:], stdout, stderr)
		case "set":
			return appsSet(ctx, cfg, getenv, args[2:], stdout, stderr)
		case "disable", "enable":
			return appsDisable(ctx, cfg, args[1] == "disable", args[2:], stdout, stderr)
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
	} else {
		fmt.Fprintf(stdout, "migrations: applied river %v, gamepipe %v\n", res.RiverVersions, res.Applied)
	}
	box, err := infra.SecretBox(cfg.SecretsKey)
	if err != nil {
		return err
	}
	if box == nil {
		n, err := store.AppCountClearUpstreamKeys(ctx, pool)
		if err == nil && n > 0 {
			fmt.Fprintf(stdout, "upstream keys: %d stored in clear; set GAMEPIPE_SECRETS_KEY and run migrate again to seal them\n", n)
		}
		return err
	}
	n, err := store.AppSealUpstreamKeys(ctx, pool, box)
	if err != nil {
		return err
	}
	if n > 0 {
		fmt.Fprintf(stdout, "upstream keys: sealed %d stored in clear (secrets key %s)\n", n, box.KeyID())
	}
	return nil
}

// command is the preamble the admin commands share: the flag set of
// `gamepipe <name>`, whose errors and usage go to stderr, with --app for the
// commands that act on one app. A command adds its own flags, parses, checks
// its flags, and only then opens the database (withPool), so a usage error
// never waits on Postgres.
type command struct {
	*flag.FlagSet
	app *string // nil without --app
}

func newCommand(name string, stderr io.Writer) *command {
	fs := flag.NewFlagSet("gamepipe "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return &command{FlagSet: fs}
}

// newAppCommand is newCommand with the --app flag.
func newAppCommand(name string, stderr io.Writer) *command {
	c := newCommand(name, stderr)
	c.app = c.String("app", "", "the app's id")
	return c
}

// parse parses args and returns the --app id (uuid.Nil without --app); a
// bad flag or app id is ErrUsage.
func (c *command) parse(args []string) (uuid.UUID, error) {
	if err := c.Parse(args); err != nil {
		return uuid.Nil, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if c.app == nil {
		return uuid.Nil, nil
	}
	id, err := uuid.Parse(*c.app)
	if err != nil {
		return uuid.Nil, fmt.Errorf("%w: --app must be an app id (a UUID)", ErrUsage)
	}
	return id, nil
}

// withPool runs fn with a pool on DATABASE_URL, closed when fn returns.
func withPool(ctx context.Context, cfg *config.Common, fn func(pool *pgxpool.Pool) error) error {
	pool, err := infra.Postgres(ctx, cfg.DatabaseURL, "gamepipe-admin", 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	return fn(pool)
}

func appsCreate(ctx context.Context, cfg *config.Common, args []string, stdout, stderr io.Writer) error {
	c := newCommand("apps create", stderr)
	name := c.String("name", "", "the app's name")
	asJSON := c.Bool("json", false, `print exactly {"app_id":..,"public_token":..,"secret_key":..}`)
	if _, err := c.parse(args); err != nil {
		return err
	}
	*name = strings.TrimSpace(*name)
	if *name == "" || len(*name) > 200 {
		return fmt.Errorf("%w: --name is required (at most 200 characters)", ErrUsage)
	}
	return withPool(ctx, cfg, func(pool *pgxpool.Pool) error {
		creds, err := store.AppCreate(ctx, pool, *name)
		if err != nil {
			return err
		}
		return printCreds(stdout, creds, *asJSON, "created app "+*name)
	})
}

func printCreds(w io.Writer, creds *store.AppCredentials, asJSON bool, title string) error {
	if asJSON {
		return json.NewEncoder(w).Encode(creds)
	}
	fmt.Fprintf(w, "%s\n\n  app_id:       %s\n", title, creds.AppID)
	if creds.PublicToken != "" {
		fmt.Fprintf(w, "  public_token: %s   (for game clients: x-public-token)\n", creds.PublicToken)
	}
	if creds.SecretKey != "" {
		fmt.Fprintf(w, "  secret_key:   %s   (for servers: x-api-key or Authorization: Bearer)\n", creds.SecretKey)
	}
	fmt.Fprintln(w, "\nThe keys are shown only now; gamepipe stores only their hashes.")
	return nil
}

func appsList(ctx context.Context, cfg *config.Common, args []string, stdout, stderr io.Writer) error {
	c := newCommand("apps list", stderr)
	asJSON := c.Bool("json", false, "print as JSON")
	if _, err := c.parse(args); err != nil {
		return err
	}
	return withPool(ctx, cfg, func(pool *pgxpool.Pool) error {
		apps, err := store.AppList(ctx, pool)
		if err != nil {
			return err
		}
		if *asJSON {
			type row struct {
				AppID      uuid.UUID  `json:"app_id"`
				Name       string     `json:"name"`
				CreatedAt  time.Time  `json:"created_at"`
				ActiveKeys int        `json:"active_keys"`
				DisabledAt *time.Time `json:"disabled_at,omitempty"`
			}
			out := make([]row, len(apps))
			for i, a := range apps {
				out[i] = row{a.ID, a.Name, a.CreatedAt, a.ActiveKeys, a.DisabledAt}
			}
			return json.NewEncoder(stdout).Encode(out)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "APP ID\tNAME\tCREATED\tACTIVE KEYS\tDISABLED")
		for _, a := range apps {
			disabled := "-"
			if a.DisabledAt != nil {
				disabled = a.DisabledAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", a.ID, a.Name, a.CreatedAt.UTC().Format(time.RFC3339), a.ActiveKeys, disabled)
		}
		return tw.Flush()
	})
}
