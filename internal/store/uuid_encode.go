package store

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// RegisterTypes teaches a connection's type map the encodings gamepipe's
// values need: uuid.UUID arguments as the 16 bytes they are. Every pool
// runs it on each new connection (ConfigurePool).
//
// Without it pgx takes a uuid.UUID for a driver.Valuer: it formats it as
// text, fails to encode that text as a binary uuid (formatting an error it
// then drops), parses the text back and encodes the result, for every uuid
// argument of every statement.
func RegisterTypes(m *pgtype.Map) {
	m.TryWrapEncodePlanFuncs = append([]pgtype.TryWrapEncodePlanFunc{tryWrapUUIDEncodePlan}, m.TryWrapEncodePlanFuncs...)
}

func tryWrapUUIDEncodePlan(value any) (pgtype.WrappedEncodePlanNextSetter, any, bool) {
	if u, ok := value.(uuid.UUID); ok {
		return &uuidEncodePlan{}, pgtype.UUID{Bytes: u, Valid: true}, true
	}
	return nil, nil, false
}

// uuidEncodePlan encodes a uuid.UUID as a pgtype.UUID.
type uuidEncodePlan struct{ next pgtype.EncodePlan }

func (p *uuidEncodePlan) SetNext(next pgtype.EncodePlan) { p.next = next }

func (p *uuidEncodePlan) Encode(value any, buf []byte) ([]byte, error) {
	return p.next.Encode(pgtype.UUID{Bytes: value.(uuid.UUID), Valid: true}, buf)
}

// ConfigurePool has every new connection of cfg run RegisterTypes before
// cfg's own AfterConnect, if any.
func ConfigurePool(cfg *pgxpool.Config) {
	after := cfg.AfterConnect
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		RegisterTypes(conn.TypeMap())
		if after != nil {
			return after(ctx, conn)
		}
		return nil
	}
}
