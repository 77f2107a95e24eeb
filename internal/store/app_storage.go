package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
)

// AppStorageBytes is what an app keeps stored, as its rows record it: the
// sizes of its level models, emote videos and generated images.
func AppStorageBytes(ctx context.Context, db DBTX, appID uuid.UUID) (int64, error) {
	var n int64
	err := db.QueryRow(ctx, `SELECT
			(SELECT coalesce(sum(size_bytes), 0) FROM level_models WHERE app_id = $1) +
			(SELECT coalesce(sum(video_size), 0) FROM emotes WHERE app_id = $1) +
			(SELECT coalesce(sum(image_size), 0) FROM generations WHERE app_id = $1)`, appID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("error summing the stored bytes of app %s: %w", appID, err)
	}
	return n, nil
}
