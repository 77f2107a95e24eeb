package export

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/natstest"
	"github.com/gamepipe/gamepipe/internal/natstest/roletest"
	"github.com/gamepipe/gamepipe/internal/telemetry"
	"github.com/gamepipe/gamepipe/internal/testutil"
)

// Test apps: UUIDs, as the API stamps them.
const (
	appA = "72ab8f81-ef36-4712-a046-399a62b9afaa"
	appB = "0b7c3d1e-5f6a-4b8c-9d0e-1f2a3b4c5d6e"
)

var idCounter atomic.Uint64

// testEvent returns a valid event of kind, received at receivedAt. Times
// have microsecond precision, as Postgres keeps them.
func testEvent(appID string, kind telemetry.Kind, receivedAt time.Time) telemetry.Event {
	n := idCounter.Add(1)
	at := receivedAt.Add(-time.Duration(n%1000) * time.Millisecond).Truncate(time.Microsecond)
	ev := testutil.Event(kind, appID, at)
	ev.ID = fmt.Sprintf("%08x-0000-4000-8000-%012x", n, time.Now().UnixNano()&0xffffffffffff)
	ev.PlayerID = fmt.Sprintf("player-%d", n%7)
	ev.ReceivedAt = receivedAt.UTC().Truncate(time.Microsecond)
	switch kind {
	case telemetry.KindGameplay:
		ev.CustomData = json.RawMessage(fmt.Sprintf(`{"ammo":%d,"weapon":"Sword"}`, n%50))
	case telemetry.KindRealtime:
		ev.FPS.Low1 = 30.5
		if n%2 == 0 {
			ev.LevelID = "Level_2" // docs/telemetry.md's extension
		}
	}
	return ev
}

// mixedEvents returns n events cycling through apps, kinds and hours.
func mixedEvents(n int, hours []time.Time) []telemetry.Event {
	apps := []string{appA, appB}
	out := make([]telemetry.Event, n)
	for i := range out {
		hour := hours[i%len(hours)]
		at := hour.Add(time.Duration(i%3600) * time.Second)
		out[i] = testEvent(apps[(i/len(hours))%len(apps)], telemetry.Kinds[i%len(telemetry.Kinds)], at)
	}
	return out
}

// streamBundle is a test's JetStream with TELEMETRY and the exporter consumer.
type streamBundle struct {
	srv      *natstest.Server
	nc       *nats.Conn
	js       jetstream.JetStream
	stream   jetstream.Stream
	consumer jetstream.Consumer
	ackWait  time.Duration
}

// newStream starts JetStream and creates TELEMETRY and the exporter
// consumer. ackWait is the consumer's: short where a test needs unacked
// messages back quickly, long enough elsewhere that a slow, loaded test
// machine does not redeliver (which would repeat lines).
func newStream(t *testing.T, ackWait time.Duration) *streamBundle {
	t.Helper()
	ctx := context.Background()
	// A closed NATS: the exporter runs as its role's user (start).
	srv := roletest.Run(t)
	nc := roletest.ConnectAdmin(t, srv)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	stream, err := eventstream.EnsureStream(ctx, js, &eventstream.StreamConfig{})
	require.NoError(t, err)
	cons, err := eventstream.EnsureConsumer(ctx, js, &eventstream.ConsumerConfig{
		Durable: eventstream.ConsumerExporter, AckWait: ackWait, MaxDeliver: -1,
	})
	require.NoError(t, err)
	return &streamBundle{srv: srv, nc: nc, js: js, stream: stream, consumer: cons, ackWait: ackWait}
}

// publish stores events on the stream, with their ids as Nats-Msg-Id.
func (b *streamBundle) publish(t *testing.T, events ...telemetry.Event) {
	t.Helper()
	for i := range events {
		data, err := telemetry.MarshalStored(&events[i])
		require.NoError(t, err)
		_, err = b.js.Publish(context.Background(), events[i].Subject(), data, jetstream.WithMsgID(events[i].ID))
		require.NoError(t, err)
	}
}

// exporterBundle is a running exporter.
type exporterBundle struct {
	exp    *Exporter
	cancel context.CancelFunc
	errc   chan error
}

// start builds an exporter on b (its own connection, as separate processes
// would have) and runs it until the test ends or stop is called.
func (b *streamBundle) start(t *testing.T, cfg *Config) *exporterBundle {
	t.Helper()
	nc := roletest.ConnectAs(t, b.srv, eventstream.RoleExporter)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx := context.Background()
	stream, err := js.Stream(ctx, eventstream.StreamName)
	require.NoError(t, err)
	cons, err := js.Consumer(ctx, eventstream.StreamName, eventstream.ConsumerExporter)
	require.NoError(t, err)
	c := *cfg
	c.AckWait = b.ackWait
	exp, err := New(testConfig(t, &c), &Deps{Logger: zerolog.Nop(), Conn: nc, Consumer: cons, Stream: stream})
	require.NoError(t, err)

	runCtx, cancel := context.WithCancel(ctx)
	eb := &exporterBundle{exp: exp, cancel: cancel, errc: make(chan error, 1)}
	go func() { eb.errc <- exp.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-eb.errc:
		case <-time.After(10 * time.Second):
			t.Error("exporter did not stop")
		}
	})
	return eb
}

// stop cancels the exporter and returns Run's error.
func (eb *exporterBundle) stop(t *testing.T) error {
	t.Helper()
	eb.cancel()
	return eb.wait(t)
}

// wait returns Run's error once it returns.
func (eb *exporterBundle) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-eb.errc:
		eb.errc <- err // for the cleanup
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("exporter did not stop")
		return nil
	}
}

// value reads a counter or gauge.
func value(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, c.Write(&m))
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

// waitBuffered waits until the exporter holds n events.
func (eb *exporterBundle) waitBuffered(t *testing.T, n int) {
	t.Helper()
	testutil.WaitFor(t, 10*time.Second, func() error {
		if got := value(t, eb.exp.metrics.buffered); int(got) != n {
			return fmt.Errorf("buffered %v, want %d", got, n)
		}
		return nil
	})
}

// exported is what a directory tree holds: lines by file path (relative to
// root), and temporary files.
type exported struct {
	files map[string][]telemetry.Event
	temps []string
}

// readExport reads every data file under root; a file that is not whole
// gzip NDJSON is an error.
func readExport(root string) (*exported, error) {
	out := &exported{files: map[string][]telemetry.Event{}}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		switch {
		case isTemp(d.Name()):
			out.temps = append(out.temps, rel)
		case strings.HasSuffix(d.Name(), FileSuffix):
			evs, err := readDataFile(path)
			if err != nil {
				return fmt.Errorf("%s: %w", rel, err)
			}
			out.files[rel] = evs
		}
		return nil
	})
	if os.IsNotExist(err) {
		err = nil
	}
	return out, err
}

// readDataFile decodes one gzip NDJSON file.
func readDataFile(path string) ([]telemetry.Event, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		return nil, err
	}
	var evs []telemetry.Event
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var ev telemetry.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return nil, err
		}
		evs = append(evs, ev)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		return nil, fmt.Errorf("last line not terminated")
	}
	return evs, sc.Err()
}

// byID indexes events by id, counting repeats.
func (x *exported) byID() (map[string]telemetry.Event, int) {
	m, lines := map[string]telemetry.Event{}, 0
	for _, evs := range x.files {
		for _, ev := range evs {
			m[ev.ID] = ev
			lines++
		}
	}
	return m, lines
}

// wantPath is where an event's line belongs, relative to the export root.
func wantPath(ev *telemetry.Event) string {
	at := ev.ReceivedAt.UTC()
	return filepath.Join(ev.AppID, string(ev.Kind), at.Format(time.DateOnly), fmt.Sprintf("%02d-", at.Hour()))
}

// line is an event's expected NDJSON line.
func line(t *testing.T, ev telemetry.Event) string {
	t.Helper()
	b, err := json.Marshal(ev)
	require.NoError(t, err)
	return string(b)
}
