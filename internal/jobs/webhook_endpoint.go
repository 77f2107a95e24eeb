package jobs

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"github.com/gamepipe/gamepipe/internal/generaitiv"
	"github.com/gamepipe/gamepipe/internal/store"
)

// WebhookURLError says why a webhook endpoint's URL is refused; its message
// is safe to show the app.
type WebhookURLError struct{ Reason string }

func (e *WebhookURLError) Error() string { return "webhook url: " + e.Reason }

// maxWebhookURLLength caps an endpoint's URL.
const maxWebhookURLLength = 2048

// CheckWebhookURL refuses a URL gamepipe must not deliver to: not https, or
// naming or resolving to a loopback, private, link-local or metadata
// address (the image downloads' guard, generaitiv.Forbidden). With
// allowPrivate (WEBHOOK_ALLOW_PRIVATE, for local development) plain http
// and private addresses pass. The same check runs again when a delivery
// dials, since DNS can change in between. It returns the URL as stored.
func CheckWebhookURL(ctx context.Context, raw string, allowPrivate bool) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" || len(raw) > maxWebhookURLLength {
		return "", &WebhookURLError{Reason: fmt.Sprintf("must be an absolute https URL of at most %d characters", maxWebhookURLLength)}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return "", &WebhookURLError{Reason: "must be an absolute https URL"}
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && allowPrivate:
	default:
		return "", &WebhookURLError{Reason: "must use https"}
	}
	if u.User != nil {
		return "", &WebhookURLError{Reason: "must not carry credentials"}
	}
	u.Fragment = ""
	if allowPrivate {
		return u.String(), nil
	}
	host := u.Hostname()
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else if ips, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host); err != nil {
		return "", &WebhookURLError{Reason: fmt.Sprintf("host %s does not resolve", host)}
	}
	for _, ip := range ips {
		if reason := generaitiv.Forbidden(ip); reason != "" {
			return "", &WebhookURLError{Reason: fmt.Sprintf("host %s is a %s (%s); gamepipe delivers to public addresses only", host, reason, ip)}
		}
	}
	return u.String(), nil
}

// WebhookEventKinds are the job kinds that have events.
var WebhookEventKinds = []string{"emote", "generation"}

// CheckWebhookEventTypes refuses an empty list or an unknown type. Known
// types are "<kind>.<status>" for every status of the kind (docs/jobs.md),
// "<kind>.*", "*", and "webhook.ping" (sent by the test route whatever the
// list holds). It returns the list without duplicates.
func CheckWebhookEventTypes(types []string) ([]string, error) {
	if len(types) == 0 {
		return nil, fmt.Errorf("list at least one event type (for example %q or %q)", "emote.*", "generation.succeeded")
	}
	var out []string
	for _, t := range types {
		if !knownWebhookEventType(t) {
			return nil, fmt.Errorf("unknown event type %q: use <kind>.<status> or <kind>.* with kind emote or generation (docs/webhooks.md)", t)
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

func knownWebhookEventType(t string) bool {
	if t == "*" {
		return true
	}
	kind, status, ok := strings.Cut(t, ".")
	if !ok {
		return false
	}
	var statuses []store.JobStatus
	switch kind {
	case "emote":
		statuses = store.EmoteStatuses
	case "generation":
		statuses = store.GenerationStatuses
	default:
		return false
	}
	return status == "*" || store.JobStatus(status).ValidFor(statuses)
}
