package store

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/gamepipe/gamepipe/internal/telemetry"
)

// benchEvents returns n events of the four kinds in the proportions of
// loadgen's default mix (5% player, 15% funnel, 60% gameplay, 20%
// trajectories of points points), as the sink receives them.
func benchEvents(n, points int) []telemetry.Event {
	at := time.Date(2026, 2, 12, 10, 0, 0, 0, time.UTC)
	events := make([]telemetry.Event, n)
	for i := range events {
		ev := telemetry.Event{
			ID:         fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i),
			AppID:      "72ab8f81-ef36-4712-a046-399a62b9afaa",
			BuildID:    "Win64_Shipping_1.4.2",
			PlayerID:   fmt.Sprintf("5b1e4c2a-1d3f-4a5b-8c7d-%012x", i%1000),
			SessionID:  fmt.Sprintf("9c2d4e6f-8a0b-4c1d-9e2f-%012x", i%1000),
			ReceivedAt: at.Add(time.Second),
			Timestamp:  at.Add(time.Duration(i)),
		}
		switch p := i % 20; {
		case p == 0:
			ev.Kind, ev.EventName, ev.Region, ev.SessionID = telemetry.KindPlayer, "Create_Player", "EU-West", ""
			ev.Hardware = json.RawMessage(`{"gpu":"RTX 4090","cpu":"Ryzen 7 7800X3D","ram":"32GB","os":"Windows 11"}`)
		case p <= 3:
			ev.Kind, ev.FunnelStepName, ev.LevelID = telemetry.KindFunnel, "Tutorial_Start", "Training_Grounds"
		case p <= 15:
			ev.Kind, ev.EventName, ev.LevelID, ev.InputMethod = telemetry.KindGameplay, "Enemy_Killed", "Level_1", "Gamepad"
			ev.Position = &[3]float64{10.5, 0, -5.2}
			ev.CustomData = json.RawMessage(`{"weapon":"Sword","ammo":10,"damage":12.5,"crit":false}`)
		default:
			ev.Kind, ev.Status, ev.InputMethod = telemetry.KindRealtime, "Gameplay", "Gamepad"
			ev.FPS = &telemetry.FPS{Mean: 60, Low5: 48, Low1: 36}
			ev.Positions = make([]float64, 3*points)
			for j := range ev.Positions {
				ev.Positions[j] = float64(j) / 7
			}
			ev.TimestampStart, ev.TimestampEnd, ev.Timestamp = ev.Timestamp, ev.Timestamp.Add(5*time.Second), time.Time{}
		}
		events[i] = ev
	}
	return events
}

// BenchmarkCopyRows measures building the COPY rows of a sink batch (1000
// events of the default mix, trajectories of 275 points): what the sink
// does per row besides Postgres's own work, for the staging tables and for
// the direct COPY (which sorts by primary key first). The encoding of the
// values into the COPY stream is pgx's, and is left out.
//
//	go test -run '^$' -bench CopyRows -benchmem ./internal/store/
func BenchmarkCopyRows(b *testing.B) {
	for _, direct := range []bool{false, true} {
		name := "staged"
		if direct {
			name = "direct"
		}
		b.Run(name, func(b *testing.B) {
			events := benchEvents(1000, 275)
			src := newEventSource(events)
			b.ReportAllocs()
			rows := 0
			for b.Loop() {
				for _, kt := range kindTables {
					src.reset(kt, direct && kt.direct)
					for src.Next() {
						if _, err := src.Values(); err != nil {
							b.Fatal(err)
						}
						rows++
					}
				}
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkParseUUID measures the id and app id parsing done for every
// row.
func BenchmarkParseUUID(b *testing.B) {
	var u pgtype.UUID
	b.ReportAllocs()
	for b.Loop() {
		u.Valid = parseUUID("72ab8f81-ef36-4712-a046-399a62b9afaa", &u.Bytes)
	}
}
