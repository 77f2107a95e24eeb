package gamepipecmd

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/auth"
	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/store"
)

func TestWebhooksCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.NewSchema(t)
	secretsKey := bytes.Repeat([]byte{9}, auth.SecretsKeySize)
	box, err := auth.NewSecretBox(secretsKey)
	require.NoError(t, err)
	run := func(env map[string]string, args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := Run(ctx, args, func(k string) string {
			switch k {
			case "DATABASE_URL":
				return db.URL
			case "GAMEPIPE_SECRETS_KEY":
				return base64.StdEncoding.EncodeToString(secretsKey)
			}
			return env[k]
		}, &out, &errOut)
		return out.String(), err
	}
	app, err := store.AppCreate(ctx, db.Pool, "game")
	require.NoError(t, err)
	appID := app.AppID.String()

	// A loopback URL needs WEBHOOK_ALLOW_PRIVATE; an unknown event type is refused.
	_, err = run(nil, "webhooks", "add", "--app", appID, "--url", "http://127.0.0.1:9/hook", "--events", "emote.*")
	require.ErrorIs(t, err, ErrUsage)
	_, err = run(nil, "webhooks", "add", "--app", appID, "--url", "https://93.184.216.34/hook", "--events", "emote.done")
	require.ErrorIs(t, err, ErrUsage)
	_, err = run(nil, "webhooks", "add", "--app", uuid.NewString(), "--url", "https://93.184.216.34/hook", "--events", "emote.*")
	require.ErrorContains(t, err, "no app")

	out, err := run(map[string]string{"WEBHOOK_ALLOW_PRIVATE": "true"}, "webhooks", "add", "--app", appID,
		"--url", "http://127.0.0.1:9/hook", "--events", "emote.*, generation.succeeded", "--json")
	require.NoError(t, err)
	var added map[string]string
	require.NoError(t, json.Unmarshal([]byte(out), &added))
	require.True(t, strings.HasPrefix(added["secret"], "whsec_"))

	// Stored sealed with the secrets key, and opened back to the one shown.
	var stored string
	require.NoError(t, db.Pool.QueryRow(ctx, "SELECT secret FROM webhook_endpoints WHERE id = $1", added["id"]).Scan(&stored))
	require.True(t, auth.IsSealed(stored), stored)
	require.NotContains(t, stored, added["secret"][len("whsec_"):])
	e, err := store.WebhookEndpointGetForApp(ctx, db.Pool, box, app.AppID, uuid.MustParse(added["id"]))
	require.NoError(t, err)
	require.Equal(t, added["secret"], e.Secret)
	require.Equal(t, []string{"emote.*", "generation.succeeded"}, e.EventTypes)

	out, err = run(nil, "webhooks", "list", "--app", appID)
	require.NoError(t, err)
	require.Contains(t, out, added["id"])
	require.NotContains(t, out, added["secret"])

	out, err = run(nil, "webhooks", "rm", "--app", appID, "--id", added["id"])
	require.NoError(t, err)
	require.Contains(t, out, "removed")
	_, err = run(nil, "webhooks", "rm", "--app", appID, "--id", added["id"])
	require.ErrorContains(t, err, "no webhook endpoint")
	_, err = run(nil, "webhooks", "frob")
	require.ErrorIs(t, err, ErrUsage)

	// A bad flag prints the usage of the command given.
	var usage bytes.Buffer
	err = Run(ctx, []string{"webhooks", "list", "--bogus"}, func(k string) string {
		if k == "DATABASE_URL" {
			return db.URL
		}
		return ""
	}, io.Discard, &usage)
	require.ErrorIs(t, err, ErrUsage)
	require.Contains(t, usage.String(), "Usage of gamepipe webhooks list:")
}
