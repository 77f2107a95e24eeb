package export

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gamepipe/gamepipe/internal/eventstream"
)

// FlushSubject is the core NATS subject every exporter listens on (no queue
// group: each one flushes). A request with a reply subject gets one
// FlushReply per exporter; a plain publish flushes without replies.
const FlushSubject = eventstream.ExportFlushSubject

// FlushReply is one exporter's answer to a flush request, sent once the
// flush is done.
type FlushReply struct {
	// Exporter is the exporter's instance id.
	Exporter string `json:"exporter"`
	// Files and Events are what the flush wrote.
	Files  int `json:"files"`
	Events int `json:"events"`
	// Error is set when some buffers could not be written; their events are
	// redelivered and written later.
	Error string `json:"error,omitempty"`
}

// FlushSummary adds up the replies to one flush request.
type FlushSummary struct {
	// Exporters is the number of exporters that replied in time. Zero is
	// not an error: none may be running, and events wait in the stream.
	Exporters int `json:"exporters"`
	// Files and Events are the sums over the replies.
	Files  int `json:"files"`
	Events int `json:"events"`
	// Failed counts replies with an Error.
	Failed int `json:"failed"`
	// Replies are the individual answers.
	Replies []FlushReply `json:"replies"`
}

// RequestFlush asks every running exporter to write its buffers now and
// collects their replies for wait. Exporters that answer later still flush;
// they are just not counted. A burst of calls should go through a
// FlushTrigger so that it makes one request.
func RequestFlush(ctx context.Context, nc *nats.Conn, wait time.Duration) (*FlushSummary, error) {
	inbox := nc.NewInbox()
	replies := make(chan *nats.Msg, 1024)
	sub, err := nc.ChanSubscribe(inbox, replies)
	if err != nil {
		return nil, fmt.Errorf("error subscribing for flush replies: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.PublishRequest(FlushSubject, inbox, nil); err != nil {
		return nil, fmt.Errorf("error publishing flush request: %w", err)
	}

	timer := time.NewTimer(wait)
	defer timer.Stop()
	sum := &FlushSummary{Replies: []FlushReply{}}
	for {
		select {
		case m := <-replies:
			var r FlushReply
			if err := json.Unmarshal(m.Data, &r); err != nil {
				continue // not an exporter
			}
			sum.Exporters++
			sum.Files += r.Files
			sum.Events += r.Events
			if r.Error != "" {
				sum.Failed++
			}
			sum.Replies = append(sum.Replies, r)
		case <-timer.C:
			return sum, nil
		case <-ctx.Done():
			return nil, fmt.Errorf("error waiting for flush replies: %w", ctx.Err())
		}
	}
}

// requestQueue holds flush requests until the Run loop serves them.
type requestQueue struct {
	mu      sync.Mutex
	pending []*nats.Msg
	// notify has a value whenever pending may be non-empty.
	notify chan struct{}
}

func newRequestQueue() *requestQueue {
	return &requestQueue{notify: make(chan struct{}, 1)}
}

// push is the subscription's handler.
func (q *requestQueue) push(m *nats.Msg) {
	q.mu.Lock()
	q.pending = append(q.pending, m)
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// take empties the queue.
func (q *requestQueue) take() []*nats.Msg {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.pending
	q.pending = nil
	return out
}

// serveRequests runs one flush for every request gathered during the
// coalescing window, and answers those that arrived while it ran too: the
// Run loop buffers nothing during a flush, so it wrote all they asked for.
func (e *Exporter) serveRequests() error {
	reqs := e.requests.take()
	if len(reqs) == 0 {
		return nil
	}
	e.lastRequested = time.Now()
	res, err := e.flush(e.bufs.take(nil), reasonRequest)
	if err != nil {
		return err
	}
	e.reply(append(reqs, e.requests.take()...), res)
	return nil
}

// reply answers flush requests with res.
func (e *Exporter) reply(reqs []*nats.Msg, res flushResult) {
	r := FlushReply{Exporter: e.cfg.InstanceID, Files: res.Files, Events: res.Events}
	if res.Err != nil {
		r.Error = res.Err.Error()
	}
	body, _ := json.Marshal(r)
	for _, m := range reqs {
		if m.Reply == "" {
			continue
		}
		if err := m.Respond(body); err != nil {
			e.log.Warn().Err(err).Msg("export: error replying to a flush request")
		}
	}
}
