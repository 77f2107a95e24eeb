package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/auth"
	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/store"
)

func TestApps(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("CreateStoresOnlyHashes", func(t *testing.T) {
		t.Parallel()
		db := dbtest.NewSchema(t)
		creds, err := store.AppCreate(ctx, db.Pool, "game")
		require.NoError(t, err)
		require.True(t, auth.Plausible(creds.PublicToken))
		require.True(t, auth.Plausible(creds.SecretKey))

		rows, err := db.Pool.Query(ctx, "SELECT hash, prefix FROM app_keys WHERE app_id = $1", creds.AppID)
		require.NoError(t, err)
		n := 0
		for rows.Next() {
			var hash []byte
			var prefix string
			require.NoError(t, rows.Scan(&hash, &prefix))
			require.Len(t, hash, 32)
			require.NotContains(t, creds.PublicToken+creds.SecretKey, string(hash))
			require.Less(t, len(prefix), 12)
			n++
		}
		require.NoError(t, rows.Err())
		require.Equal(t, 2, n)

		info, err := store.KeyLookup(ctx, db.Pool, auth.HashKey(creds.PublicToken))
		require.NoError(t, err)
		require.Equal(t, creds.AppID, info.AppID)
		require.Equal(t, auth.KindPublic, info.Kind)
		info, err = store.KeyLookup(ctx, db.Pool, auth.HashKey(creds.SecretKey))
		require.NoError(t, err)
		require.Equal(t, auth.KindSecret, info.Kind)
		_, err = store.KeyLookup(ctx, db.Pool, auth.HashKey("gp_pub_nope"))
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("DisableStopsKeysUntilEnabled", func(t *testing.T) {
		t.Parallel()
		db := dbtest.NewSchema(t)
		creds, err := store.AppCreate(ctx, db.Pool, "game")
		require.NoError(t, err)
		other, err := store.AppCreate(ctx, db.Pool, "other")
		require.NoError(t, err)

		require.NoError(t, store.AppSetDisabled(ctx, db.Pool, creds.AppID, true))
		for _, key := range []string{creds.PublicToken, creds.SecretKey} {
			_, err = store.KeyLookup(ctx, db.Pool, auth.HashKey(key))
			require.ErrorIs(t, err, store.ErrNotFound)
			require.ErrorIs(t, err, store.ErrAppDisabled)
		}
		_, err = store.KeyLookup(ctx, db.Pool, auth.HashKey(other.SecretKey))
		require.NoError(t, err, "another app is not affected")
		_, _, err = store.AppUpstreamKeys(ctx, db.Pool, nil, creds.AppID)
		require.ErrorIs(t, err, store.ErrAppDisabled)
		apps, err := store.AppList(ctx, db.Pool)
		require.NoError(t, err)
		require.NotNil(t, apps[0].DisabledAt)
		require.Nil(t, apps[1].DisabledAt)

		require.NoError(t, store.AppSetDisabled(ctx, db.Pool, creds.AppID, false))
		for _, key := range []string{creds.PublicToken, creds.SecretKey} {
			_, err = store.KeyLookup(ctx, db.Pool, auth.HashKey(key))
			require.NoError(t, err)
		}
		require.ErrorIs(t, store.AppSetDisabled(ctx, db.Pool, uuid.New(), true), store.ErrNotFound)
	})

	t.Run("RotateExpiresOldKeys", func(t *testing.T) {
		t.Parallel()
		db := dbtest.NewSchema(t)
		old, err := store.AppCreate(ctx, db.Pool, "game")
		require.NoError(t, err)
		fresh, err := store.AppRotateKey(ctx, db.Pool, &store.AppRotateParams{AppID: old.AppID, Kind: auth.KindPublic})
		require.NoError(t, err)
		require.NotEqual(t, old.PublicToken, fresh.PublicToken)
		_, err = store.KeyLookup(ctx, db.Pool, auth.HashKey(old.PublicToken))
		require.ErrorIs(t, err, store.ErrNotFound)
		info, err := store.KeyLookup(ctx, db.Pool, auth.HashKey(fresh.PublicToken))
		require.NoError(t, err)
		require.Equal(t, old.AppID, info.AppID)

		// With a grace, the old keys keep working for a while.
		graced, err := store.AppRotateKey(ctx, db.Pool, &store.AppRotateParams{AppID: old.AppID, Kind: auth.KindPublic, Grace: time.Hour})
		require.NoError(t, err)
		_, err = store.KeyLookup(ctx, db.Pool, auth.HashKey(fresh.PublicToken))
		require.NoError(t, err)
		_, err = store.KeyLookup(ctx, db.Pool, auth.HashKey(graced.PublicToken))
		require.NoError(t, err)

		_, err = store.AppRotateKey(ctx, db.Pool, &store.AppRotateParams{AppID: uuid.New(), Kind: auth.KindSecret})
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = store.AppRotateKey(ctx, db.Pool, &store.AppRotateParams{AppID: old.AppID, Kind: "both"})
		require.Error(t, err)
	})

	t.Run("RotateBothAtOnce", func(t *testing.T) {
		t.Parallel()
		db := dbtest.NewSchema(t)
		old, err := store.AppCreate(ctx, db.Pool, "game")
		require.NoError(t, err)
		fresh, err := store.AppRotateKeys(ctx, db.Pool, old.AppID, 0)
		require.NoError(t, err)
		for _, key := range []string{old.PublicToken, old.SecretKey} {
			_, err = store.KeyLookup(ctx, db.Pool, auth.HashKey(key))
			require.ErrorIs(t, err, store.ErrNotFound)
		}
		for _, key := range []string{fresh.PublicToken, fresh.SecretKey} {
			_, err = store.KeyLookup(ctx, db.Pool, auth.HashKey(key))
			require.NoError(t, err)
		}
		_, err = store.AppRotateKeys(ctx, db.Pool, uuid.New(), 0)
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("RotatePublicLeavesSecretWorking", func(t *testing.T) {
		t.Parallel()
		db := dbtest.NewSchema(t)
		old, err := store.AppCreate(ctx, db.Pool, "game")
		require.NoError(t, err)
		fresh, err := store.AppRotateKey(ctx, db.Pool, &store.AppRotateParams{AppID: old.AppID, Kind: auth.KindPublic})
		require.NoError(t, err)
		require.NotEmpty(t, fresh.PublicToken)
		require.Empty(t, fresh.SecretKey, "a public rotation issues no secret key")
		_, err = store.KeyLookup(ctx, db.Pool, auth.HashKey(old.PublicToken))
		require.ErrorIs(t, err, store.ErrNotFound)
		info, err := store.KeyLookup(ctx, db.Pool, auth.HashKey(old.SecretKey))
		require.NoError(t, err)
		require.Equal(t, auth.KindSecret, info.Kind)
	})

	t.Run("RotateSecretLeavesPublicWorking", func(t *testing.T) {
		t.Parallel()
		db := dbtest.NewSchema(t)
		old, err := store.AppCreate(ctx, db.Pool, "game")
		require.NoError(t, err)
		fresh, err := store.AppRotateKey(ctx, db.Pool, &store.AppRotateParams{AppID: old.AppID, Kind: auth.KindSecret})
		require.NoError(t, err)
		require.NotEmpty(t, fresh.SecretKey)
		require.Empty(t, fresh.PublicToken, "a secret rotation issues no public token")
		_, err = store.KeyLookup(ctx, db.Pool, auth.HashKey(old.SecretKey))
		require.ErrorIs(t, err, store.ErrNotFound)
		info, err := store.KeyLookup(ctx, db.Pool, auth.HashKey(old.PublicToken))
		require.NoError(t, err, "the public token shipped in game clients keeps working")
		require.Equal(t, auth.KindPublic, info.Kind)
		info, err = store.KeyLookup(ctx, db.Pool, auth.HashKey(fresh.SecretKey))
		require.NoError(t, err)
		require.Equal(t, auth.KindSecret, info.Kind)
	})

	t.Run("List", func(t *testing.T) {
		t.Parallel()
		db := dbtest.NewSchema(t)
		for _, n := range []string{"one", "two"} {
			_, err := store.AppCreate(ctx, db.Pool, n)
			require.NoError(t, err)
		}
		apps, err := store.AppList(ctx, db.Pool)
		require.NoError(t, err)
		require.Len(t, apps, 2)
		require.Equal(t, "one", apps[0].Name)
		require.Equal(t, 2, apps[0].ActiveKeys)
	})

	t.Run("MigrateIsIdempotentAndConcurrent", func(t *testing.T) {
		t.Parallel()
		db := dbtest.NewSchema(t)
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Go(func() {
				res, err := store.Migrate(ctx, db.Pool)
				if err == nil && (len(res.Applied) > 0 || len(res.RiverVersions) > 0) {
					t.Errorf("a second migrate applied %v %v", res.Applied, res.RiverVersions)
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
	})
}
