package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
)

// Rejection is how many of an app's telemetry events the api refused on one
// UTC day for one reason (docs/dashboard.md, "Rejected events").
type Rejection struct {
	AppID  uuid.UUID
	Day    time.Time // midnight UTC
	Reason string
	Events int64
}

// RejectionsAdd adds each row's events to its app, day and reason in
// ingest_rejections, in one statement, so copies of the api adding at once
// sum up. Rows are written in key order (two copies never lock the same
// rows in opposite orders), and rows of apps that no longer exist are
// skipped, so a deleted app cannot fail every later call.
func RejectionsAdd(ctx context.Context, db DBTX, rows []Rejection) error {
	if len(rows) == 0 {
		return nil
	}
	rows = slices.Clone(rows)
	slices.SortFunc(rows, func(a, b Rejection) int {
		return cmp.Or(slices.Compare(a.AppID[:], b.AppID[:]), a.Day.Compare(b.Day), cmp.Compare(a.Reason, b.Reason))
	})
	apps := make([]uuid.UUID, len(rows))
	days := make([]time.Time, len(rows))
	reasons := make([]string, len(rows))
	events := make([]int64, len(rows))
	for i, r := range rows {
		apps[i], days[i], reasons[i], events[i] = r.AppID, r.Day, r.Reason, r.Events
	}
	_, err := db.Exec(ctx, `INSERT INTO ingest_rejections AS t (app_id, day, reason, events)
		SELECT u.app_id, u.day, u.reason, u.events
		FROM unnest($1::uuid[], $2::date[], $3::text[], $4::bigint[]) WITH ORDINALITY AS u(app_id, day, reason, events, n)
		WHERE EXISTS (SELECT 1 FROM apps a WHERE a.id = u.app_id)
		ORDER BY u.n
		ON CONFLICT (app_id, day, reason) DO UPDATE SET events = t.events + excluded.events`,
		apps, days, reasons, events)
	if err != nil {
		return fmt.Errorf("error adding %d rejection counts: %w", len(rows), err)
	}
	return nil
}
