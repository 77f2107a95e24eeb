package infra

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/dbtest"
)

// TestPostgresLazyCreatesDatabase: the pool is returned before the
// database exists, and the database is created in the background.
func TestPostgresLazyCreatesDatabase(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	u, err := url.Parse(dbtest.URL())
	require.NoError(t, err)
	name := fmt.Sprintf("gamepipe_lazy_%d", time.Now().UnixNano())
	u.Path = "/" + name
	t.Cleanup(func() {
		admin, err := pgx.Connect(context.Background(), dbtest.URL())
		require.NoError(t, err)
		defer admin.Close(context.Background())
		_, err = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		require.NoError(t, err)
	})

	pool, err := PostgresLazy(ctx, zerolog.Nop(), u.String(), "infra-test", 2)
	require.NoError(t, err)
	defer pool.Close()
	check := PostgresCheck(pool)
	require.Eventually(t, func() bool { return check(ctx) == nil }, 30*time.Second, 50*time.Millisecond)
	var db string
	require.NoError(t, pool.QueryRow(ctx, "SELECT current_database()").Scan(&db))
	require.Equal(t, name, db)
}

func TestPostgresLazyBadURL(t *testing.T) {
	t.Parallel()
	_, err := PostgresLazy(context.Background(), zerolog.Nop(), "postgres://%zz", "infra-test", 2)
	require.ErrorContains(t, err, "DATABASE_URL")
}
