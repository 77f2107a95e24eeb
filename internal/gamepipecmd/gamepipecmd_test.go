package gamepipecmd

import (
	"bytes"
	"context"
	"encoding/json"
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

	run := func(t *testing.T, db *dbtest.Schema, args ...string) (string, error) {
		t.Helper()
		var out, errOut bytes.Buffer
		err := Run(ctx, args, func(k string) string {
			if k == "DATABASE_URL" {
				return db.URL
			}
			return ""
		}, &out, &errOut)
		return out.String(), err
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

		out, err = run(t, db, "apps", "rotate", "--app", id.String(), "--json")
		require.NoError(t, err)
		var rotated map[string]string
		require.NoError(t, json.Unmarshal([]byte(out), &rotated))
		require.NotEqual(t, m["secret_key"], rotated["secret_key"])
		_, err = store.KeyLookup(ctx, db.Pool, auth.HashKey(m["secret_key"]))
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("AppsSet", func(t *testing.T) {
		t.Parallel()
		db := dbtest.NewSchema(t)
		creds, err := store.AppCreate(ctx, db.Pool, "x")
		require.NoError(t, err)
		_, err = run(t, db, "apps", "set", "--app", creds.AppID.String(), "--kinetix-key", "kk")
		require.NoError(t, err)
		kin, gen, err := store.AppUpstreamKeys(ctx, db.Pool, creds.AppID)
		require.NoError(t, err)
		require.Equal(t, "kk", kin)
		require.Empty(t, gen)
		_, err = run(t, db, "apps", "set", "--app", creds.AppID.String())
		require.ErrorIs(t, err, ErrUsage)
		_, err = run(t, db, "apps", "set", "--app", uuid.NewString(), "--generaitiv-key", "g")
		require.ErrorContains(t, err, "no app")
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
