// Package kinetix is a typed client of the Kinetix user-generated-emote API
// (Kinetix's UGC emote API routes): plans, process tokens, processes, validation and
// retake, token status and the developer QR code. Every call takes a
// context and has its own timeout; uploads are streamed from the caller's
// reader. Failures are *upstream.Error values (Retryable tells 429, 5xx and
// network failures from permanent 4xx; RetryAfter carries the upstream's
// Retry-After), wrapped in a sentinel below where the error code is one the
// page docs/upstreams-kinetix.md names.
package kinetix

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gamepipe/gamepipe/internal/upstream"
)

// service names Kinetix in upstream errors.
const service = "kinetix"

// Config configures a Client.
type Config struct {
	// BaseURL is the API root, such as https://sdk-api.kinetix.tech.
	// Required.
	BaseURL string
	// APIKey is sent as x-api-key (the virtual world's key). WithAPIKey
	// makes a copy with another key.
	APIKey string
	// HTTPClient makes the requests. Defaults to a client with a pooled
	// transport and no overall timeout (each call has its own).
	HTTPClient *http.Client
	// Timeout bounds each call but uploads. Defaults to 30s.
	Timeout time.Duration
	// UploadTimeout bounds POST /v1/process, video included. Defaults to 10
	// minutes.
	UploadTimeout time.Duration
}

// Client calls the Kinetix API. It is safe for concurrent use.
type Client struct {
	base          *url.URL
	key           string
	gameKey       string // x-api-key of POST /v1/plans; empty: key
	userNS        string // see WithUserNamespace
	http          *http.Client
	timeout       time.Duration
	uploadTimeout time.Duration
}

// New validates cfg and returns a Client.
func New(cfg *Config) (*Client, error) {
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("kinetix: BaseURL must be an http(s) URL, got %q", cfg.BaseURL)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 64
		hc = &http.Client{Transport: t}
	}
	// Never follow a redirect: it would carry x-api-key and x-api-token to
	// whatever host the Location names. A 3xx is returned as an error.
	noRedirect := *hc
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	hc = &noRedirect
	return &Client{
		base:          base,
		key:           cfg.APIKey,
		http:          hc,
		timeout:       cmp.Or(cfg.Timeout, 30*time.Second),
		uploadTimeout: cmp.Or(cfg.UploadTimeout, 10*time.Minute),
	}, nil
}

// WithAPIKey returns a copy of the client that sends key as x-api-key (an
// app's own virtual world). The copies share connections.
func (c *Client) WithAPIKey(key string) *Client {
	cp := *c
	cp.key = key
	return &cp
}

// request is one call.
type request struct {
	op      string // "POST /v1/process", for errors
	method  string
	path    string
	query   url.Values
	header  http.Header
	body    io.Reader
	length  int64 // body length, -1 unknown
	timeout time.Duration
}

// send makes the call and returns the 2xx response; the caller closes its
// body and then calls cancel. Non-2xx answers become errors.
func (c *Client) send(ctx context.Context, req *request) (*http.Response, context.CancelFunc, error) {
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(req.timeout, c.timeout))
	u := c.base.JoinPath(req.path)
	u.RawQuery = req.query.Encode()
	hr, err := http.NewRequestWithContext(ctx, req.method, u.String(), req.body)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("error building kinetix request %s: %w", req.op, err)
	}
	if req.body != nil {
		hr.ContentLength = req.length
	}
	hr.Header.Set("X-Api-Key", c.key)
	for k, v := range req.header {
		hr.Header[k] = v
	}
	if hr.Header.Get("Content-Type") == "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(hr)
	if err != nil {
		cancel()
		return nil, nil, upstream.FromTransport(service, req.op, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer cancel()
		defer resp.Body.Close()
		return nil, nil, errorFor(req.op, resp)
	}
	return resp, cancel, nil
}

// call makes a JSON call and decodes the answer into out.
func (c *Client) call(ctx context.Context, req *request, out any) error {
	resp, cancel, err := c.send(ctx, req)
	if err != nil {
		return err
	}
	defer cancel()
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(out); err != nil {
		if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
			return upstream.FromTransport(service, req.op, err)
		}
		return &upstream.Error{Service: service, Op: req.op, Status: resp.StatusCode,
			Message: "undecodable response: " + err.Error()}
	}
	return nil
}

// userRequest is a GET whose userId goes, as the document has it, in a JSON
// body, and also in the query string for proxies that drop GET bodies. The
// player's userID is sent in the client's namespace (WithUserNamespace).
func (c *Client) userRequest(op, path, userID string) *request {
	userID = c.UpstreamUserID(userID)
	body, _ := json.Marshal(map[string]string{"userId": userID})
	return &request{op: op, method: http.MethodGet, path: path, query: url.Values{"userId": {userID}},
		body: bytes.NewReader(body), length: int64(len(body))}
}
