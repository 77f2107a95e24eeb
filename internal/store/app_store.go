package store

import (
	"context"
	"errors"
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
	// DisabledAt is when the app was disabled; nil while it is enabled.
	DisabledAt *time.Time `db:"disabled_at"`
}

// ErrAppDisabled is returned for an app that an operator disabled (`gamepipe
// apps disable`): its keys do not authenticate and its jobs wait.
var ErrAppDisabled = errors.New("app is disabled")

// AppCredentials are an app's keys in clear, returned once on creation or
// rotation and never stored. A rotation fills only the key it issued.
type AppCredentials struct {
	AppID       uuid.UUID `json:"app_id"`
	PublicToken string    `json:"public_token,omitempty"`
	SecretKey   string    `json:"secret_key,omitempty"`
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

// AppRotateParams say which key of an app to rotate.
type AppRotateParams struct {
	AppID uuid.UUID
	// Kind is the key to replace: the public token or the secret key. The
	// other keeps working, so a leaked secret key is replaced without
	// breaking the game clients that ship the public token.
	Kind auth.KeyKind
	// Grace is how long the old key keeps working; zero: not at all.
	Grace time.Duration
}

// AppRotateKey issues a new key of p.Kind for an app; the old keys of that
// kind stop working after the grace. ErrNotFound for an unknown app.
func AppRotateKey(ctx context.Context, db interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}, p *AppRotateParams) (*AppCredentials, error) {
	if p.Kind != auth.KindPublic && p.Kind != auth.KindSecret {
		return nil, fmt.Errorf("error rotating keys of app %s: unknown key kind %q", p.AppID, p.Kind)
	}
	return appRotate(ctx, db, p.AppID, p.Grace, p.Kind)
}

// AppRotateKeys issues a new public token and a new secret key for an app
// at once; the old ones stop working after grace (zero: at once).
// ErrNotFound for an unknown app.
func AppRotateKeys(ctx context.Context, db interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}, appID uuid.UUID, grace time.Duration) (*AppCredentials, error) {
	return appRotate(ctx, db, appID, grace, auth.KindPublic, auth.KindSecret)
}

// appRotate replaces the keys of the given kinds in one transaction.
func appRotate(ctx context.Context, db interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}, appID uuid.UUID, grace time.Duration, kinds ...auth.KeyKind) (*AppCredentials, error) {
	creds := &AppCredentials{AppID: appID}
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, "SELECT true FROM apps WHERE id = $1 FOR UPDATE", appID).Scan(&exists); err != nil {
			return fmt.Errorf("error finding app %s: %w", appID, mapErr(err))
		}
		for _, kind := range kinds {
			_, err := tx.Exec(ctx, `UPDATE app_keys SET expires_at = now() + make_interval(secs => $3)
				WHERE app_id = $1 AND kind = $2 AND (expires_at IS NULL OR expires_at > now() + make_interval(secs => $3))`,
				appID, string(kind), grace.Seconds())
			if err != nil {
				return fmt.Errorf("error expiring %s keys of app %s: %w", kind, appID, err)
			}
			key, err := insertKey(ctx, tx, appID, kind)
			if err != nil {
				return err
			}
			if kind == auth.KindPublic {
				creds.PublicToken = key
			} else {
				creds.SecretKey = key
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return creds, nil
}

// AppSetDisabled disables an app (its keys stop authenticating, its jobs
// wait) or enables it again. ErrNotFound for an unknown app.
func AppSetDisabled(ctx context.Context, db DBTX, appID uuid.UUID, disabled bool) error {
	tag, err := db.Exec(ctx, `UPDATE apps SET disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, now()) END
		WHERE id = $1`, appID, disabled)
	if err != nil {
		return fmt.Errorf("error setting app %s disabled=%t: %w", appID, disabled, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

func insertKeys(ctx context.Context, tx pgx.Tx, appID uuid.UUID) (public, secret string, err error) {
	if public, err = insertKey(ctx, tx, appID, auth.KindPublic); err != nil {
		return "", "", err
	}
	if secret, err = insertKey(ctx, tx, appID, auth.KindSecret); err != nil {
		return "", "", err
	}
	return public, secret, nil
}

func insertKey(ctx context.Context, tx pgx.Tx, appID uuid.UUID, kind auth.KeyKind) (string, error) {
	key := auth.NewKey(kind)
	h := auth.HashKey(key)
	if _, err := tx.Exec(ctx, "INSERT INTO app_keys (hash, app_id, kind, prefix) VALUES ($1, $2, $3, $4)",
		h[:], appID, string(kind), auth.DisplayPrefix(key)); err != nil {
		return "", fmt.Errorf("error inserting %s key for app %s: %w", kind, appID, err)
	}
	return key, nil
}

// AppList lists every app, oldest first.
func AppList(ctx context.Context, db DBTX) ([]App, error) {
	rows, err := db.Query(ctx, `SELECT a.id, a.name, a.created_at,
			(SELECT count(*) FROM app_keys k WHERE k.app_id = a.id AND (k.expires_at IS NULL OR k.expires_at > now()))::int AS active_keys,
			a.disabled_at
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

// KeyLookup finds the app and kind of a key by its hash. Expired keys,
// unknown hashes and the keys of a disabled app are ErrNotFound (the last
// wrapping ErrAppDisabled too).
func KeyLookup(ctx context.Context, db DBTX, h auth.Hash) (*KeyInfo, error) {
	var (
		info     KeyInfo
		kind     string
		stored   []byte
		disabled bool
	)
	err := db.QueryRow(ctx, `SELECT k.hash, k.app_id, k.kind, a.disabled_at IS NOT NULL
		FROM app_keys k JOIN apps a ON a.id = k.app_id
		WHERE k.hash = $1 AND (k.expires_at IS NULL OR k.expires_at > now())`, h[:]).Scan(&stored, &info.AppID, &kind, &disabled)
	if err != nil {
		return nil, mapErr(err)
	}
	// The index lookup already matched; compare again in constant time so
	// the decision itself never depends on a short-circuiting comparison.
	if !h.Equal(stored) {
		return nil, ErrNotFound
	}
	if disabled {
		return nil, fmt.Errorf("%w: %w: %s", ErrNotFound, ErrAppDisabled, info.AppID)
	}
	info.Kind = auth.KeyKind(kind)
	return &info, nil
}
