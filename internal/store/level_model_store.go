package store

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// LevelModel is one uploaded version of a level's 3D model. The file is in
// blob storage under BlobKey; the row records whose it is and what it is.
type LevelModel struct {
	ID        uuid.UUID `db:"id"`
	AppID     uuid.UUID `db:"app_id"`
	LevelName string    `db:"level_name"`
	// Version is 1 for a level's first upload, then 2, 3, … per app and level.
	Version int `db:"version"`
	// BlobKey is the lower-case hex SHA-256 of the file, its blob address.
	BlobKey   string `db:"blob_key"`
	SizeBytes int64  `db:"size_bytes"`
	// Format is gltf, glb, obj or fbx, as sniffed from the content.
	Format string `db:"format"`
	// OriginalFilename is the client's filename, sanitised; possibly empty.
	OriginalFilename string `db:"original_filename"`
	// ContentType is the media type served on download.
	ContentType string    `db:"content_type"`
	CreatedAt   time.Time `db:"created_at"`
	// UpAxis, Scale and Offset are the model's alignment (see Alignment).
	UpAxis string    `db:"up_axis"`
	Scale  float64   `db:"scale"`
	Offset []float64 `db:"offset_xyz"`
}

// LevelModelInsertParams describe a stored blob to record as the next
// version of a level's model.
type LevelModelInsertParams struct {
	AppID            uuid.UUID
	LevelName        string
	BlobKey          string
	SizeBytes        int64
	Format           string
	OriginalFilename string
	ContentType      string
}

// LevelModelListParams select an app's models.
type LevelModelListParams struct {
	AppID uuid.UUID
	// LevelName, when set, keeps only that level's versions.
	LevelName string
	// Limit caps the rows returned. Defaults to 100.
	Limit int
}

// LevelModelGetParams identify one model; the app scopes the lookup, so an
// id of another app's model is ErrNotFound.
type LevelModelGetParams struct {
	AppID uuid.UUID
	ID    uuid.UUID
}

const levelModelColumns = `id, app_id, level_name, version, blob_key, size_bytes, format,
	original_filename, content_type, created_at, up_axis, scale, offset_xyz`

// LevelModelInsert records a model as the next version of its level and
// returns the row. Concurrent inserts for one (app, level) are serialised by
// a transaction-scoped advisory lock, so they get distinct, consecutive
// versions instead of failing on the unique constraint; other levels are not
// blocked (unless their hashes collide, which only costs a short wait).
func LevelModelInsert(ctx context.Context, db interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}, params *LevelModelInsertParams) (*LevelModel, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("error generating level model id: %w", err)
	}
	var m *LevelModel
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('level_models'), hashtext($1::text || '/' || $2))",
			params.AppID.String(), params.LevelName); err != nil {
			return fmt.Errorf("error locking level %q of app %s: %w", params.LevelName, params.AppID, err)
		}
		// Read committed: this statement's snapshot is taken after the lock
		// is held, so it sees the version the previous holder committed.
		rows, err := tx.Query(ctx, `INSERT INTO level_models (id, app_id, level_name, version, blob_key, size_bytes,
				format, original_filename, content_type)
			SELECT $1, $2, $3, coalesce(max(version), 0) + 1, $4, $5, $6, $7, $8
			FROM level_models WHERE app_id = $2 AND level_name = $3
			RETURNING `+levelModelColumns,
			id, params.AppID, params.LevelName, params.BlobKey, params.SizeBytes,
			params.Format, params.OriginalFilename, params.ContentType)
		if err != nil {
			return fmt.Errorf("error inserting model of level %q for app %s: %w", params.LevelName, params.AppID, err)
		}
		m, err = pgx.CollectExactlyOneRow(rows, pgx.RowToAddrOfStructByName[LevelModel])
		if err != nil {
			return fmt.Errorf("error inserting model of level %q for app %s: %w", params.LevelName, params.AppID, mapErr(err))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// LevelModelList lists an app's models, newest first.
func LevelModelList(ctx context.Context, db DBTX, params *LevelModelListParams) ([]LevelModel, error) {
	rows, err := db.Query(ctx, `SELECT `+levelModelColumns+` FROM level_models
		WHERE app_id = $1 AND ($2 = '' OR level_name = $2)
		ORDER BY created_at DESC, version DESC, id DESC
		LIMIT $3`, params.AppID, params.LevelName, cmp.Or(params.Limit, 100))
	if err != nil {
		return nil, fmt.Errorf("error listing models of app %s: %w", params.AppID, err)
	}
	models, err := pgx.CollectRows(rows, pgx.RowToStructByName[LevelModel])
	if err != nil {
		return nil, fmt.Errorf("error listing models of app %s: %w", params.AppID, err)
	}
	return models, nil
}

// LevelModelGet returns one of an app's models, or ErrNotFound.
func LevelModelGet(ctx context.Context, db DBTX, params *LevelModelGetParams) (*LevelModel, error) {
	rows, err := db.Query(ctx, `SELECT `+levelModelColumns+` FROM level_models WHERE id = $1 AND app_id = $2`,
		params.ID, params.AppID)
	if err != nil {
		return nil, fmt.Errorf("error getting model %s: %w", params.ID, err)
	}
	m, err := pgx.CollectExactlyOneRow(rows, pgx.RowToAddrOfStructByName[LevelModel])
	if err != nil {
		return nil, fmt.Errorf("error getting model %s: %w", params.ID, mapErr(err))
	}
	return m, nil
}

// AppName returns an app's name, or ErrNotFound.
func AppName(ctx context.Context, db DBTX, appID uuid.UUID) (string, error) {
	var name string
	if err := db.QueryRow(ctx, "SELECT name FROM apps WHERE id = $1", appID).Scan(&name); err != nil {
		return "", fmt.Errorf("error getting name of app %s: %w", appID, mapErr(err))
	}
	return name, nil
}
