package dashboard

import (
	"context"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/store"
)

// The overview shows the app's rejected events per day and reason as the
// api added them, whole days at the range's ends, never another app's,
// and the filters leave them alone.
func TestOverviewRejected(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, nil)
	a, b := f.a.AppID, f.b.AppID
	rows := []store.Rejection{
		{AppID: a, Day: ts("2026-03-01T00:00:00Z"), Reason: "missing_field", Events: 5},
		{AppID: a, Day: ts("2026-03-01T00:00:00Z"), Reason: "rate_limited", Events: 2},
		{AppID: a, Day: ts("2026-03-02T00:00:00Z"), Reason: "missing_field", Events: 1},
		{AppID: a, Day: ts("2026-02-28T00:00:00Z"), Reason: "missing_field", Events: 100}, // before the range
		{AppID: a, Day: ts("2026-03-03T00:00:00Z"), Reason: "missing_field", Events: 100}, // after it
		{AppID: b, Day: ts("2026-03-01T00:00:00Z"), Reason: "missing_field", Events: 1000},
		{AppID: b, Day: ts("2026-03-02T00:00:00Z"), Reason: "app_mismatch", Events: 1000},
	}
	require.NoError(t, store.RejectionsAdd(ctx, f.db.Pool, rows))
	// A second api copy's flush adds to the same rows.
	require.NoError(t, store.RejectionsAdd(ctx, f.db.Pool, rows[2:3]))

	var got overviewView
	f.view(t, f.a.SecretKey, "/dashboard/api/overview", url.Values{
		"from": {"2026-03-01T12:00:00Z"}, "to": {"2026-03-02T06:00:00Z"}, "build_id": {"nothing"}, "app_id": {b.String()}}, &got)
	require.Equal(t, rejectedEvents{
		Totals: map[string]int64{"missing_field": 7, "rate_limited": 2},
		Days: []rejectedDay{
			{Day: day(ts("2026-03-01T00:00:00Z")), Reasons: map[string]int64{"missing_field": 5, "rate_limited": 2}},
			{Day: day(ts("2026-03-02T00:00:00Z")), Reasons: map[string]int64{"missing_field": 2}},
		},
	}, got.Rejected)

	// App B sees its own.
	var other overviewView
	f.view(t, f.b.SecretKey, "/dashboard/api/overview", url.Values{
		"from": {"2026-03-01T00:00:00Z"}, "to": {"2026-03-03T00:00:00Z"}}, &other)
	require.Equal(t, map[string]int64{"missing_field": 1000, "app_mismatch": 1000}, other.Rejected.Totals)

	// A range without any: every day, no reasons.
	var none overviewView
	f.view(t, f.a.SecretKey, "/dashboard/api/overview", url.Values{
		"from": {"2025-01-01T00:00:00Z"}, "to": {"2025-01-02T00:00:00Z"}}, &none)
	require.Equal(t, rejectedEvents{Totals: map[string]int64{},
		Days: []rejectedDay{{Day: day(ts("2025-01-01T00:00:00Z")), Reasons: map[string]int64{}}}}, none.Rejected)
}
