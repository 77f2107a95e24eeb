package infra

import (
	"context"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/natstest"
)

// TestNATSServerList: NATS_URL may list several servers; the connection
// succeeds while one of them is down, and the list is printed redacted.
func TestNATSServerList(t *testing.T) {
	t.Parallel()
	ns := natstest.Run(t)
	// Port 1 on loopback refuses connections.
	list := "nats://127.0.0.1:1, " + ns.ClientURL()
	nc, err := NATS(context.Background(), zerolog.Nop(), list, eventstream.RoleAPI, eventstream.Credentials{})
	require.NoError(t, err)
	defer nc.Close()
	require.Equal(t, ns.ClientURL(), nc.ConnectedUrl())

	require.Equal(t, "nats://u:xxxxx@a:4222,nats://b:4222", redact("nats://u:hunter2@a:4222, nats://b:4222"))
}
