package telemetry

import (
	"fmt"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

func TestSmoke(t *testing.T) {
	ev := map[string]any{
		"event_name": "Player_Jump", "app_id": "72ab8f81-ef36-4712-a046-399a62b9afaa",
		"build_id": "Win64_Shipping_1.0.2", "player_id": "player_uuid", "session_id": "session_uuid",
		"level_id": "Level_1", "position": []float64{10.5, 0.0, -5.2},
		"custom_data": map[string]any{"weapon": "Sword", "ammo": 10}, "input_method": "Gamepad",
		"timestamp": "2026-02-12T10:00:00.123456+00:00",
	}
	b, _ := msgpack.Marshal(ev)
	evs, err := Decode(b, nil, nil)
	fmt.Printf("%+v %v\n", evs, err)
	out, err := MarshalStored(&evs[0])
	fmt.Println(len(out), err)
	var e2 Event
	err = UnmarshalStored(out, &e2)
	fmt.Printf("%+v %v\n", e2, err)
	fmt.Println(EventID(&e2))
	for _, body := range [][]byte{{0xdd, 0xff, 0xff, 0xff, 0xff}, []byte(`{"a":1}`), {}} {
		_, err := Decode(body, nil, nil)
		fmt.Println(err)
	}
}
