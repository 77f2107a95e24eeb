package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/telemetry"
)

// BenchmarkInsertEventsByKind measures InsertEvents on batches of 1000
// events of one kind at a time, with trajectories of realistic length (50,
// 275 and 500 points: loadgen sends 50-500), each batch in a transaction
// rolled back so that every iteration writes the same rows. It shows
// which kind costs the sink most per row.
//
//	go test -run '^$' -bench InsertEventsByKind -benchtime 20x ./internal/store/
func BenchmarkInsertEventsByKind(b *testing.B) {
	pool := dbtest.NewSchema(b).Pool
	ctx := context.Background()
	appID := uuid.NewString()
	at := time.Now().UTC()
	require.NoError(b, store.EnsurePartitions(ctx, pool, at, at.Add(time.Hour)))

	cases := []struct {
		name   string
		kind   telemetry.Kind
		points int
	}{
		{"Player", telemetry.KindPlayer, 0},
		{"Funnel", telemetry.KindFunnel, 0},
		{"Gameplay", telemetry.KindGameplay, 0},
		{"Realtime50", telemetry.KindRealtime, 50},
		{"Realtime275", telemetry.KindRealtime, 275},
		{"Realtime500", telemetry.KindRealtime, 500},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			events := make([]telemetry.Event, 1000)
			for i := range events {
				events[i] = newEvent(c.kind, appID, at.Add(time.Duration(i)*time.Millisecond))
				if c.points > 0 {
					events[i].Positions = make([]float64, 3*c.points)
					for j := range events[i].Positions {
						events[i].Positions[j] = float64(i*j) / 7
					}
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				tx, err := pool.Begin(ctx)
				require.NoError(b, err)
				_, err = store.InsertEvents(ctx, tx, events)
				require.NoError(b, err)
				require.NoError(b, tx.Rollback(ctx))
			}
			b.ReportMetric(float64(len(events))*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
