package dbtest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNewSchema(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	a, b := NewSchema(t), NewSchema(t)
	require.NotEqual(t, a.Name, b.Name)

	_, err := a.Pool.Exec(ctx, "INSERT INTO apps (id, name) VALUES (gen_random_uuid(), 'a')")
	require.NoError(t, err)

	var n int
	require.NoError(t, b.Pool.QueryRow(ctx, "SELECT count(*) FROM apps").Scan(&n))
	require.Zero(t, n, "schemas must not see each other's rows")
	require.NoError(t, a.Pool.QueryRow(ctx, "SELECT count(*) FROM river_job").Scan(&n))
}
