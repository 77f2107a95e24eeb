package jobs

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river"

	"github.com/gamepipe/gamepipe/internal/generaitiv"
	"github.com/gamepipe/gamepipe/internal/store"
)

// QueueWebhooks is the queue of webhook deliveries.
const QueueWebhooks = store.WebhookQueue

// WebhookDeps configure the deliveries (docs/webhooks.md).
type WebhookDeps struct {
	// AllowPrivate lets deliveries dial plain http and private addresses
	// (WEBHOOK_ALLOW_PRIVATE), for local development.
	AllowPrivate bool
	// PublicBaseURL, when set (PUBLIC_BASE_URL), makes a generation's
	// image_url absolute in the payloads (store.JobEventBody); without it
	// the URL is relative to the api.
	PublicBaseURL string
	// Timeout bounds one try, answer included. Defaults to 10s.
	Timeout time.Duration
	// RetrySchedule are the waits after each failed try; the last repeats.
	// Defaults to DefaultWebhookRetrySchedule. Each wait is jittered by up
	// to a tenth either way.
	RetrySchedule []time.Duration
	// DisableAfter disables an endpoint whose deliveries have all failed
	// for this long. Defaults to 3 days.
	DisableAfter time.Duration
	// Fault is called at FaultWebhookSent with the delivery's id (tests).
	Fault FaultFunc
}

// DefaultWebhookRetrySchedule is how long a failed delivery waits before
// each next try: seven retries over about a day and a half.
var DefaultWebhookRetrySchedule = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute,
	2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// webhookResponseLogBytes is how much of an answer is kept in the log;
// webhookResponseReadMax how much is read at all before the connection is
// dropped.
const (
	webhookResponseLogBytes = 1 << 10
	webhookResponseReadMax  = 64 << 10
)

func (d *WebhookDeps) withDefaults() *WebhookDeps {
	c := WebhookDeps{}
	if d != nil {
		c = *d
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if len(c.RetrySchedule) == 0 {
		c.RetrySchedule = DefaultWebhookRetrySchedule
	}
	if c.DisableAfter <= 0 {
		c.DisableAfter = 72 * time.Hour
	}
	return &c
}

// WebhookDeliverWorker sends one delivery: signed as the Standard Webhooks
// specification says, through the SSRF guard of the image downloads, no
// redirect followed. A 2xx succeeds; 410 Gone disables the endpoint; any
// other answer, a timeout or a connection error is retried on the schedule.
type WebhookDeliverWorker struct {
	river.WorkerDefaults[store.WebhookDeliverArgs]
	deps   *Deps
	cfg    *WebhookDeps
	client *http.Client
}

func newWebhookDeliverWorker(deps *Deps) *WebhookDeliverWorker {
	cfg := deps.Webhooks.withDefaults()
	var transport *http.Transport
	if cfg.AllowPrivate {
		transport = &http.Transport{Proxy: nil, DialContext: (&net.Dialer{Timeout: cfg.Timeout}).DialContext,
			MaxIdleConns: 20, IdleConnTimeout: 90 * time.Second, ForceAttemptHTTP2: true}
	} else {
		transport = generaitiv.NewGuard(nil).Transport()
	}
	transport.ResponseHeaderTimeout = cfg.Timeout
	return &WebhookDeliverWorker{deps: deps, cfg: cfg, client: &http.Client{
		Transport: transport,
		Timeout:   cfg.Timeout,
		// A redirect is an answer like any other: not followed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// NextRetry waits the schedule's next step, jittered.
func (w *WebhookDeliverWorker) NextRetry(job *river.Job[store.WebhookDeliverArgs]) time.Time {
	i := min(max(job.Attempt-1, 0), len(w.cfg.RetrySchedule)-1)
	wait := w.cfg.RetrySchedule[i]
	jitter := time.Duration(rand.Int64N(int64(wait)/5+1)) - wait/10
	return time.Now().Add(wait + jitter)
}

// Timeout leaves room past the try's own timeout to log it.
func (w *WebhookDeliverWorker) Timeout(*river.Job[store.WebhookDeliverArgs]) time.Duration {
	return w.cfg.Timeout + 5*time.Second
}

// errWebhookRetry is returned so River retries the delivery on the
// schedule; the try itself is in the delivery's log.
var errWebhookRetry = errors.New("webhook delivery failed; retrying")

// Work sends the delivery once and logs the try. A delivery already
// succeeded is not sent again (a duplicate job); an endpoint disabled or
// deleted receives nothing.
func (w *WebhookDeliverWorker) Work(ctx context.Context, job *river.Job[store.WebhookDeliverArgs]) error {
	d, e, err := store.WebhookDeliveryForSend(ctx, w.deps.Pool, w.deps.Secrets, job.Args.DeliveryID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if d.Status == store.DeliverySucceeded {
		return nil
	}
	logger := w.deps.Logger.With().Str("delivery_id", d.ID.String()).Str("endpoint_id", e.ID.String()).Logger()
	if !e.Enabled {
		logger.Info().Msg("jobs.webhooks: endpoint disabled; delivery dropped")
		_, err := store.WebhookDeliveryRecord(ctx, w.deps.Pool, d, &store.WebhookOutcome{Status: store.DeliveryFailed,
			Attempt: &store.WebhookAttempt{At: w.deps.Now(), Error: "not sent: the endpoint is disabled"}})
		return err
	}
	a := w.send(ctx, d, e)
	if err := w.cfg.Fault.at(FaultWebhookSent, d.ID); err != nil {
		return err
	}
	o := &store.WebhookOutcome{Attempt: a, Status: store.DeliveryPending, FailingFor: w.cfg.DisableAfter}
	switch {
	case a.StatusCode >= 200 && a.StatusCode < 300:
		o.Status, o.Answered = store.DeliverySucceeded, true
	case a.StatusCode == http.StatusGone:
		o.Status, o.Disable = store.DeliveryFailed, "the endpoint answered 410 Gone"
	case job.Attempt >= job.MaxAttempts:
		o.Status = store.DeliveryFailed
	}
	disabled, err := store.WebhookDeliveryRecord(context.WithoutCancel(ctx), w.deps.Pool, d, o)
	if err != nil {
		return err
	}
	if disabled != "" {
		logger.Warn().Str("reason", disabled).Msg("jobs.webhooks: endpoint disabled")
		o.Status = store.DeliveryFailed
	}
	if o.Status == store.DeliveryPending {
		logger.Info().Int("status", a.StatusCode).Str("error", a.Error).Int("attempt", job.Attempt).
			Msg("jobs.webhooks: delivery failed; retrying")
		return errWebhookRetry
	}
	return nil
}

// send makes one try: the Standard Webhooks headers, the body as stored
// with its image URL made absolute (store.JobEventBody), and signed so.
func (w *WebhookDeliverWorker) send(ctx context.Context, d *store.WebhookDelivery, e *store.WebhookEndpoint) *store.WebhookAttempt {
	start := w.deps.Now()
	a := &store.WebhookAttempt{At: start}
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	msgID := WebhookMessageID(d.EventID.String())
	ts := strconv.FormatInt(start.Unix(), 10)
	body := store.JobEventBody(d.Body, w.cfg.PublicBaseURL)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(body))
	if err != nil {
		a.Error = "invalid url"
		return a
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "gamepipe-webhooks/1")
	req.Header.Set("webhook-id", msgID)
	req.Header.Set("webhook-timestamp", ts)
	req.Header.Set("webhook-signature", WebhookSignature(e.Secrets(start), msgID, ts, body))
	resp, err := w.client.Do(req)
	if err != nil {
		a.Duration = w.deps.Now().Sub(start)
		a.Error = webhookErrorText(err)
		return a
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, webhookResponseLogBytes))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, webhookResponseReadMax))
	a.Duration = w.deps.Now().Sub(start)
	a.StatusCode = resp.StatusCode
	a.Response = strings.ToValidUTF8(string(head), string(utf8.RuneError))
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		a.Error = "answered " + resp.Status
	}
	return a
}

// webhookErrorText describes a failed try without the URL's query (which
// may carry the receiver's own token).
func webhookErrorText(err error) string {
	var u *generaitiv.UnsafeLinkError
	switch {
	case errors.As(err, &u):
		return "refused: " + u.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	}
	var ne *net.OpError
	if errors.As(err, &ne) {
		return "connection error: " + ne.Error()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return "error: " + ue.Err.Error()
	}
	return "error: " + err.Error()
}

// WebhookMessageID is the webhook-id of an event: the same on every try.
func WebhookMessageID(eventID string) string {
	return "msg_" + strings.ReplaceAll(eventID, "-", "")
}

// WebhookSignature is the webhook-signature header: "v1,<base64 HMAC-SHA256
// of id.timestamp.body>" for each secret, space-separated.
func WebhookSignature(secrets []string, msgID, ts string, body []byte) string {
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, store.WebhookSecretPrefix))
		if err != nil {
			continue // never stored so: NewWebhookSecret writes base64
		}
		mac := hmac.New(sha256.New, key)
		fmt.Fprintf(mac, "%s.%s.", msgID, ts)
		mac.Write(body)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return strings.Join(sigs, " ")
}
