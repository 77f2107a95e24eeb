package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gamepipe/gamepipe/internal/auth"
)

// ErrNoSecretsKey is returned when an upstream key would be stored in clear
// because no secrets key is configured (GAMEPIPE_SECRETS_KEY).
var ErrNoSecretsKey = errors.New("no secrets key is configured (GAMEPIPE_SECRETS_KEY or GAMEPIPE_SECRETS_KEY_FILE): refusing to store an upstream key in clear")

// upstreamKeyColumns are the apps columns holding sealed upstream keys.
var upstreamKeyColumns = [2]string{"kinetix_api_key", "generaitiv_api_key"}

// upstreamKeyAD binds a sealed key to its app and column, so a value copied
// elsewhere does not open.
func upstreamKeyAD(appID uuid.UUID, column string) string {
	return "apps/" + appID.String() + "/" + column
}

// AppSetUpstreamKeys sets (non-nil arguments) an app's upstream API keys,
// sealed with box; an empty string clears one. Without a box only clearing
// is allowed (ErrNoSecretsKey).
func AppSetUpstreamKeys(ctx context.Context, db DBTX, box *auth.SecretBox, appID uuid.UUID, kinetix, generaitiv *string) error {
	sealed := [2]string{}
	for i, k := range []*string{kinetix, generaitiv} {
		if k == nil || *k == "" {
			continue
		}
		if box == nil {
			return ErrNoSecretsKey
		}
		sealed[i] = box.Seal(*k, upstreamKeyAD(appID, upstreamKeyColumns[i]))
	}
	tag, err := db.Exec(ctx, `UPDATE apps SET
			kinetix_api_key    = CASE WHEN $2::boolean THEN NULLIF($3, '') ELSE kinetix_api_key END,
			generaitiv_api_key = CASE WHEN $4::boolean THEN NULLIF($5, '') ELSE generaitiv_api_key END
		WHERE id = $1`, appID, kinetix != nil, sealed[0], generaitiv != nil, sealed[1])
	if err != nil {
		return fmt.Errorf("error setting upstream keys of app %s: %w", appID, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// AppUpstreamKeys returns an app's own upstream keys in clear ("" where it
// has none): ErrNotFound for an unknown app, ErrAppDisabled for a disabled
// one, an error wrapping auth.ErrSealed for a key box cannot open. A key
// still stored in clear (written before keys were sealed) is returned and,
// when box is set, sealed in place.
func AppUpstreamKeys(ctx context.Context, db DBTX, box *auth.SecretBox, appID uuid.UUID) (kinetix, generaitiv string, err error) {
	var (
		stored   [2]string
		disabled bool
	)
	err = db.QueryRow(ctx, `SELECT coalesce(kinetix_api_key, ''), coalesce(generaitiv_api_key, ''), disabled_at IS NOT NULL
		FROM apps WHERE id = $1`, appID).Scan(&stored[0], &stored[1], &disabled)
	if err != nil {
		return "", "", mapErr(err)
	}
	if disabled {
		return "", "", fmt.Errorf("%w: %s", ErrAppDisabled, appID)
	}
	var plain [2]string
	for i, v := range stored {
		switch {
		case v == "":
		case auth.IsSealed(v):
			if plain[i], err = box.Open(v, upstreamKeyAD(appID, upstreamKeyColumns[i])); err != nil {
				return "", "", fmt.Errorf("error reading the %s of app %s: %w", upstreamKeyColumns[i], appID, err)
			}
		default:
			plain[i] = v
			if box != nil {
				if err := sealInPlace(ctx, db, box, appID, upstreamKeyColumns[i], v); err != nil {
					return "", "", err
				}
			}
		}
	}
	return plain[0], plain[1], nil
}

// sealInPlace replaces a key stored in clear by its sealed form, unless the
// column changed meanwhile.
func sealInPlace(ctx context.Context, db DBTX, box *auth.SecretBox, appID uuid.UUID, column, plain string) error {
	// column is one of upstreamKeyColumns, never input.
	_, err := db.Exec(ctx, "UPDATE apps SET "+column+" = $3 WHERE id = $1 AND "+column+" = $2",
		appID, plain, box.Seal(plain, upstreamKeyAD(appID, column)))
	if err != nil {
		return fmt.Errorf("error sealing the %s of app %s: %w", column, appID, err)
	}
	return nil
}

// AppSealUpstreamKeys seals every upstream key still stored in clear and
// returns how many it sealed; `gamepipe migrate` runs it when a secrets key
// is configured. It is safe to run twice or concurrently.
func AppSealUpstreamKeys(ctx context.Context, db DBTX, box *auth.SecretBox) (int, error) {
	type clearKey struct {
		appID  uuid.UUID
		column string
		plain  string
	}
	var todo []clearKey
	for _, column := range upstreamKeyColumns {
		rows, err := db.Query(ctx, "SELECT id, "+column+" FROM apps WHERE "+column+" IS NOT NULL AND "+column+" NOT LIKE 'gpenc1:%'")
		if err != nil {
			return 0, fmt.Errorf("error finding upstream keys in clear: %w", err)
		}
		keys, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (clearKey, error) {
			k := clearKey{column: column}
			return k, row.Scan(&k.appID, &k.plain)
		})
		if err != nil {
			return 0, fmt.Errorf("error finding upstream keys in clear: %w", err)
		}
		todo = append(todo, keys...)
	}
	for _, k := range todo {
		if err := sealInPlace(ctx, db, box, k.appID, k.column, k.plain); err != nil {
			return 0, err
		}
	}
	return len(todo), nil
}

// AppCountClearUpstreamKeys counts the upstream keys still stored in clear.
func AppCountClearUpstreamKeys(ctx context.Context, db DBTX) (int, error) {
	var n int
	err := db.QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE kinetix_api_key IS NOT NULL AND kinetix_api_key NOT LIKE 'gpenc1:%') +
			count(*) FILTER (WHERE generaitiv_api_key IS NOT NULL AND generaitiv_api_key NOT LIKE 'gpenc1:%')
		FROM apps`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("error counting upstream keys in clear: %w", err)
	}
	return n, nil
}
