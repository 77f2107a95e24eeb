package telemetry

import (
	"testing"
)

// realisticTrajectory is the document's realtime example with points
// points of float32 coordinates, as game clients send them (loadgen sends
// 50-500 points; 275 is the middle).
func realisticTrajectory(points int) map[string]any {
	m := docExample(KindRealtime)
	positions := make([]any, 3*points)
	x := float32(100)
	for i := range positions {
		x += 0.37
		positions[i] = x
	}
	m["positions"] = positions
	return m
}

// realisticBatch is a batch of 100 events in loadgen's default mix: 5
// players, 15 funnel steps, 60 gameplay events, 20 trajectories of 275
// points.
func realisticBatch() []any {
	batch := make([]any, 0, 100)
	for i := range 100 {
		switch p := i % 20; {
		case p == 0:
			batch = append(batch, docExample(KindPlayer))
		case p <= 3:
			batch = append(batch, docExample(KindFunnel))
		case p <= 15:
			batch = append(batch, docExample(KindGameplay))
		default:
			batch = append(batch, realisticTrajectory(275))
		}
	}
	return batch
}

// BenchmarkHotPath measures each step an event takes through gamepipe on
// realistic sizes: the API decodes and validates (including the event
// id), encodes for the stream; the sink decodes the stream encoding.
// Batch100 is one request of loadgen's default mix; Realtime275 one
// trajectory.
//
//	go test -run '^$' -bench HotPath -benchmem -count 6 ./internal/telemetry/ | tee new.txt  # benchstat old.txt new.txt
func BenchmarkHotPath(b *testing.B) {
	for _, c := range []struct {
		name string
		body []byte
	}{
		{"Realtime275", pack(b, realisticTrajectory(275))},
		{"Batch100", pack(b, realisticBatch())},
	} {
		evs, err := Decode(c.body, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		var stored [][]byte
		for i := range evs {
			s, err := MarshalStored(&evs[i])
			if err != nil {
				b.Fatal(err)
			}
			stored = append(stored, s)
		}

		b.Run(c.name+"/Decode", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.body)))
			var dst []Event
			for b.Loop() {
				if dst, err = Decode(c.body, nil, dst[:0]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(evs)*b.N)/b.Elapsed().Seconds(), "events/s")
		})
		b.Run(c.name+"/DecodeWith", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.body)))
			var dst []Event
			var s Scratch
			for b.Loop() {
				if dst, err = DecodeWith(c.body, nil, dst[:0], &s); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(evs)*b.N)/b.Elapsed().Seconds(), "events/s")
		})
		b.Run(c.name+"/EventID", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for i := range evs {
					_ = EventID(&evs[i])
				}
			}
			b.ReportMetric(float64(len(evs)*b.N)/b.Elapsed().Seconds(), "events/s")
		})
		b.Run(c.name+"/AppendStored", func(b *testing.B) {
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				buf = buf[:0]
				for i := range evs {
					if buf, err = AppendStored(buf, &evs[i]); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.SetBytes(int64(len(buf)))
			b.ReportMetric(float64(len(evs)*b.N)/b.Elapsed().Seconds(), "events/s")
		})
		b.Run(c.name+"/UnmarshalStored", func(b *testing.B) {
			b.ReportAllocs()
			var ev Event
			for b.Loop() {
				for _, s := range stored {
					if err := UnmarshalStored(s, &ev); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(len(evs)*b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
