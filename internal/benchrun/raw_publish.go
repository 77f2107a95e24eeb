package benchrun

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gamepipe/gamepipe/internal/loadgen"
	"github.com/gamepipe/gamepipe/internal/telemetry"
)

// rawStream is the stream the raw publish ceilings write to: TELEMETRY's
// configuration under another name and subjects, so the raw events do not
// reach the sink's backlog.
const (
	rawStream  = "BENCH_RAW"
	rawSubject = "benchraw"
)

// storedEvent is one message as the API publishes it: one event's stored
// encoding, or (n > 1) a batch message of n events of one kind.
type storedEvent struct {
	kind telemetry.Kind
	data []byte
	n    int
}

// batchMessages turns one-event messages into batch messages of up to per
// events of one kind each, as the api publishes a request of per events.
func batchMessages(events []storedEvent, per int) []storedEvent {
	byKind := map[telemetry.Kind][]storedEvent{}
	for _, ev := range events {
		byKind[ev.kind] = append(byKind[ev.kind], ev)
	}
	var out []storedEvent
	for _, k := range telemetry.Kinds {
		evs := byKind[k]
		for len(evs) > 0 {
			chunk := evs[:min(per, len(evs))]
			evs = evs[len(chunk):]
			data := telemetry.AppendStoredBatchHeader(nil, len(chunk))
			for _, ev := range chunk {
				data = telemetry.AppendStoredItemBytes(data, ev.data)
			}
			out = append(out, storedEvent{kind: k, data: data, n: len(chunk)})
		}
	}
	return out
}

// makeStoredEvents makes n events as the API would publish them: loadgen
// bodies, decoded and validated by telemetry.Decode, stamped with the app
// and a received_at, in the stream encoding (telemetry.AppendStored).
func makeStoredEvents(cfg *Config, appID string, n int) ([]storedEvent, []telemetry.Event, error) {
	gen, err := loadgen.NewGenerator(&loadgen.GeneratorConfig{AppID: appID, Mix: cfg.Mix})
	if err != nil {
		return nil, nil, err
	}
	s := gen.NewStream(rand.Uint64())
	out := make([]storedEvent, 0, n)
	var all []telemetry.Event
	now := time.Now().UTC().Truncate(time.Microsecond)
	for len(out) < n {
		evs, err := telemetry.Decode(s.AppendBody(nil, min(100, n-len(out)), false), nil, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("error decoding generated events: %w", err)
		}
		for i := range evs {
			evs[i].ReceivedAt = now
			data, err := telemetry.AppendStored(nil, &evs[i])
			if err != nil {
				return nil, nil, err
			}
			out = append(out, storedEvent{kind: evs[i].Kind, data: data})
		}
		all = append(all, evs...)
	}
	return out, all, nil
}

// rawInFlight is the most bytes the raw publisher has published and not
// yet seen acknowledged: a quarter of nats-server's default stream ingest
// queue (128 MiB), which drops what a publisher sends beyond it. With an
// fsync on every write the store takes a few hundred messages a second,
// and a publisher limited only by the api's 64k-message window would fill
// that queue and lose its messages; this bound keeps several hundred batch
// messages in flight, more than the store needs to stay busy at any
// setting.
const rawInFlight = 32 << 20

// rawWindow is the raw publisher's async window for events: as many
// messages as fit rawInFlight at their mean size, at most the api's 64k
// and at least 64.
func rawWindow(events []storedEvent) int {
	if len(events) == 0 {
		return 64 << 10
	}
	total := 0
	for _, ev := range events {
		total += len(ev.data)
	}
	return min(max(rawInFlight/max(total/len(events), 1), 64), 64<<10)
}

// rawPublisher publishes stored events to rawStream from its own
// connection, configured as the api configures its JetStream context but
// for its window (rawWindow).
type rawPublisher struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	events   []storedEvent
	window   int // the most messages in flight
	subjects map[telemetry.Kind]string
	idPrefix string
	seq      atomic.Uint64
	asyncErr atomic.Int64
}

func newRawPublisher(ctx context.Context, natsURL, appID string, events []storedEvent) (*rawPublisher, error) {
	nc, err := nats.Connect(natsURL, nats.Name("gamepipe-bench-raw"))
	if err != nil {
		return nil, fmt.Errorf("error connecting to NATS: %w", err)
	}
	p := &rawPublisher{nc: nc, events: events, window: rawWindow(events), subjects: map[telemetry.Kind]string{}, idPrefix: appID + ":"}
	p.js, err = jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(p.window),
		jetstream.WithPublishAsyncTimeout(5*time.Second),
		jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) { p.asyncErr.Add(1) }))
	if err != nil {
		nc.Close()
		return nil, err
	}
	for _, k := range telemetry.Kinds {
		p.subjects[k] = rawSubject + "." + appID + "." + string(k)
	}
	if err := p.ensureStream(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	return p, nil
}

// ensureStream creates rawStream with TELEMETRY's configuration.
func (p *rawPublisher) ensureStream(ctx context.Context) error {
	return copyTelemetryStream(ctx, p.js, rawStream, rawSubject+".>", "bench: raw publish ceiling")
}

// close deletes rawStream and closes the connection.
func (p *rawPublisher) close(ctx context.Context) {
	_ = p.js.DeleteStream(ctx, rawStream)
	p.nc.Close()
}

// msg returns the next message: the next stored event with a fresh
// Nats-Msg-Id of the same shape as the api's (app id, colon, 36
// characters).
func (p *rawPublisher) msg() *nats.Msg {
	n := p.seq.Add(1)
	ev := &p.events[int(n)%len(p.events)]
	id := uuidShapedID(p.idPrefix, n)
	return &nats.Msg{Subject: p.subjects[ev.kind], Data: ev.data, Header: nats.Header{jetstream.MsgIDHeader: []string{id}}}
}

// asyncRun publishes asynchronously, as fast as its window lets it,
// for d, then waits for every ack. It returns the events stored per second.
func (p *rawPublisher) asyncRun(ctx context.Context, d time.Duration) (float64, error) {
	p.asyncErr.Store(0)
	start := time.Now()
	var sent int64
	for time.Since(start) < d && ctx.Err() == nil {
		for range 64 {
			_, err := p.js.PublishMsgAsync(p.msg(), jetstream.WithExpectStream(rawStream))
			if errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
				continue // the window is full: that is the ceiling working
			}
			if err != nil {
				return 0, fmt.Errorf("error publishing: %w", err)
			}
			sent++
		}
	}
	perMsg := 1.0
	if len(p.events) > 0 && p.events[0].n > 1 {
		total := 0
		for _, ev := range p.events {
			total += ev.n
		}
		perMsg = float64(total) / float64(len(p.events))
	}
	select {
	case <-p.js.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		return 0, errors.New("acks still pending 30s after the last publish")
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	elapsed := time.Since(start)
	stored := sent - p.asyncErr.Load()
	if stored <= 0 {
		return 0, fmt.Errorf("no event stored (%d publish errors)", p.asyncErr.Load())
	}
	return float64(stored) * perMsg / elapsed.Seconds(), nil
}
