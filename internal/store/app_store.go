package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gamepipe/gamepipe/internal/auth"
)

// App is an application registered with gamepipe.
type App struct {
	ID        uuid.UUID `db:"id"`
	Name      string    `db:"name"`
	CreatedAt time.Time `db:"created_at"`
	// ActiveKeys counts keys not expired.
	ActiveKeys int `db:"active_keys"`
}

// AppCredentials are an app's keys in clear, returned once on creation or
// rotation and never stored.
type AppCredentials struct {
	AppID       uuid.UUID `json:"app_id"`
	PublicToken string    `json:"public_token"`
	SecretKey   string    `json:"secret_key"`
}

// KeyInfo is what a presented key authenticates.
type KeyInfo struct {
	AppID uuid.UUID
	Kind  auth.KeyKind
}

// AppCreate inserts an app with a fresh public token and secret key.
func AppCreate(ctx context.Context, db interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}, name string) (*AppCredentials, error) {
	creds := &AppCredentials{AppID: uuid.New()}
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO apps (id, name) VALUES ($1, $2)", creds.AppID, name); err != nil {
			return fmt.Errorf("error inserting app: %w", mapErr(err))
		}
		var err error
		creds.PublicToken, creds.SecretKey, err = insertKeys(ctx, tx, creds.AppID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return creds, nil
}

// AppRotateKeys issues a new public token and secret key for an app; the old
// ones stop working after grace (zero: at once).
func AppRotateKeys(ctx context.Context, db interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}, appID uuid.UUID, grace time.Duration) (*AppCredentials, error) {
	creds := &AppCredentials{AppID: appID}
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, "SELECT true FROM apps WHERE id = $1 FOR UPDATE", appID).Scan(&exists); err != nil {
			return fmt.Errorf("error finding app %s: %w", appID, mapErr(err))
		}
		_, err := tx.Exec(ctx, `UPDATE app_keys SET expires_at = now() + make_interval(secs => $2)
			WHERE app_id = $1 AND (expires_at IS NULL OR expires_at > now() + make_interval(secs => $2))`,
			appID, grace.Seconds())
		if err != nil {
			return fmt.Errorf("error expiring keys of app %s: %w", appID, err)
		}
		creds.PublicToken, creds.SecretKey, err = insertKeys(ctx, tx, appID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return creds, nil
}

func insertKeys(ctx context.Context, tx pgx.Tx, appID uuid.UUID) (public, secret string, err error) {
	public, secret = auth.NewKey(auth.KindPublic), auth.NewKey(auth.KindSecret)
	for _, k := range []struct {
		key  string
		kind auth.KeyKind
	}{{public, auth.KindPublic}, {secret, auth.KindSecret}} {
		h := auth.HashKey(k.key)
		if _, err := tx.Exec(ctx, "INSERT INTO app_keys (hash, app_id, kind, prefix) VALUES ($1, $2, $3, $4)",
			h[:], appID, string(k.kind), auth.DisplayPrefix(k.key)); err != nil {
			return "", "", fmt.Errorf("error inserting %s key for app %s: %w", k.kind, appID, err)
		}
	}
	return public, secret, nil
}

// AppList lists every app, oldest first.
func AppList(ctx context.Context, db DBTX) ([]App, error) {
	rows, err := db.Query(ctx, `SELECT a.id, a.name, a.created_at,
			(SELECT count(*) FROM app_keys k WHERE k.app_id = a.id AND (k.expires_at IS NULL OR k.expires_at > now()))::int AS active_keys
		FROM apps a ORDER BY a.created_at, a.id`)
	if err != nil {
		return nil, fmt.Errorf("error listing apps: %w", err)
	}
	apps, err := pgx.CollectRows(rows, pgx.RowToStructByName[App])
	if err != nil {
		return nil, fmt.Errorf("error listing apps: %w", err)
	}
	return apps, nil
}

// KeyLookup finds the app and kind of a key by its hash. Expired keys and
// unknown hashes are ErrNotFound.
func KeyLookup(ctx context.Context, db DBTX, h auth.Hash) (*KeyInfo, error) {
	var (
		info   KeyInfo
		kind   string
		stored []byte
	)
	err := db.QueryRow(ctx, `SELECT hash, app_id, kind FROM app_keys
		WHERE hash = $1 AND (expires_at IS NULL OR expires_at > now())`, h[:]).Scan(&stored, &info.AppID, &kind)
	if err != nil {
		return nil, mapErr(err)
	}
	// The index lookup already matched; compare again in constant time so
	// the decision itself never depends on a short-circuiting comparison.
	if !h.Equal(stored) {
		return nil, ErrNotFound
	}
	info.Kind = auth.KeyKind(kind)
	return &info, nil
}
