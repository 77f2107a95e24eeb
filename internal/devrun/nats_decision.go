package devrun

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gamepipe/gamepipe/internal/eventstream"
)

// NATSDecision is whether the NATS server at a URL will do for gamepipe.
type NATSDecision struct {
	// Use is true when the server is reachable, at least
	// eventstream.MinServerVersion, and has JetStream.
	Use bool
	// Version is the server's version, if it was reachable.
	Version string
	// Reason says why the server will not do, in a few words fit for one
	// line ("nats 2.9.10 at 127.0.0.1:4222 is older than 2.10.0").
	Reason string
}

// DecideNATS connects to rawURL with creds (as the api would: its inbox
// prefix), waiting at most timeout, and checks the server with
// eventstream.CheckServer. It never fails: an unreachable or unfit server,
// or one that refuses creds, is a decision not to use it.
func DecideNATS(ctx context.Context, rawURL string, creds eventstream.Credentials, timeout time.Duration) NATSDecision {
	where := displayURL(rawURL)
	opts, err := eventstream.ConnectOptions(eventstream.RoleAPI, creds)
	if err != nil {
		return NATSDecision{Reason: fmt.Sprintf("no usable nats at %s (%v)", where, err)}
	}
	nc, err := nats.Connect(rawURL, append(opts,
		nats.Name("gamepipe-devrun"),
		nats.Timeout(timeout),
		nats.NoReconnect(),
	)...)
	if errors.Is(err, nats.ErrNoServers) {
		return NATSDecision{Reason: "no nats server answers at " + where}
	}
	if err != nil {
		return NATSDecision{Reason: fmt.Sprintf("no usable nats at %s (%v)", where, err)}
	}
	defer nc.Close()

	d := NATSDecision{Version: nc.ConnectedServerVersion()}
	if !eventstream.VersionAtLeast(d.Version, eventstream.MinServerVersion) {
		d.Reason = fmt.Sprintf("nats %s at %s is older than %s", d.Version, where, eventstream.MinServerVersion)
		return d
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := eventstream.CheckServer(ctx, nc); err != nil {
		d.Reason = fmt.Sprintf("nats %s at %s will not do: %v", d.Version, where, err)
		return d
	}
	d.Use = true
	return d
}

// displayURL shortens a NATS URL (or a comma-separated list of them) to its
// host:port parts, which also leaves out any credentials.
func displayURL(raw string) string {
	var hosts []string
	for part := range strings.SplitSeq(raw, ",") {
		part = strings.TrimSpace(part)
		if !strings.Contains(part, "://") {
			part = "nats://" + part
		}
		u, err := url.Parse(part)
		if err != nil || u.Host == "" {
			return "NATS_URL"
		}
		hosts = append(hosts, u.Host)
	}
	return strings.Join(hosts, ",")
}
