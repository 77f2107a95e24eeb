package gamepipecmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gamepipe/gamepipe/internal/config"
	"github.com/gamepipe/gamepipe/internal/infra"
	"github.com/gamepipe/gamepipe/internal/jobs"
	"github.com/gamepipe/gamepipe/internal/store"
)

// webhooks runs `gamepipe webhooks add|list|rm` (docs/webhooks.md): the
// same endpoints and checks as /v1/webhooks, for an operator.
func webhooks(ctx context.Context, cfg *config.Common, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: webhooks needs add, list or rm", ErrUsage)
	}
	switch args[0] {
	case "add":
		return webhooksAdd(ctx, cfg, args[1:], stdout, stderr)
	case "list":
		return webhooksList(ctx, cfg, args[1:], stdout, stderr)
	case "rm":
		return webhooksRemove(ctx, cfg, args[1:], stdout, stderr)
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("%w: unknown command %q", ErrUsage, "webhooks "+args[0])
}

func webhooksAdd(ctx context.Context, cfg *config.Common, args []string, stdout, stderr io.Writer) error {
	c := newAppCommand("webhooks add", stderr)
	rawURL := c.String("url", "", "where to deliver (https)")
	events := c.String("events", "", `event types, comma separated ("emote.*,generation.succeeded")`)
	description := c.String("description", "", "a note for the app's operators")
	disabled := c.Bool("disabled", false, "create it disabled")
	asJSON := c.Bool("json", false, `print exactly {"id":..,"secret":..}`)
	appID, err := c.parse(args)
	if err != nil {
		return err
	}
	u, err := jobs.CheckWebhookURL(ctx, *rawURL, cfg.WebhookAllowPrivate)
	if err != nil {
		return fmt.Errorf("%w: --url: %w", ErrUsage, err)
	}
	var list []string
	for _, t := range strings.Split(*events, ",") {
		if t = strings.TrimSpace(t); t != "" {
			list = append(list, t)
		}
	}
	types, err := jobs.CheckWebhookEventTypes(list)
	if err != nil {
		return fmt.Errorf("%w: --events: %w", ErrUsage, err)
	}
	return withPool(ctx, cfg, func(pool *pgxpool.Pool) error {
		box, err := infra.SecretBox(cfg.SecretsKey)
		if err != nil {
			return err
		}
		e := &store.WebhookEndpoint{AppID: appID, URL: u, EventTypes: types, Description: *description, Enabled: !*disabled}
		if err := store.WebhookEndpointInsert(ctx, pool, box, e); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no app %s", appID)
			}
			return err
		}
		if *asJSON {
			return json.NewEncoder(stdout).Encode(map[string]string{"id": e.ID.String(), "secret": e.Secret})
		}
		fmt.Fprintf(stdout, "added webhook endpoint %s\nsigning secret (shown once): %s\n", e.ID, e.Secret)
		return nil
	})
}

func webhooksList(ctx context.Context, cfg *config.Common, args []string, stdout, stderr io.Writer) error {
	c := newAppCommand("webhooks list", stderr)
	asJSON := c.Bool("json", false, "print JSON lines")
	appID, err := c.parse(args)
	if err != nil {
		return err
	}
	return withPool(ctx, cfg, func(pool *pgxpool.Pool) error {
		box, err := infra.SecretBox(cfg.SecretsKey)
		if err != nil {
			return err
		}
		list, err := store.WebhookEndpointList(ctx, pool, box, appID)
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			for _, e := range list {
				if err := enc.Encode(map[string]any{"id": e.ID, "url": e.URL, "event_types": e.EventTypes,
					"description": e.Description, "enabled": e.Enabled, "disabled_reason": e.DisabledReason}); err != nil {
					return err
				}
			}
			return nil
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tURL\tEVENTS\tENABLED\tDESCRIPTION")
		for _, e := range list {
			enabled := "yes"
			if !e.Enabled {
				enabled = "no"
				if e.DisabledReason != "" {
					enabled = "no (" + e.DisabledReason + ")"
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.ID, e.URL, strings.Join(e.EventTypes, ","), enabled, e.Description)
		}
		return tw.Flush()
	})
}

func webhooksRemove(ctx context.Context, cfg *config.Common, args []string, stdout, stderr io.Writer) error {
	c := newAppCommand("webhooks rm", stderr)
	id := c.String("id", "", "the endpoint's id")
	appID, err := c.parse(args)
	if err != nil {
		return err
	}
	endpointID, err := uuid.Parse(*id)
	if err != nil {
		return fmt.Errorf("%w: --id must be a webhook endpoint id (a UUID)", ErrUsage)
	}
	return withPool(ctx, cfg, func(pool *pgxpool.Pool) error {
		if err := store.WebhookEndpointDelete(ctx, pool, appID, endpointID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("app %s has no webhook endpoint %s", appID, endpointID)
			}
			return err
		}
		fmt.Fprintf(stdout, "removed webhook endpoint %s\n", endpointID)
		return nil
	})
}
