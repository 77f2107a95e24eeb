package generaitiv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/gamepipe/gamepipe/internal/upstream"
)

// Websocket message types.
const (
	EventInProgress = "IN_PROGRESS"
	EventCompleted  = "COMPLETED"
	EventError      = "ERROR"
)

// followIdleTimeout is how long a socket may stay silent before Follow
// treats it as dead and reconnects.
const followIdleTimeout = 60 * time.Second

// Event is one websocket message.
type Event struct {
	// Type is IN_PROGRESS, COMPLETED or ERROR.
	Type string `json:"type"`
	// Message is the progress of an IN_PROGRESS; the document warns it is
	// sometimes absent.
	Message *Progress `json:"message,omitempty"`
	// Link is the image of a COMPLETED.
	Link string `json:"link,omitempty"`
	// Error may explain an ERROR (the document names no field; the
	// simulator sends "error").
	Error string `json:"error,omitempty"`
}

// Progress is how far a generation is.
type Progress struct {
	Percentage  int `json:"percentage"`
	TotalSteps  int `json:"totalSteps"`
	CurrentStep int `json:"currentStep"`
}

// FollowResult is how a followed workload ended.
type FollowResult struct {
	// Completed is true for COMPLETED, false for ERROR.
	Completed bool
	// Link is the image of a completed workload.
	Link string
	// Message explains an ERROR, when the upstream said why.
	Message string
	// Reconnects counts the times the socket dropped and was reopened.
	Reconnects int
}

// Follow connects to the websocket for a workload and calls onProgress for
// each IN_PROGRESS message until COMPLETED or ERROR. A socket that drops
// before then is reopened, up to FollowReconnects times with a doubling
// pause; the upstream resumes the stream from the current step. An error
// from onProgress stops following and is returned. A refused handshake
// (401, 403, 404) is a permanent *upstream.Error; running out of
// reconnects is a retryable one.
func (c *Client) Follow(ctx context.Context, workloadID, jwt string, onProgress func(ctx context.Context, ev *Event) error) (*FollowResult, error) {
	u := *c.ws
	u.RawQuery = url.Values{"id": {workloadID}, "jwt": {jwt}}.Encode()
	res := &FollowResult{}
	backoff := c.cfg.FollowBackoff
	for {
		got, err := c.followOnce(ctx, u.String(), res, onProgress)
		switch {
		case err == nil:
			return res, nil
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case errors.Is(err, errStop):
			return nil, errors.Unwrap(err)
		case isPermanentHandshake(err):
			return nil, err
		}
		if got {
			backoff = c.cfg.FollowBackoff
		}
		if res.Reconnects >= c.cfg.FollowReconnects {
			return nil, &upstream.Error{Service: Service, Op: "websocket", Err: fmt.Errorf("gave up after %d reconnects: %w", res.Reconnects, err)}
		}
		res.Reconnects++
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// errStop wraps an error from the progress callback.
var errStop = errors.New("stopped by callback")

type stopError struct{ err error }

func (e *stopError) Error() string        { return e.err.Error() }
func (e *stopError) Unwrap() error        { return e.err }
func (e *stopError) Is(target error) bool { return target == errStop }

func isPermanentHandshake(err error) bool {
	var ue *upstream.Error
	return errors.As(err, &ue) && ue.Status >= 400 && !ue.Retryable()
}

// followOnce runs one connection; got reports whether it delivered any
// message. It returns nil once the workload has ended (res filled in).
func (c *Client) followOnce(ctx context.Context, target string, res *FollowResult, onProgress func(context.Context, *Event) error) (got bool, err error) {
	dctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	conn, resp, err := websocket.Dial(dctx, target, &websocket.DialOptions{HTTPClient: c.http})
	cancel()
	if err != nil {
		if resp != nil && resp.StatusCode >= 400 {
			defer resp.Body.Close()
			return false, upstream.FromResponse(Service, "websocket", resp, parseError)
		}
		return false, upstream.FromTransport(Service, "websocket", err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(64 << 10)
	for {
		rctx, cancel := context.WithTimeout(ctx, followIdleTimeout)
		_, data, err := conn.Read(rctx)
		cancel()
		if err != nil {
			return got, fmt.Errorf("error reading websocket: %w", err)
		}
		got = true
		ev, ok := decodeEvent(data)
		if !ok {
			continue // an unreadable message is skipped, not fatal
		}
		// Type words are matched without regard to case; an unknown one is
		// skipped, so the workload counts as still running.
		switch strings.ToUpper(ev.Type) {
		case EventInProgress:
			if onProgress != nil {
				if err := onProgress(ctx, ev); err != nil {
					return got, &stopError{err: err}
				}
			}
		case EventCompleted:
			res.Completed, res.Link = true, ev.Link
			_ = conn.Close(websocket.StatusNormalClosure, "")
			return got, nil
		case EventError:
			res.Completed, res.Message = false, ev.Error
			_ = conn.Close(websocket.StatusNormalClosure, "")
			return got, nil
		}
	}
}

// decodeEvent reads one message leniently: a "message" that is text rather
// than progress (as an ERROR may carry) becomes the error text.
func decodeEvent(data []byte) (*Event, bool) {
	var raw struct {
		Type    string          `json:"type"`
		Message json.RawMessage `json:"message"`
		Link    string          `json:"link"`
		Error   json.RawMessage `json:"error"`
	}
	if json.Unmarshal(data, &raw) != nil {
		return nil, false
	}
	ev := &Event{Type: raw.Type, Link: raw.Link, Error: textOf(raw.Error)}
	var p Progress
	if len(raw.Message) > 0 && raw.Message[0] == '{' && json.Unmarshal(raw.Message, &p) == nil {
		ev.Message = &p
	} else if ev.Error == "" {
		ev.Error = textOf(raw.Message)
	}
	return ev, true
}

// textOf returns a JSON string's text, an object's "message", or "".
func textOf(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var o struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(raw, &o) == nil {
		return o.Message
	}
	return ""
}
