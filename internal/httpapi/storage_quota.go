package httpapi

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/uuid"

	"github.com/gamepipe/gamepipe/internal/store"
)

// checkStorageQuota refuses a request that would store more for the app
// than JobDeps.StorageQuotaBytes allows: 413 quota_exceeded when what the
// app keeps (its rows' models, videos and images) plus incoming, the
// request's declared length (0 or -1 when unknown), is over the quota. It
// runs before anything is stored; an upload of unknown length is refused
// only when the app is at its quota already, so an app may pass its quota
// by at most one upload (docs/app-share.md).
func (s *Server) checkStorageQuota(ctx context.Context, appID uuid.UUID, incoming int64) error {
	quota := s.jobs.StorageQuotaBytes
	if quota <= 0 || s.jobs.Pool == nil {
		return nil
	}
	used, err := store.AppStorageBytes(ctx, s.jobs.Pool, appID)
	if err != nil {
		return err
	}
	if used+max(incoming, 0) <= quota && used < quota {
		return nil
	}
	return newError(http.StatusRequestEntityTooLarge, "quota_exceeded", fmt.Sprintf(
		"this app keeps %d bytes of models, videos and images and may keep %d; delete some or ask for a larger quota",
		used, quota))
}
