package kinetix

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

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

// WithGameAPIKey returns a copy of the client that sends key as x-api-key
// on POST /v1/plans, which takes the game's GameAPIKey where every other
// route takes a VirtualWorldKey. Empty (the default) sends the virtual
// world's key there too.
func (c *Client) WithGameAPIKey(key string) *Client {
	cp := *c
	cp.gameKey = key
	return &cp
}

// Plan is POST /v1/plans: the subscription plan, asked with the GameAPIKey
// (WithGameAPIKey), or the virtual world's key when none is set.
func (c *Client) Plan(ctx context.Context) (*Plan, error) {
	var raw json.RawMessage
	req := &request{op: "POST /v1/plans", method: http.MethodPost, path: "/v1/plans",
		body: bytes.NewReader([]byte("{}")), length: 2}
	if c.gameKey != "" {
		req.header = http.Header{"X-Api-Key": {c.gameKey}}
	}
	if err := c.call(ctx, req, &raw); err != nil {
		return nil, err
	}
	p := &Plan{Raw: raw}
	if err := json.Unmarshal(raw, p); err != nil {
		return nil, &upstream.Error{Service: service, Op: req.op, Status: http.StatusOK, Message: "undecodable plan: " + err.Error()}
	}
	return p, nil
}

// QRCode is the answer of GET /v1/process/dev-token as it came: an image
// of whatever type the upstream chose, or JSON carrying the URL to encode.
// The caller streams and closes Body; the call's timeout covers reading it.
type QRCode struct {
	Body        io.ReadCloser
	ContentType string
}

// DevTokenQR is GET /v1/process/dev-token: a QR code that lets the player
// create an emote from their phone. The document makes it for virtual
// world 1 unless a world's key is given, so the client's own key is always
// given (virtualWorldKey, in the body and the query). The document only
// says "a QR code": an image of any type is passed through with its
// Content-Type, and so is JSON (up to 64 KiB) holding an http(s) URL;
// anything else is an error.
func (c *Client) DevTokenQR(ctx context.Context, userID string) (*QRCode, error) {
	const op = "GET /v1/process/dev-token"
	uid := c.UpstreamUserID(userID)
	body, _ := json.Marshal(map[string]string{"userId": uid, "virtualWorldKey": c.key})
	req := &request{op: op, method: http.MethodGet, path: "/v1/process/dev-token",
		query: url.Values{"userId": {uid}, "virtualWorldKey": {c.key}},
		body:  bytes.NewReader(body), length: int64(len(body))}
	resp, cancel, err := c.send(ctx, req)
	if err != nil {
		return nil, err
	}
	ctype := resp.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ctype)
	switch {
	case strings.HasPrefix(mt, "image/"):
		return &QRCode{Body: &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}, ContentType: ctype}, nil
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		defer cancel()
		defer resp.Body.Close()
		raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if err != nil {
			return nil, upstream.FromTransport(service, op, err)
		}
		if !jsonHasURL(raw) {
			return nil, &upstream.Error{Service: service, Op: op, Status: resp.StatusCode,
				Message: "the QR code answer is JSON without an http(s) URL"}
		}
		return &QRCode{Body: io.NopCloser(bytes.NewReader(raw)), ContentType: ctype}, nil
	}
	resp.Body.Close()
	cancel()
	return nil, &upstream.Error{Service: service, Op: op, Status: resp.StatusCode,
		Message: "expected an image or JSON with a URL, got " + strconv.Quote(ctype)}
}

// jsonHasURL reports whether raw is JSON with an http(s) URL among its
// string values, at any depth.
func jsonHasURL(raw []byte) bool {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return false
	}
	var walk func(v any) bool
	walk = func(v any) bool {
		switch t := v.(type) {
		case string:
			u, err := url.Parse(t)
			return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
		case map[string]any:
			for _, e := range t {
				if walk(e) {
					return true
				}
			}
		case []any:
			for _, e := range t {
				if walk(e) {
					return true
				}
			}
		}
		return false
	}
	return walk(v)
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
