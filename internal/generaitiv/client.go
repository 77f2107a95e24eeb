// Package generaitiv is a typed client of the Generaitiv API
// (Generaitiv's API documentation): search, tokens, uploads, users, collections,
// trainings and AI generations, a websocket follower for generations
// without a webhook, and an SSRF-guarded downloader for the images behind
// completion links.
//
// Errors are *upstream.Error: 429 and 5xx are retryable and carry the
// Retry-After; 402 (payment required) and other 4xx are permanent. A
// client-side token bucket per API key keeps a fleet of workers under the
// upstream's rate limit rather than running into 429 on purpose.
package generaitiv

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/gamepipe/gamepipe/internal/upstream"
)

// Service names this upstream in errors.
const Service = "generaitiv"

// Config configures a Client.
type Config struct {
	// BaseURL is the REST API, such as https://api.generaitiv.xyz/v1/.
	// Required.
	BaseURL string
	// WSURL is the websocket endpoint. Empty derives it from BaseURL: the
	// scheme becomes ws or wss, a host named api.* becomes ws.*, and the
	// path is /.
	WSURL string
	// APIKey is the Bearer key. WithKey makes a client for another key.
	APIKey string
	// RequestTimeout bounds one REST call. Defaults to 30s.
	RequestTimeout time.Duration
	// RateLimit is the most requests per second sent with one key.
	// Defaults to 5, below the upstream's rate limit.
	RateLimit float64
	// RateBurst is the burst allowed above RateLimit. Defaults to 10.
	RateBurst int
	// TenantShare is the fraction (0 to 1] of RateLimit and RateBurst one
	// tenant may use of a key it shares with others (ForTenant). Defaults
	// to 1: no bound.
	TenantShare float64
	// FollowReconnects is how many times Follow reconnects a websocket
	// that drops before the workload ends. Defaults to 10.
	FollowReconnects int
	// FollowBackoff is the first pause before a reconnect; it doubles up to
	// 5s. Defaults to 250ms.
	FollowBackoff time.Duration
	// AllowHosts are host:port values the SSRF guard lets through even on
	// private or loopback addresses (the configured upstreams); a bare host
	// means port 443. The host and port of BaseURL and WSURL (the scheme's
	// port when the URL names none) are always added.
	AllowHosts []string
	// Transport carries REST calls to BaseURL. Defaults to a clone of
	// http.DefaultTransport.
	Transport http.RoundTripper
	// KeyLimiter, when set, spaces each key's calls, and each tenant's
	// calls with a key, in place of this process's buckets, so that the
	// key's rate and each tenant's share of it hold across every process
	// sharing the key (the worker's is kept in Postgres). RateLimit,
	// RateBurst and TenantShare are then the limiter's to apply.
	KeyLimiter KeyLimiter
}

// KeyLimiter spaces the calls made with one API key across processes.
type KeyLimiter interface {
	// Reserve takes the next call slot for key, on behalf of tenant
	// (empty: none; else bounded to its share of the key), and returns how
	// long to wait before the call. When the slot is too far off to wait
	// for, it takes nothing and returns ok false with the wait until the
	// next slot.
	Reserve(ctx context.Context, key, tenant string) (wait time.Duration, ok bool, err error)
}

// ClientRateLimited is the Code of the *upstream.Error a call returns,
// unsent, when the shared KeyLimiter has no slot for it soon: a 429 of our
// own, with RetryAfter, handled as the upstream's would be.
const ClientRateLimited = "client_rate_limited"

// Client calls the Generaitiv API with one API key.
type Client struct {
	cfg      Config
	base     *url.URL
	ws       *url.URL
	key      string
	http     *http.Client
	guarded  *http.Client
	limiters *limiters
	// lim is limiters' bucket for key.
	lim *rate.Limiter
	// tenant is who the calls are made for (ForTenant), empty for none;
	// tenantLim its own bucket on the key, taken before lim, when there is
	// no KeyLimiter.
	tenant    string
	tenantLim *rate.Limiter
}

// limiters holds one token bucket per API key, shared by every Client made
// from the same New.
type limiters struct {
	rate  rate.Limit
	burst int
	mu    sync.Mutex
	byKey map[[32]byte]*rate.Limiter

	tenantRate  rate.Limit
	tenantBurst int
	// byTenant holds the tenants' buckets by hash of key and tenant. It
	// grows with the tenants seen; a bucket idle long enough to be full
	// again is dropped when the map passes maxTenantBuckets.
	byTenant map[[32]byte]*rate.Limiter
}

// maxTenantBuckets bounds the tenant buckets kept in one process.
const maxTenantBuckets = 10000

func (l *limiters) getTenant(key, tenant string) *rate.Limiter {
	h := sha256.Sum256([]byte(key + "\x00" + tenant))
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byTenant == nil {
		l.byTenant = map[[32]byte]*rate.Limiter{}
	}
	lim, ok := l.byTenant[h]
	if !ok {
		if len(l.byTenant) >= maxTenantBuckets {
			now := time.Now()
			for k, v := range l.byTenant {
				if v.TokensAt(now) >= float64(l.tenantBurst) {
					delete(l.byTenant, k)
				}
			}
		}
		lim = rate.NewLimiter(l.tenantRate, l.tenantBurst)
		l.byTenant[h] = lim
	}
	return lim
}

func (l *limiters) get(key string) *rate.Limiter {
	h := sha256.Sum256([]byte(key))
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.byKey[h]
	if !ok {
		lim = rate.NewLimiter(l.rate, l.burst)
		l.byKey[h] = lim
	}
	return lim
}

// New validates cfg and builds a Client.
func New(cfg *Config) (*Client, error) {
	c := *cfg
	c.RequestTimeout = cmp.Or(c.RequestTimeout, 30*time.Second)
	c.RateLimit = cmp.Or(c.RateLimit, 5)
	c.RateBurst = cmp.Or(c.RateBurst, 10)
	c.TenantShare = cmp.Or(c.TenantShare, 1)
	if c.TenantShare < 0 || c.TenantShare > 1 {
		return nil, fmt.Errorf("generaitiv: TenantShare must be in (0, 1], got %v", c.TenantShare)
	}
	c.FollowReconnects = cmp.Or(c.FollowReconnects, 10)
	c.FollowBackoff = cmp.Or(c.FollowBackoff, 250*time.Millisecond)
	base, err := url.Parse(c.BaseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("generaitiv: BaseURL %q is not an absolute http(s) URL", c.BaseURL)
	}
	if !strings.HasSuffix(base.Path, "/") {
		base.Path += "/"
	}
	ws, err := wsURL(base, c.WSURL)
	if err != nil {
		return nil, err
	}
	c.AllowHosts = append(append([]string{}, c.AllowHosts...), hostPort(base), hostPort(ws))
	if c.Transport == nil {
		c.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	cl := &Client{
		cfg:      c,
		base:     base,
		ws:       ws,
		key:      c.APIKey,
		http:     &http.Client{Transport: c.Transport},
		guarded:  &http.Client{Transport: NewGuard(c.AllowHosts).Transport(), CheckRedirect: checkRedirect},
		limiters: &limiters{rate: rate.Limit(c.RateLimit), burst: c.RateBurst, byKey: map[[32]byte]*rate.Limiter{}},
	}
	cl.limiters.tenantRate = rate.Limit(c.RateLimit * c.TenantShare)
	cl.limiters.tenantBurst = max(1, int(float64(c.RateBurst)*c.TenantShare))
	cl.lim = cl.limiters.get(cl.key)
	return cl, nil
}

// hostPort is u's host and port, the scheme's default port when u names
// none.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "443"
		if u.Scheme == "http" || u.Scheme == "ws" {
			port = "80"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

func wsURL(base *url.URL, given string) (*url.URL, error) {
	if given != "" {
		u, err := url.Parse(given)
		if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
			return nil, fmt.Errorf("generaitiv: WSURL %q is not an absolute ws(s) URL", given)
		}
		return u, nil
	}
	u := &url.URL{Scheme: "ws", Host: base.Host, Path: "/"}
	if base.Scheme == "https" {
		u.Scheme = "wss"
	}
	if rest, ok := strings.CutPrefix(base.Host, "api."); ok {
		u.Host = "ws." + rest
	}
	return u, nil
}

// WithKey returns a client using key, sharing this one's connections and
// rate limiters. An empty key returns c itself.
func (c *Client) WithKey(key string) *Client {
	if key == "" || key == c.key {
		return c
	}
	cp := *c
	cp.key, cp.lim, cp.tenant, cp.tenantLim = key, c.limiters.get(key), "", nil
	return &cp
}

// ForTenant returns a client on the same key whose calls for tenant also
// take from the tenant's own bucket, TenantShare of the key's rate and
// burst: tenants sharing a key cannot use more than that share of it each,
// so one tenant's flood leaves the rest of the key's rate to the others.
// The bucket is the KeyLimiter's when there is one (shared by every
// process), else this process's.
func (c *Client) ForTenant(tenant string) *Client {
	cp := *c
	cp.tenant = tenant
	if c.cfg.KeyLimiter == nil {
		cp.tenantLim = c.limiters.getTenant(c.key, tenant)
	}
	return &cp
}

// waitKey waits for the key's next call slot: the shared KeyLimiter's
// when configured, else this process's bucket. A slot further off than
// the limiter waits for is an *upstream.Error 429 with RetryAfter, so a
// job snoozes rather than holding its worker.
func (c *Client) waitKey(ctx context.Context, op string) error {
	if c.cfg.KeyLimiter == nil {
		if err := c.lim.Wait(ctx); err != nil {
			return fmt.Errorf("error waiting for the generaitiv rate limiter: %w", err)
		}
		return nil
	}
	wait, ok, err := c.cfg.KeyLimiter.Reserve(ctx, c.key, c.tenant)
	if err != nil {
		return fmt.Errorf("error waiting for the generaitiv rate limiter: %w", err)
	}
	if !ok {
		return &upstream.Error{
			Service: Service, Op: op, Status: http.StatusTooManyRequests, Code: ClientRateLimited,
			Message: "not sent: the API key's shared rate limit has no slot soon", RetryAfter: wait,
		}
	}
	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("error waiting for the generaitiv rate limiter: %w", ctx.Err())
	case <-t.C:
		return nil
	}
}

// do sends one REST call to path (relative to BaseURL, already escaped): rate limited, Bearer auth, JSON in and out, its
// own timeout. A non-2xx answer is an *upstream.Error.
func (c *Client) do(ctx context.Context, method, op, path string, query url.Values, in, out any) error {
	if c.tenantLim != nil {
		if err := c.tenantLim.Wait(ctx); err != nil {
			return fmt.Errorf("error waiting for the generaitiv rate limiter: %w", err)
		}
	}
	if err := c.waitKey(ctx, op); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	u, err := url.Parse(c.base.String() + path)
	if err != nil {
		return fmt.Errorf("error building %s: %w", op, err)
	}
	u.RawQuery = query.Encode()
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("error encoding %s: %w", op, err)
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return fmt.Errorf("error building %s: %w", op, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return upstream.FromTransport(Service, op, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return upstream.FromResponse(Service, op, resp, parseError)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(out); err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return upstream.FromTransport(Service, op, err)
		}
		return &upstream.Error{Service: Service, Op: op, Status: resp.StatusCode, Message: "undecodable response: " + err.Error()}
	}
	return nil
}

// seg escapes one path segment; a segment of dots is escaped too, so an id
// can never climb out of its route.
func seg(s string) string {
	e := url.PathEscape(s)
	if strings.Trim(e, ".") == "" {
		e = strings.ReplaceAll(e, ".", "%2E")
	}
	return e
}

// parseError reads {"error":code,"message":text}, or {"message":text}.
func parseError(body []byte) (code, message string) {
	var e struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) != nil {
		return "", ""
	}
	return e.Error, e.Message
}

// IsPaymentRequired reports a 402: generations need a subscription.
func IsPaymentRequired(err error) bool { return upstream.IsStatus(err, http.StatusPaymentRequired) }

// IsConflict reports a 409, such as creating a token whose id is taken.
func IsConflict(err error) bool { return upstream.IsStatus(err, http.StatusConflict) }

// IsNotFound reports a 404.
func IsNotFound(err error) bool { return upstream.IsStatus(err, http.StatusNotFound) }
