package telemetry

import (
	"strings"
	"testing"
)

func BenchmarkDecode(b *testing.B) {
	bodies := map[string][]byte{}
	var mixed []any
	for _, kind := range Kinds {
		name := strings.ToUpper(string(kind[:1])) + string(kind[1:])
		bodies[name] = pack(b, docExample(kind))
	}
	for i := range 100 {
		mixed = append(mixed, docExample(Kinds[i%len(Kinds)]))
	}
	bodies["Batch100Mixed"] = pack(b, mixed)
	long := docExample(KindRealtime)
	positions := make([]any, 3000)
	for i := range positions {
		positions[i] = float32(i) / 7
	}
	long["positions"] = positions
	bodies["Realtime1000Points"] = pack(b, long)

	for _, name := range []string{"Player", "Funnel", "Gameplay", "Realtime", "Realtime1000Points", "Batch100Mixed"} {
		body := bodies[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			var dst []Event
			for b.Loop() {
				var err error
				if dst, err = Decode(body, nil, dst[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEventID(b *testing.B) {
	for _, kind := range []Kind{KindGameplay, KindRealtime} {
		evs, err := Decode(pack(b, docExample(kind)), nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(string(kind), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = EventID(&evs[0])
			}
		})
	}
}

func BenchmarkMarshalStored(b *testing.B) {
	evs, err := Decode(pack(b, docExample(KindGameplay)), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	ev := &evs[0]
	b.Run("Append", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			if buf, err = AppendStored(buf[:0], ev); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(len(buf)))
	})
	b.Run("Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := MarshalStored(ev); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkUnmarshalStored(b *testing.B) {
	evs, err := Decode(pack(b, docExample(KindGameplay)), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	stored, err := MarshalStored(&evs[0])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(stored)))
	var ev Event
	for b.Loop() {
		if err := UnmarshalStored(stored, &ev); err != nil {
			b.Fatal(err)
		}
	}
}
