package store_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/auth"
	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/store"
)

func TestUpstreamKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	type testBundle struct {
		db    *dbtest.Schema
		box   *auth.SecretBox
		appID uuid.UUID
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		db := dbtest.NewSchema(t)
		box, err := auth.NewSecretBox(bytes.Repeat([]byte{7}, auth.SecretsKeySize))
		require.NoError(t, err)
		creds, err := store.AppCreate(ctx, db.Pool, "game")
		require.NoError(t, err)
		return &testBundle{db: db, box: box, appID: creds.AppID}
	}
	// stored reads the columns as they are in the row.
	stored := func(t *testing.T, bundle *testBundle) (kinetix, generaitiv string) {
		t.Helper()
		require.NoError(t, bundle.db.Pool.QueryRow(ctx,
			"SELECT coalesce(kinetix_api_key, ''), coalesce(generaitiv_api_key, '') FROM apps WHERE id = $1",
			bundle.appID).Scan(&kinetix, &generaitiv))
		return kinetix, generaitiv
	}

	t.Run("ClearOnEmpty", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		k := "kin-key"
		require.NoError(t, store.AppSetUpstreamKeys(ctx, bundle.db.Pool, bundle.box, bundle.appID, &k, nil))
		empty := ""
		require.NoError(t, store.AppSetUpstreamKeys(ctx, bundle.db.Pool, nil, bundle.appID, &empty, nil),
			"clearing needs no secrets key")
		kin, _, err := store.AppUpstreamKeys(ctx, bundle.db.Pool, bundle.box, bundle.appID)
		require.NoError(t, err)
		require.Empty(t, kin)
		require.ErrorIs(t, store.AppSetUpstreamKeys(ctx, bundle.db.Pool, bundle.box, uuid.New(), &k, nil), store.ErrNotFound)
	})

	t.Run("LegacyClearKeysSealed", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		other := setup(t)
		for _, b := range []*testBundle{bundle, other} {
			_, err := b.db.Pool.Exec(ctx, "UPDATE apps SET kinetix_api_key = 'old-kin', generaitiv_api_key = 'old-gen' WHERE id = $1", b.appID)
			require.NoError(t, err)
		}

		// Without a secrets key a key in clear is still read.
		kin, gen, err := store.AppUpstreamKeys(ctx, bundle.db.Pool, nil, bundle.appID)
		require.NoError(t, err)
		require.Equal(t, []string{"old-kin", "old-gen"}, []string{kin, gen})

		// With one, the first read seals it in place.
		kin, gen, err = store.AppUpstreamKeys(ctx, bundle.db.Pool, bundle.box, bundle.appID)
		require.NoError(t, err)
		require.Equal(t, []string{"old-kin", "old-gen"}, []string{kin, gen})
		sk, sg := stored(t, bundle)
		require.True(t, auth.IsSealed(sk) && auth.IsSealed(sg), "%s %s", sk, sg)

		// AppSealUpstreamKeys seals every row at once, and twice is a no-op.
		n, err := store.AppSealUpstreamKeys(ctx, other.db.Pool, other.box)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		sk, sg = stored(t, other)
		require.True(t, auth.IsSealed(sk) && auth.IsSealed(sg), "%s %s", sk, sg)
		n, err = store.AppSealUpstreamKeys(ctx, other.db.Pool, other.box)
		require.NoError(t, err)
		require.Zero(t, n)
		kin, gen, err = store.AppUpstreamKeys(ctx, other.db.Pool, other.box, other.appID)
		require.NoError(t, err)
		require.Equal(t, []string{"old-kin", "old-gen"}, []string{kin, gen})
	})

	t.Run("RefusedWithoutSecretsKey", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		k := "kin-key"
		require.ErrorIs(t, store.AppSetUpstreamKeys(ctx, bundle.db.Pool, nil, bundle.appID, &k, nil), store.ErrNoSecretsKey)
		kin, _ := stored(t, bundle)
		require.Empty(t, kin)
	})

	t.Run("StoredSealed", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		k, g := "kin-secret-value", "gen-secret-value"
		require.NoError(t, store.AppSetUpstreamKeys(ctx, bundle.db.Pool, bundle.box, bundle.appID, &k, &g))

		sk, sg := stored(t, bundle)
		require.NotContains(t, sk, k)
		require.NotContains(t, sg, g)
		require.True(t, auth.IsSealed(sk))
		require.True(t, auth.IsSealed(sg))

		kin, gen, err := store.AppUpstreamKeys(ctx, bundle.db.Pool, bundle.box, bundle.appID)
		require.NoError(t, err)
		require.Equal(t, k, kin)
		require.Equal(t, g, gen)

		// Without the key, or with another, a sealed key does not open.
		_, _, err = store.AppUpstreamKeys(ctx, bundle.db.Pool, nil, bundle.appID)
		require.ErrorIs(t, err, auth.ErrSealed)
		otherBox, err := auth.NewSecretBox(bytes.Repeat([]byte{8}, auth.SecretsKeySize))
		require.NoError(t, err)
		_, _, err = store.AppUpstreamKeys(ctx, bundle.db.Pool, otherBox, bundle.appID)
		require.ErrorIs(t, err, auth.ErrSealed)
		require.NotContains(t, err.Error(), k)

		// A sealed value copied to another app does not open there.
		moved, err := store.AppCreate(ctx, bundle.db.Pool, "moved")
		require.NoError(t, err)
		_, err = bundle.db.Pool.Exec(ctx, "UPDATE apps SET kinetix_api_key = $1 WHERE id = $2", sk, moved.AppID)
		require.NoError(t, err)
		_, _, err = store.AppUpstreamKeys(ctx, bundle.db.Pool, bundle.box, moved.AppID)
		require.ErrorIs(t, err, auth.ErrSealed)
	})
}
