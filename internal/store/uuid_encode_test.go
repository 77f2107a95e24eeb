package store_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/store"
)

// TestRegisterTypesEncodesWithoutText is not parallel: AllocsPerRun
// refuses to run beside other tests.
func TestRegisterTypesEncodesWithoutText(t *testing.T) {
	u := uuid.New()
	plain, registered := pgtype.NewMap(), pgtype.NewMap()
	store.RegisterTypes(registered)
	buf := make([]byte, 0, 64)
	allocs := func(m *pgtype.Map) float64 {
		return testing.AllocsPerRun(100, func() {
			_, _ = m.Encode(pgtype.UUIDOID, pgtype.BinaryFormatCode, u, buf[:0])
		})
	}
	with := allocs(registered)
	t.Logf("allocations per uuid argument: %v without, %v with", allocs(plain), with)
	// pgx's detour through text and an error takes about 20; the direct
	// encoding boxes the 16 bytes and nothing more.
	require.LessOrEqual(t, with, 2.0)
}

func TestRegisterTypes(t *testing.T) {
	t.Parallel()
	u := uuid.MustParse("0193a1f2-7c3e-7a10-9b2c-4d5e6f708192")

	// Directly: the 16 bytes, no text and no error on the way (which is
	// what allocated).
	m := pgtype.NewMap()
	store.RegisterTypes(m)
	buf := make([]byte, 0, 64)
	got, err := m.Encode(pgtype.UUIDOID, pgtype.BinaryFormatCode, u, buf)
	require.NoError(t, err)
	require.Equal(t, u[:], got)

	// Through Postgres (dbtest's pool registers them): a value, a nil
	// pointer, a pointer, an array, and a uuid given for text.
	db := dbtest.NewSchema(t)
	ctx := context.Background()
	var (
		same, isNull, viaPtr bool
		arr                  []uuid.UUID
		text                 string
	)
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT $1::uuid = $2::text::uuid, $3::uuid IS NULL, $4::uuid = $1, $5::uuid[], $6::text`,
		u, u.String(), (*uuid.UUID)(nil), &u, []uuid.UUID{u, uuid.Nil}, u).Scan(&same, &isNull, &viaPtr, &arr, &text))
	require.True(t, same)
	require.True(t, isNull)
	require.True(t, viaPtr)
	require.Equal(t, []uuid.UUID{u, uuid.Nil}, arr)
	require.Equal(t, u.String(), text)
}
