package devrun

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/natstest"
	"github.com/gamepipe/gamepipe/internal/natstest/roletest"
	"github.com/gamepipe/gamepipe/internal/testutil"
)

// runFakeNATS serves just enough of the NATS protocol (INFO, then PONG for
// every PING) for a client to connect, announcing version. It stands in for
// the machine's Debian nats-server 2.9.x, which an in-process nats-server/v2
// cannot impersonate: its version is a constant.
func runFakeNATS(t *testing.T, version string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	port := ln.Addr().(*net.TCPAddr).Port
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				fmt.Fprintf(conn, "INFO {\"server_id\":\"FAKE\",\"server_name\":\"fake\",\"version\":%q,\"proto\":1,\"go\":\"go1.19\",\"host\":\"127.0.0.1\",\"port\":%d,\"headers\":true,\"max_payload\":1048576}\r\n", version, port)
				sc := bufio.NewScanner(conn)
				for sc.Scan() {
					if strings.HasPrefix(sc.Text(), "PING") {
						fmt.Fprint(conn, "PONG\r\n")
					}
				}
			}()
		}
	}()
	return fmt.Sprintf("nats://127.0.0.1:%d", port)
}

func TestDecideNATS_TooOldServerIsNotUsed(t *testing.T) {
	t.Parallel()
	url := runFakeNATS(t, "2.9.10")
	d := DecideNATS(context.Background(), url, eventstream.Credentials{}, 2*time.Second)
	require.False(t, d.Use)
	require.Equal(t, "2.9.10", d.Version)
	host := strings.TrimPrefix(url, "nats://")
	require.Equal(t, "nats 2.9.10 at "+host+" is older than "+eventstream.MinServerVersion, d.Reason)
}

func TestDecideNATS_PinnedServerIsUsed(t *testing.T) {
	t.Parallel()
	s := natstest.Run(t)
	d := DecideNATS(context.Background(), s.ClientURL(), eventstream.Credentials{}, 2*time.Second)
	require.True(t, d.Use, d.Reason)
	require.Equal(t, server.VERSION, d.Version)
	require.Empty(t, d.Reason)
}

func TestDecideNATS_NoJetStreamIsNotUsed(t *testing.T) {
	t.Parallel()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	require.NoError(t, err)
	go s.Start()
	require.True(t, s.ReadyForConnections(10*time.Second))
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })

	d := DecideNATS(context.Background(), s.ClientURL(), eventstream.Credentials{}, 2*time.Second)
	require.False(t, d.Use)
	require.Contains(t, d.Reason, "JetStream")
}

func TestDecideNATS_UnreachableIsNotUsed(t *testing.T) {
	t.Parallel()
	addr := testutil.DownAddr(t)

	d := DecideNATS(context.Background(), "nats://user:secret@"+addr, eventstream.Credentials{}, time.Second)
	require.False(t, d.Use)
	require.Empty(t, d.Version)
	require.Equal(t, "no nats server answers at "+addr, d.Reason)
	require.NotContains(t, d.Reason, "secret")
}

// TestDecideNATS_ClosedServer: a server that admits only the role users
// will do with the api's credentials, and not without them.
func TestDecideNATS_ClosedServer(t *testing.T) {
	t.Parallel()
	s := roletest.Run(t)
	d := DecideNATS(context.Background(), s.ClientURL(), roletest.Credentials(eventstream.RoleAPI), 2*time.Second)
	require.True(t, d.Use, d.Reason)

	d = DecideNATS(context.Background(), s.ClientURL(), eventstream.Credentials{}, 2*time.Second)
	require.False(t, d.Use)
	require.Contains(t, d.Reason, "Authorization Violation")
	d = DecideNATS(context.Background(), s.ClientURL(), eventstream.Credentials{User: "api", Password: "hunter2"}, 2*time.Second)
	require.False(t, d.Use)
	require.NotContains(t, d.Reason, "hunter2")
}

func TestDisplayURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"nats://127.0.0.1:4222":                 "127.0.0.1:4222",
		"nats://u:p@10.0.0.1:4222":              "10.0.0.1:4222",
		"127.0.0.1:4222":                        "127.0.0.1:4222",
		"nats://a:4222, nats://b:4222":          "a:4222,b:4222",
		"tls://user:pass@nats.example.com:4443": "nats.example.com:4443",
		"nats://%zz":                            "NATS_URL",
	} {
		require.Equal(t, want, displayURL(in), in)
	}
}
