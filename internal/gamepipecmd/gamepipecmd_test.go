package gamepipecmd

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/auth"
	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/store"
)

func TestRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	secretsKey := bytes.Repeat([]byte{5}, auth.SecretsKeySize)
	box, err := auth.NewSecretBox(secretsKey)
	require.NoError(t, err)
	// runEnv runs a command with DATABASE_URL, the secrets key and env.
	runEnv := func(t *testing.T, db *dbtest.Schema, env map[string]string, args ...string) (string, error) {
		t.Helper()
		var out, errOut bytes.Buffer
		err := Run(ctx, args, func(k string) string {
			switch k {
			case "DATABASE_URL":
				return db.URL
			case "GAMEPIPE_SECRETS_KEY":
				if _, ok := env[k]; !ok {
					return base64.StdEncoding.EncodeToString(secretsKey)
				}
			}
			return env[k]
		}, &out, &errOut)
		return out.String(), err
	}
	run := func(t *testing.T, db *dbtest.Schema, args ...string) (string, error) {
		t.Helper()
		return runEnv(t, db, nil, args...)
	}
	storedKeys := func(t *testing.T, db *dbtest.Schema, id uuid.UUID) (kinetix, generaitiv string) {
		t.Helper()
		require.NoError(t, db.Pool.QueryRow(ctx,
			"SELECT coalesce(kinetix_api_key, ''), coalesce(generaitiv_api_key, '') FROM apps WHERE id = $1", id).
			Scan(&kinetix, &generaitiv))
		return kinetix, generaitiv
	}

	t.Run("MigrateIsIdempotent", func(t *testing.T) {
		t.Parallel()
		db := dbtest.NewSchema(t)
		out, err := run(t, db, "migrate")
		require.NoError(t, err)
		require.Contains(t, out, "up to date")
	})

	t.Run("AppsCreateJSON", func(t *testing.T) {
		t.Parallel()
		db := dbtest.NewSchema(t)
		out, err := run(t, db, "apps", "create", "--name", "demo", "--json")
		require.NoError(t, err)
		var m map[string]string
		require.NoError(t, json.Unmarshal([]byte(out), &m))
		require.Len(t, m, 3, "exactly app_id, public_token, secret_key: %s", out)
		id, err := uuid.Parse(m["app_id"])
		require.NoError(t, err)
		info, err := store.KeyLookup(ctx, db.Pool, auth.HashKey(m["public_token"]))
		require.NoError(t, err)
		require.Equal(t, id, info.AppID)
		_, err = store.KeyLookup(ctx, db.Pool, auth.HashKey(m["secret_key"]))
		require.NoError(t, err)

		out, err = run(t, db, "apps", "list")
		require.NoError(t, err)
		require.Contains(t, out, id.String())
		require.NotContains(t, out, m["secret_key"])

		out, err = run(t, db, "apps", "rotate", "--app", id.String(), "--secret", "--json")
		require.NoError(t, err)
		var rotated map[string]string
		require.NoError(t, json.Unmarshal([]byte(out), &rotated))
		require.Len(t, rotated, 2, "exactly app_id and secret_key: %s", out)
		require.NotEqual(t, m["secret_key"], rotated["secret_key"])
		_, err = store.KeyLookup(ctx, db.Pool, auth.HashKey(m["secret_key"]))
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = store.KeyLookup(ctx, db.Pool, auth.HashKey(m["public_token"]))
		require.NoError(t, err, "rotating the secret key leaves the public token working")
	})

	t.Run("AppsDisableEnable", func(t *testing.T) {
		t.Parallel()
		db := dbtest.NewSchema(t)
		creds, err := store.AppCreate(ctx, db.Pool, "x")
		require.NoError(t, err)
		_, err = run(t, db, "apps", "disable", "--app", creds.AppID.String())
		require.NoError(t, err)
		_, err = store.KeyLookup(ctx, db.Pool, auth.HashKey(creds.SecretKey))
		require.ErrorIs(t, err, store.ErrAppDisabled)
		out, err := run(t, db, "apps", "list", "--json")
		require.NoError(t, err)
		var listed []map[string]any
		require.NoError(t, json.Unmarshal([]byte(out), &listed))
		require.NotEmpty(t, listed[0]["disabled_at"], out)
		_, err = run(t, db, "apps", "enable", "--app", creds.AppID.String())
		require.NoError(t, err)
		_, err = store.KeyLookup(ctx, db.Pool, auth.HashKey(creds.SecretKey))
		require.NoError(t, err)
		_, err = run(t, db, "apps", "disable", "--app", uuid.NewString())
		require.ErrorContains(t, err, "no app")
		_, err = run(t, db, "apps", "disable")
		require.ErrorIs(t, err, ErrUsage)
	})

	t.Run("AppsRotateOneKind", func(t *testing.T) {
		t.Parallel()
		db := dbtest.NewSchema(t)
		creds, err := store.AppCreate(ctx, db.Pool, "x")
		require.NoError(t, err)

		out, err := run(t, db, "apps", "rotate", "--app", creds.AppID.String(), "--public", "--json")
		require.NoError(t, err)
		var rotated map[string]string
		require.NoError(t, json.Unmarshal([]byte(out), &rotated))
		require.NotEmpty(t, rotated["public_token"])
		require.NotContains(t, rotated, "secret_key")
		_, err = store.KeyLookup(ctx, db.Pool, auth.HashKey(creds.PublicToken))
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = store.KeyLookup(ctx, db.Pool, auth.HashKey(creds.SecretKey))
		require.NoError(t, err, "rotating the public token leaves the secret key working")
		_, err = store.KeyLookup(ctx, db.Pool, auth.HashKey(rotated["public_token"]))
		require.NoError(t, err)

		out, err = run(t, db, "apps", "rotate", "--app", creds.AppID.String(), "--public", "--secret")
		require.NoError(t, err)
		require.Contains(t, out, "public_token:")
		require.Contains(t, out, "secret_key:")
		_, err = store.KeyLookup(ctx, db.Pool, auth.HashKey(creds.SecretKey))
		require.ErrorIs(t, err, store.ErrNotFound)

		_, err = run(t, db, "apps", "rotate", "--app", creds.AppID.String())
		require.ErrorIs(t, err, ErrUsage, "one of --public and --secret is required")
	})

	t.Run("AppsSet", func(t *testing.T) {
		t.Parallel()
		db := dbtest.NewSchema(t)
		creds, err := store.AppCreate(ctx, db.Pool, "x")
		require.NoError(t, err)
		app := creds.AppID.String()
		path := filepath.Join(t.TempDir(), "kinetix.key")
		require.NoError(t, os.WriteFile(path, []byte("kinetix-secret-kk\n"), 0o600))

		_, err = runEnv(t, db, map[string]string{"GEN_KEY": "generaitiv-secret-gg"},
			"apps", "set", "--app", app, "--kinetix-key-file", path, "--generaitiv-key-env", "GEN_KEY")
		require.NoError(t, err)
		kin, gen, err := store.AppUpstreamKeys(ctx, db.Pool, box, creds.AppID)
		require.NoError(t, err)
		require.Equal(t, "kinetix-secret-kk", kin)
		require.Equal(t, "generaitiv-secret-gg", gen)
		sk, sg := storedKeys(t, db, creds.AppID)
		require.NotContains(t, sk, "kinetix-secret-kk", "the row holds no plaintext")
		require.NotContains(t, sg, "generaitiv-secret-gg", "the row holds no plaintext")
		require.True(t, auth.IsSealed(sk) && auth.IsSealed(sg))

		_, err = run(t, db, "apps", "set", "--app", app, "--clear-kinetix-key")
		require.NoError(t, err)
		kin, gen, err = store.AppUpstreamKeys(ctx, db.Pool, box, creds.AppID)
		require.NoError(t, err)
		require.Empty(t, kin)
		require.Equal(t, "generaitiv-secret-gg", gen)

		for _, args := range [][]string{
			{"apps", "set", "--app", app},
			{"apps", "set", "--app", app, "--kinetix-key", "on-the-command-line"},
			{"apps", "set", "--app", app, "--kinetix-key-env", "UNSET_VARIABLE"},
			{"apps", "set", "--app", app, "--kinetix-key-file", path, "--clear-kinetix-key"},
			{"apps", "set", "--app", app, "--generaitiv-key-file", t.TempDir()},
		} {
			_, err = run(t, db, args...)
			require.Error(t, err, "%v", args)
		}
		_, err = run(t, db, "apps", "set", "--app", uuid.NewString(), "--generaitiv-key-file", path)
		require.ErrorContains(t, err, "no app")

		// Without a secrets key, no key is stored in clear.
		_, err = runEnv(t, db, map[string]string{"GAMEPIPE_SECRETS_KEY": ""}, "apps", "set", "--app", app, "--kinetix-key-file", path)
		require.ErrorIs(t, err, store.ErrNoSecretsKey)
		sk, _ = storedKeys(t, db, creds.AppID)
		require.Empty(t, sk)
	})

	t.Run("MigrateSealsClearKeys", func(t *testing.T) {
		t.Parallel()
		db := dbtest.NewSchema(t)
		creds, err := store.AppCreate(ctx, db.Pool, "x")
		require.NoError(t, err)
		_, err = db.Pool.Exec(ctx, "UPDATE apps SET kinetix_api_key = 'legacy-clear-key' WHERE id = $1", creds.AppID)
		require.NoError(t, err)

		out, err := runEnv(t, db, map[string]string{"GAMEPIPE_SECRETS_KEY": ""}, "migrate")
		require.NoError(t, err)
		require.Contains(t, out, "1 stored in clear")
		sk, _ := storedKeys(t, db, creds.AppID)
		require.Equal(t, "legacy-clear-key", sk, "without a secrets key migrate leaves it")

		out, err = run(t, db, "migrate")
		require.NoError(t, err)
		require.Contains(t, out, "sealed 1")
		sk, _ = storedKeys(t, db, creds.AppID)
		require.True(t, auth.IsSealed(sk))
		kin, _, err := store.AppUpstreamKeys(ctx, db.Pool, box, creds.AppID)
		require.NoError(t, err)
		require.Equal(t, "legacy-clear-key", kin)
	})

	t.Run("Usage", func(t *testing.T) {
		t.Parallel()
		db := dbtest.NewSchema(t)
		for _, args := range [][]string{{}, {"apps"}, {"apps", "create"}, {"apps", "rotate", "--app", "nope"}, {"frobnicate"}} {
			_, err := run(t, db, args...)
			require.ErrorIs(t, err, ErrUsage, "%v", args)
		}
	})
}
