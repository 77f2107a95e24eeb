package dashboard

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// rejectedEvents are the overview's rejected events: the app's events the
// api refused, by reason (the error code the client was sent).
type rejectedEvents struct {
	// Totals are the range's, by reason.
	Totals map[string]int64 `json:"totals"`
	// Days has one entry per UTC day of the range; a day's reasons hold
	// the reasons with events only.
	Days []rejectedDay `json:"days"`
}

type rejectedDay struct {
	Day     day              `json:"day"`
	Reasons map[string]int64 `json:"reasons"`
}

// readRejected reads the app's rejected events per UTC day and reason from
// ingest_rejections, which the api adds to every few seconds
// (docs/dashboard.md, "Rejected events"). They are counted per whole day,
// so a range that starts or ends inside a day has that day's whole count;
// they carry no build, region, input method or level, so the filters leave
// them alone.
func readRejected(ctx context.Context, tx pgx.Tx, app uuid.UUID, rg timeRange, out *rejectedEvents) error {
	out.Totals = map[string]int64{}
	out.Days = []rejectedDay{}
	index := map[int64]int{}
	for i, d := range rg.days() {
		index[d.Unix()] = i
		out.Days = append(out.Days, rejectedDay{Day: day(d), Reasons: map[string]int64{}})
	}
	if len(out.Days) == 0 {
		return nil
	}
	first, last := time.Time(out.Days[0].Day), time.Time(out.Days[len(out.Days)-1].Day)
	rows, err := tx.Query(ctx, `SELECT day, reason, events FROM ingest_rejections
		WHERE app_id = $1 AND day >= $2::date AND day <= $3::date`, app, first, last)
	if err != nil {
		return err
	}
	var (
		d      time.Time
		reason string
		n      int64
	)
	_, err = pgx.ForEachRow(rows, []any{&d, &reason, &n}, func() error {
		if i, ok := index[d.Unix()]; ok {
			out.Days[i].Reasons[reason] += n
			out.Totals[reason] += n
		}
		return nil
	})
	return err
}
