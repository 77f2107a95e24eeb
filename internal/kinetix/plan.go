package kinetix

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/gamepipe/gamepipe/internal/upstream"
)

// Plan is the subscription plan (POST /v1/plans). Raw is the upstream's
// whole answer.
type Plan struct {
	Plan           string          `json:"plan"`
	Name           string          `json:"name"`
	ValidationFlow bool            `json:"validationFlow"`
	Raw            json.RawMessage `json:"-"`
}

// Plan is POST /v1/plans: the key's subscription plan.
func (c *Client) Plan(ctx context.Context) (*Plan, error) {
	var raw json.RawMessage
	req := &request{op: "POST /v1/plans", method: http.MethodPost, path: "/v1/plans",
		body: bytes.NewReader([]byte("{}")), length: 2}
	if err := c.call(ctx, req, &raw); err != nil {
		return nil, err
	}
	p := &Plan{Raw: raw}
	if err := json.Unmarshal(raw, p); err != nil {
		return nil, &upstream.Error{Service: service, Op: req.op, Status: http.StatusOK, Message: "undecodable plan: " + err.Error()}
	}
	return p, nil
}

// DevTokenQR is GET /v1/process/dev-token: a PNG QR code that lets the
// player create an emote from their phone. The caller streams and closes
// the returned body; the call's timeout covers reading it.
func (c *Client) DevTokenQR(ctx context.Context, userID string) (io.ReadCloser, error) {
	const op = "GET /v1/process/dev-token"
	resp, cancel, err := c.send(ctx, c.userRequest(op, "/v1/process/dev-token", userID))
	if err != nil {
		return nil, err
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "image/png" {
		resp.Body.Close()
		cancel()
		return nil, &upstream.Error{Service: service, Op: op, Status: resp.StatusCode,
			Message: "expected image/png, got " + strconv.Quote(resp.Header.Get("Content-Type"))}
	}
	return &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}, nil
}

// cancelOnClose ends a call's context when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel func()
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}
