package store

import (
	"time"

	"github.com/google/uuid"
)

// JobCursor is the position after the last job of a list page: lists of
// emotes and of generations go newest first by (created_at, id).
type JobCursor struct {
	CreatedAt time.Time
	ID        uuid.UUID
}

// pageLimit is a list's page size: 1 to 100, 20 when unset.
func pageLimit(limit int) int {
	if limit <= 0 {
		return 20
	}
	return min(limit, 100)
}
