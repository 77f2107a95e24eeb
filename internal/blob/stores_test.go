package blob_test

import (
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gamepipe/gamepipe/internal/blob"
	"github.com/gamepipe/gamepipe/internal/blob/blobtest"
	"github.com/gamepipe/gamepipe/internal/dbtest"
)

// TestStores runs the conformance and sweep suites against every kind of
// store: a directory, Postgres, and a real S3-compatible server.
func TestStores(t *testing.T) {
	t.Parallel()
	for _, kind := range blobtest.Kinds(t) {
		t.Run(kind.Name, func(t *testing.T) {
			t.Parallel()
			t.Run("Conformance", func(t *testing.T) {
				t.Parallel()
				blobtest.RunConformance(t, func(t *testing.T) blob.Store { return newFixture(t, kind).Store })
			})
			t.Run("Sweep", func(t *testing.T) {
				t.Parallel()
				blobtest.RunSweepConformance(t, func(t *testing.T) *blobtest.Fixture { return newFixture(t, kind) })
			})
		})
	}
}

// newFixture makes an empty store of kind, on a schema of its own when
// the kind needs Postgres.
func newFixture(t *testing.T, kind blobtest.Kind) *blobtest.Fixture {
	var pool *pgxpool.Pool
	if kind.UsesPostgres {
		pool = dbtest.NewSchema(t).Pool
	}
	return kind.New(t, pool)
}
