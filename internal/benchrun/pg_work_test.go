package benchrun

import (
	"context"
	"io"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/dbtest"
)

func TestPGCounter(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	db := dbtest.NewSchema(t)
	_, err := db.Pool.Exec(ctx, "CREATE TABLE counted (n int)")
	require.NoError(t, err)
	c := &pgCounter{b: &Bench{stack: &stack{pool: db.Pool}, out: io.Discard}}
	before, err := c.read(ctx)
	require.NoError(t, err)
	require.True(t, math.IsNaN(before.statements), "no statement count without pg_stat_statements")

	const n = 20
	for i := range n {
		_, err := db.Pool.Exec(ctx, "INSERT INTO counted VALUES ($1)", i)
		require.NoError(t, err)
	}
	// Other tests share the database, so the counters grow by at least
	// what this one did, once the backends have reported it.
	require.Eventually(t, func() bool {
		now, err := c.read(ctx)
		require.NoError(t, err)
		return now.xacts-before.xacts >= n && now.written-before.written >= n
	}, 3*pgStatsFlush, 100*time.Millisecond)
}
