package eventstream

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// MinServerVersion is the oldest nats-server gamepipe runs against. The
// version gamepipe is tested with is the nats-server/v2 module pinned in
// go.mod; `make run` starts that one when NATS_URL names none new enough.
const MinServerVersion = "2.10.0"

// CheckServer returns a clear error when the connected server is older than
// MinServerVersion or has JetStream disabled.
func CheckServer(ctx context.Context, nc *nats.Conn) error {
	v := nc.ConnectedServerVersion()
	if !VersionAtLeast(v, MinServerVersion) {
		return fmt.Errorf("nats-server %s at %s is too old: gamepipe needs %s or newer with JetStream (make run starts its own)", v, nc.ConnectedUrlRedacted(), MinServerVersion)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("error creating jetstream context: %w", err)
	}
	if _, err := js.AccountInfo(ctx); err != nil {
		return fmt.Errorf("nats-server %s at %s has no usable JetStream: %w", v, nc.ConnectedUrlRedacted(), err)
	}
	return nil
}

// VersionAtLeast compares dotted versions ("2.9.10" < "2.10.0"); a suffix
// such as "-beta" is ignored and an unparsable version is too old.
func VersionAtLeast(have, want string) bool {
	h, ok1 := parseVersion(have)
	w, ok2 := parseVersion(want)
	if !ok1 || !ok2 {
		return false
	}
	for i := range h {
		if h[i] != w[i] {
			return h[i] > w[i]
		}
	}
	return true
}

func parseVersion(v string) ([3]int, bool) {
	var out [3]int
	v = strings.TrimPrefix(v, "v")
	if i := strings.IndexAny(v, "-+"); i >= 0 {
		v = v[:i]
	}
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return out, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			return out, false
		}
		out[i] = n
	}
	return out, true
}
