package gamepipecmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gamepipe/gamepipe/internal/auth"
	"github.com/gamepipe/gamepipe/internal/config"
	"github.com/gamepipe/gamepipe/internal/infra"
	"github.com/gamepipe/gamepipe/internal/store"
)

// maxUpstreamKeyBytes caps an upstream key read from a file.
const maxUpstreamKeyBytes = 4096

func appsRotate(ctx context.Context, cfg *config.Common, args []string, stdout, stderr io.Writer) error {
	c := newAppCommand("apps rotate", stderr)
	public := c.Bool("public", false, "issue a new public token (game clients must ship it)")
	secret := c.Bool("secret", false, "issue a new secret key (servers)")
	grace := c.Duration("grace", 0, "how long the old key keeps working")
	asJSON := c.Bool("json", false, "print the new key as JSON")
	id, err := c.parse(args)
	if err != nil {
		return err
	}
	if !*public && !*secret {
		return fmt.Errorf("%w: say which key to rotate: --public (the token in game clients) or --secret (the servers' key)", ErrUsage)
	}
	if *grace < 0 {
		return fmt.Errorf("%w: --grace must not be negative", ErrUsage)
	}
	return withPool(ctx, cfg, func(pool *pgxpool.Pool) error {
		var (
			creds   *store.AppCredentials
			rotated string
			err     error
		)
		switch {
		case *public && *secret:
			creds, err = store.AppRotateKeys(ctx, pool, id, *grace)
			rotated = "public and secret keys"
		case *public:
			creds, err = store.AppRotateKey(ctx, pool, &store.AppRotateParams{AppID: id, Kind: auth.KindPublic, Grace: *grace})
			rotated = "public token"
		default:
			creds, err = store.AppRotateKey(ctx, pool, &store.AppRotateParams{AppID: id, Kind: auth.KindSecret, Grace: *grace})
			rotated = "secret key"
		}
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no app with id %s", id)
		}
		if err != nil {
			return err
		}
		return printCreds(stdout, creds, *asJSON,
			fmt.Sprintf("rotated the %s of app %s (the old ones expire in %s)", rotated, id, *grace))
	})
}

func appsDisable(ctx context.Context, cfg *config.Common, disable bool, args []string, stdout, stderr io.Writer) error {
	name := "enable"
	if disable {
		name = "disable"
	}
	c := newAppCommand("apps "+name, stderr)
	id, err := c.parse(args)
	if err != nil {
		return err
	}
	return withPool(ctx, cfg, func(pool *pgxpool.Pool) error {
		if err := store.AppSetDisabled(ctx, pool, id, disable); errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no app with id %s", id)
		} else if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%sd app %s (running api processes notice within their key cache TTL, 30s by default)\n", name, id)
		return nil
	})
}

// upstreamKeyFlags are one upstream's flags of `apps set`.
type upstreamKeyFlags struct {
	name                   string // "kinetix"
	file, env, legacyValue *string
	clear                  *bool
}

func newUpstreamKeyFlags(fs *flag.FlagSet, name, title string) *upstreamKeyFlags {
	return &upstreamKeyFlags{
		name:        name,
		file:        fs.String(name+"-key-file", "", "a file holding the app's "+title+" API key (/dev/stdin to pipe it)"),
		env:         fs.String(name+"-key-env", "", "an environment variable holding the app's "+title+" API key"),
		clear:       fs.Bool("clear-"+name+"-key", false, "remove the app's own "+title+" key (the process-wide one is used)"),
		legacyValue: fs.String(name+"-key", "", "refused: a key on the command line is visible to other users and kept in shell history"),
	}
}

// read returns the key to set: nil when none of the flags was given, a
// pointer to "" to clear it.
func (u *upstreamKeyFlags) read(set map[string]bool, getenv config.Getenv) (*string, error) {
	given := 0
	for _, f := range []string{u.name + "-key-file", u.name + "-key-env", "clear-" + u.name + "-key"} {
		if set[f] {
			given++
		}
	}
	switch {
	case set[u.name+"-key"]:
		return nil, fmt.Errorf("%w: --%s-key is not accepted (the key would be visible in ps and shell history): use --%s-key-file PATH or --%s-key-env NAME",
			ErrUsage, u.name, u.name, u.name)
	case given == 0:
		return nil, nil
	case given > 1:
		return nil, fmt.Errorf("%w: give only one of --%s-key-file, --%s-key-env and --clear-%s-key", ErrUsage, u.name, u.name, u.name)
	case *u.clear:
		empty := ""
		return &empty, nil
	case set[u.name+"-key-env"]:
		v := strings.TrimSpace(getenv(*u.env))
		if v == "" {
			return nil, fmt.Errorf("%w: --%s-key-env: the environment variable %q is empty or not set", ErrUsage, u.name, *u.env)
		}
		return &v, nil
	}
	f, err := os.Open(*u.file)
	if err != nil {
		return nil, fmt.Errorf("error reading --%s-key-file: %w", u.name, err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxUpstreamKeyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("error reading --%s-key-file %s: %w", u.name, *u.file, err)
	}
	v := strings.TrimSpace(string(raw))
	if v == "" || len(raw) > maxUpstreamKeyBytes || strings.ContainsAny(v, "\r\n") {
		return nil, fmt.Errorf("%w: --%s-key-file %s must hold one key on one line (at most %d bytes)", ErrUsage, u.name, *u.file, maxUpstreamKeyBytes)
	}
	return &v, nil
}

func appsSet(ctx context.Context, cfg *config.Common, getenv config.Getenv, args []string, stdout, stderr io.Writer) error {
	c := newAppCommand("apps set", stderr)
	kinetix := newUpstreamKeyFlags(c.FlagSet, "kinetix", "Kinetix")
	generaitiv := newUpstreamKeyFlags(c.FlagSet, "generaitiv", "Generaitiv")
	id, err := c.parse(args)
	if err != nil {
		return err
	}
	set := map[string]bool{}
	c.Visit(func(f *flag.Flag) { set[f.Name] = true })
	kin, err := kinetix.read(set, getenv)
	if err != nil {
		return err
	}
	gen, err := generaitiv.read(set, getenv)
	if err != nil {
		return err
	}
	if kin == nil && gen == nil {
		return fmt.Errorf("%w: nothing to set: give --kinetix-key-file, --kinetix-key-env, --clear-kinetix-key or their generaitiv forms", ErrUsage)
	}
	box, err := infra.SecretBox(cfg.SecretsKey)
	if err != nil {
		return err
	}
	return withPool(ctx, cfg, func(pool *pgxpool.Pool) error {
		if err := store.AppSetUpstreamKeys(ctx, pool, box, id, kin, gen); errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no app with id %s", id)
		} else if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "updated upstream keys of app %s\n", id)
		return nil
	})
}
