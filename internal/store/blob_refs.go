package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// BlobsReferenced reports which of keys a row still names: a level model's
// file, an emote's video or a generation's image. It is the blob sweep's
// test of what it may delete, so any new column holding a blob key belongs
// here.
func BlobsReferenced(ctx context.Context, db DBTX, keys []string) (map[string]bool, error) {
	rows, err := db.Query(ctx, `SELECT k FROM unnest($1::text[]) AS k
		WHERE EXISTS (SELECT 1 FROM level_models WHERE blob_key = k)
		   OR EXISTS (SELECT 1 FROM emotes WHERE video_key = k)
		   OR EXISTS (SELECT 1 FROM generations WHERE image_key = k AND image_key <> '')`, keys)
	if err != nil {
		return nil, fmt.Errorf("error checking blob references: %w", err)
	}
	used, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("error checking blob references: %w", err)
	}
	out := make(map[string]bool, len(used))
	for _, k := range used {
		out[k] = true
	}
	return out, nil
}
