package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
)

// GenerationState is what a generation's events stream shows of it: its
// status and progress.
type GenerationState struct {
	Status   JobStatus
	Progress int16
}

// GenerationStates reads the state of each generation in ids, in one query;
// an id with no row is absent from the map. It lets one poller per process
// watch every generation that has an open events stream.
func GenerationStates(ctx context.Context, db DBTX, ids []uuid.UUID) (map[uuid.UUID]GenerationState, error) {
	rows, err := db.Query(ctx, `SELECT id, status, progress FROM generations WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("error reading generation states: %w", err)
	}
	defer rows.Close()
	out := make(map[uuid.UUID]GenerationState, len(ids))
	for rows.Next() {
		var id uuid.UUID
		var s GenerationState
		if err := rows.Scan(&id, &s.Status, &s.Progress); err != nil {
			return nil, fmt.Errorf("error reading generation states: %w", err)
		}
		out[id] = s
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("error reading generation states: %w", err)
	}
	return out, nil
}
