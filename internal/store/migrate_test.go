package store_test

import (
	"context"
	"io/fs"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/migrations"
)

func TestMigrateChecksums(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.NewSchema(t)

	// The embedded migrations plus one of the test's own.
	files := fstest.MapFS{}
	names, err := fs.Glob(migrations.FS, "*.sql")
	require.NoError(t, err)
	for _, name := range names {
		data, err := fs.ReadFile(migrations.FS, name)
		require.NoError(t, err)
		files[name] = &fstest.MapFile{Data: data}
	}
	files["9999_probe.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE checksum_probe (x int);")}
	res, err := store.MigrateFS(ctx, db.Pool, files)
	require.NoError(t, err)
	require.Equal(t, []string{"9999_probe"}, res.Applied)

	var recorded int
	require.NoError(t, db.Pool.QueryRow(ctx,
		"SELECT count(*) FROM gamepipe_migrations WHERE checksum ~ '^[0-9a-f]{64}$'").Scan(&recorded))
	require.Equal(t, len(names)+1, recorded, "every applied migration has its checksum")

	t.Run("ChangedAfterApplyingStops", func(t *testing.T) {
		changed := fstest.MapFS{}
		for name, f := range files {
			changed[name] = f
		}
		changed["9999_probe.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE checksum_probe (x bigint);")}
		_, err := store.MigrateFS(ctx, db.Pool, changed)
		require.ErrorContains(t, err, "migration 9999_probe.sql was changed after it was applied")
	})

	t.Run("RowsWithoutChecksumAreRecorded", func(t *testing.T) {
		_, err := db.Pool.Exec(ctx, "UPDATE gamepipe_migrations SET checksum = NULL WHERE name = '0001_apps.sql'")
		require.NoError(t, err)
		res, err := store.MigrateFS(ctx, db.Pool, files)
		require.NoError(t, err)
		require.Empty(t, res.Applied)
		var sum string
		require.NoError(t, db.Pool.QueryRow(ctx,
			"SELECT checksum FROM gamepipe_migrations WHERE name = '0001_apps.sql'").Scan(&sum))
		require.Len(t, sum, 64)
	})
}
