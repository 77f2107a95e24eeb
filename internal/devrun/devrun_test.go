package devrun

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/config"
	"github.com/gamepipe/gamepipe/internal/devrun/natsd"
	"github.com/gamepipe/gamepipe/internal/natstest"
	"github.com/gamepipe/gamepipe/internal/testutil"
)

// stubGamepipe stands in for bin/gamepipe: migrate prints a line (failing if
// $STUB_DIR/fail-migrate exists), apps create prints credentials and counts
// its calls in $STUB_DIR/apps-created.
const stubGamepipe = `#!/bin/sh
case "$1" in
migrate)
	[ -e "$STUB_DIR/fail-migrate" ] && { echo "migrate: cannot connect" >&2; exit 1; }
	echo "migrated, NATS_URL=$NATS_URL" >&2 ;;
apps)
	echo x >> "$STUB_DIR/apps-created"
	echo "INF created app" >&2
	echo '` + demoJSON + `' ;;
*) exit 2 ;;
esac
`

// stubService stands in for api, worker, exporter: it records its NATS_URL,
// LOG_FORMAT and NATS credentials, says it is up, and exits 0 on SIGTERM (or 3 at once if
// $STUB_DIR/fail-<name> exists).
const stubService = `#!/bin/sh
name=$(basename "$0")
trap 'echo "$name stopping"; exit 0' TERM
[ -e "$STUB_DIR/fail-$name" ] && { echo "$name: fatal" >&2; exit 3; }
echo "NATS_URL=$NATS_URL LOG_FORMAT=$LOG_FORMAT DATA_DIR=$DATA_DIR" > "$STUB_DIR/$name.env"
echo "NATS_USER=$NATS_USER NATS_PASSWORD=$NATS_PASSWORD NATS_PASSWORD_FILE=$NATS_PASSWORD_FILE" > "$STUB_DIR/$name.nats"
echo "$name up"
while :; do sleep 0.05; done
`

type stubStack struct {
	cfg     *Config
	stubDir string
	out     *testutil.SyncBuffer
}

// newStubStack writes stand-in binaries and a Config that uses them, with an
// api address a test listener already serves so that the demo app prints at
// once.
func newStubStack(t *testing.T, natsURL string) *stubStack {
	t.Helper()
	requireSh(t)
	root := t.TempDir()
	binDir, stubDir := filepath.Join(root, "bin"), filepath.Join(root, "stub")
	require.NoError(t, os.MkdirAll(binDir, 0o755))
	require.NoError(t, os.MkdirAll(stubDir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(binDir, "gamepipe"), []byte(stubGamepipe), 0o755))
	for _, name := range services {
		require.NoError(t, os.WriteFile(filepath.Join(binDir, name), []byte(stubService), 0o755))
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })

	return &stubStack{
		cfg: &Config{
			BinDir:      binDir,
			DataDir:     filepath.Join(root, "data"),
			NATSURL:     natsURL,
			HTTPAddr:    ln.Addr().String(),
			StopTimeout: 5 * time.Second,
			Env:         append(os.Environ(), "STUB_DIR="+stubDir, "LOG_FORMAT="),
		},
		stubDir: stubDir,
		out:     &testutil.SyncBuffer{},
	}
}

// start runs the stack until the returned stop is called, which returns
// Run's error.
func (s *stubStack) start(t *testing.T) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Run(ctx, s.cfg, s.out) }()
	t.Cleanup(cancel)
	return func() error {
		cancel()
		select {
		case err := <-errc:
			return err
		case <-time.After(30 * time.Second):
			t.Fatal("Run did not return")
			return nil
		}
	}
}

// waitOutput waits until the output contains want.
func (s *stubStack) waitOutput(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(s.out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("output never contained %q:\n%s", want, s.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *stubStack) file(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.stubDir, name))
	require.NoError(t, err)
	return string(b)
}

func TestRun_ExistingNATS(t *testing.T) {
	t.Parallel()
	nats := natstest.Run(t)
	s := newStubStack(t, nats.ClientURL())
	// The operator's credentials are checked and passed on unchanged.
	s.cfg.Env = append(s.cfg.Env, "NATS_USER=ops", "NATS_PASSWORD=ops-pw")
	s.cfg.NATSAuth = config.NATSAuth{User: "ops", Password: "ops-pw"}

	stop := s.start(t)
	s.waitOutput(t, "curl -sS")
	for _, name := range services {
		s.waitOutput(t, fmt.Sprintf("%-8s | %s up\n", name, name))
	}
	require.NoError(t, stop())

	out := s.out.String()
	require.Contains(t, out, "devrun   | using nats "+natsd.Version+" at "+strings.TrimPrefix(nats.ClientURL(), "nats://")+" (auth password)\n")
	require.NotContains(t, out, "ops-pw")
	require.Contains(t, out, "migrate  | migrated, NATS_URL="+nats.ClientURL()+"\n")
	require.Contains(t, out, "gamepipe | INF created app\n", "apps create's stderr is shown")
	require.NotContains(t, out, "gamepipe | {", "its stdout is read, not shown")
	require.Contains(t, out, "devrun   | created demo app 72ab8f81-ef36-4712-a046-399a62b9afaa\n")
	require.Contains(t, out, "    public_token  pt_1\n")
	require.Contains(t, out, "-H 'x-public-token: pt_1' --data-binary @"+filepath.Join(s.cfg.DataDir, DemoEventFile)+"\n")
	require.Contains(t, out, "devrun   | stopping (Ctrl-C again to kill everything now)\n")
	for _, name := range services {
		require.Contains(t, out, fmt.Sprintf("%-8s | %s stopping\n", name, name))
		require.Equal(t, "NATS_URL="+nats.ClientURL()+" LOG_FORMAT=console DATA_DIR="+s.cfg.DataDir+"\n", s.file(t, name+".env"))
		require.Equal(t, "NATS_USER=ops NATS_PASSWORD=ops-pw NATS_PASSWORD_FILE=\n", s.file(t, name+".nats"))
	}
	_, err := os.Stat(filepath.Join(s.cfg.DataDir, NATSAuthDir))
	require.ErrorIs(t, err, os.ErrNotExist, "no users made for a server devrun did not start")
	require.True(t, strings.HasSuffix(out, "devrun   | stopped\n"), out)

	st, err := os.Stat(filepath.Join(s.cfg.DataDir, DemoAppFile))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	_, err = os.Stat(filepath.Join(s.cfg.DataDir, DemoEventFile))
	require.NoError(t, err)

	// A second start reuses the demo app and prints it again.
	s.out = &testutil.SyncBuffer{}
	stop = s.start(t)
	s.waitOutput(t, "curl -sS")
	require.NoError(t, stop())
	require.Equal(t, "x\n", s.file(t, "apps-created"), "apps create ran once")
	require.Contains(t, s.out.String(), "    secret_key    sk_1\n")
	require.NotContains(t, s.out.String(), "created demo app")
}

func TestRun_ChildFails(t *testing.T) {
	t.Parallel()
	nats := natstest.Run(t)
	s := newStubStack(t, nats.ClientURL())
	require.NoError(t, os.WriteFile(filepath.Join(s.stubDir, "fail-exporter"), nil, 0o644))

	err := Run(context.Background(), s.cfg, s.out)
	var exitErr *ExitError
	require.ErrorAs(t, err, &exitErr)
	require.Equal(t, "exporter", exitErr.Name)
	out := s.out.String()
	require.Contains(t, out, "exporter | exporter: fatal\n")
	require.Contains(t, out, "devrun   | exporter exited: exit status 3; stopping the others\n")
	require.NotContains(t, out, "devrun   | stopped")
}

func TestRun_MigrateFails(t *testing.T) {
	t.Parallel()
	nats := natstest.Run(t)
	s := newStubStack(t, nats.ClientURL())
	require.NoError(t, os.WriteFile(filepath.Join(s.stubDir, "fail-migrate"), nil, 0o644))

	err := Run(context.Background(), s.cfg, s.out)
	require.EqualError(t, err, "gamepipe migrate failed: exit status 1")
	require.Contains(t, s.out.String(), "migrate  | migrate: cannot connect\n")
	_, err = os.Stat(filepath.Join(s.stubDir, "api.env"))
	require.ErrorIs(t, err, os.ErrNotExist, "no service started")
}

func TestRun_MissingBinary(t *testing.T) {
	t.Parallel()
	s := newStubStack(t, "nats://127.0.0.1:1")
	require.NoError(t, os.Remove(filepath.Join(s.cfg.BinDir, "worker")))
	err := Run(context.Background(), s.cfg, s.out)
	require.ErrorContains(t, err, filepath.Join(s.cfg.BinDir, "worker")+" is missing: build it first")
}

// TestRun_StartsNatsdForOldServer runs the real cmd/natsd against a NATS_URL
// whose server is 2.9.10, as on these machines.
func TestRun_StartsNatsdForOldServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/natsd")
	}
	t.Parallel()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build cmd/natsd")
	}
	old := runFakeNATS(t, "2.9.10")
	s := newStubStack(t, old)
	build := exec.Command(goBin, "build", "-o", filepath.Join(s.cfg.BinDir, "natsd"), "github.com/gamepipe/gamepipe/cmd/natsd")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	s.cfg.NATSDPort = testutil.FreePort(t)
	local := fmt.Sprintf("nats://127.0.0.1:%d", s.cfg.NATSDPort)

	// The developer's credentials are for another server: not passed on.
	s.cfg.Env = append(s.cfg.Env, "NATS_USER=ops", "NATS_PASSWORD=ops-pw")
	s.cfg.NATSAuth = config.NATSAuth{User: "ops", Password: "ops-pw"}

	stop := s.start(t)
	s.waitOutput(t, "curl -sS")
	for _, name := range services {
		s.waitOutput(t, fmt.Sprintf("%-8s | %s up\n", name, name))
	}
	// natsd admits each service as its role's user, and nobody else.
	authDir := filepath.Join(s.cfg.DataDir, NATSAuthDir)
	for _, name := range services {
		pwFile := filepath.Join(authDir, name+".password")
		require.Equal(t, "NATS_USER="+name+" NATS_PASSWORD= NATS_PASSWORD_FILE="+pwFile+"\n", s.file(t, name+".nats"))
		st, err := os.Stat(pwFile)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
		pw, err := os.ReadFile(pwFile)
		require.NoError(t, err)
		nc, err := nats.Connect(local, nats.UserInfo(name, strings.TrimSpace(string(pw))))
		require.NoError(t, err, name)
		nc.Close()
	}
	_, err = nats.Connect(local, nats.MaxReconnects(0))
	require.ErrorIs(t, err, nats.ErrAuthorization, "a client without credentials is refused")
	require.NoError(t, stop())

	got := s.out.String()
	require.Contains(t, got, "devrun   | natsd admits only api, worker and exporter, each allowed its own subjects (passwords in "+authDir+")\n")
	require.Contains(t, got, fmt.Sprintf("devrun   | nats 2.9.10 at %s is older than 2.10.0; starting pinned nats-server %s on :%d\n",
		strings.TrimPrefix(old, "nats://"), natsd.Version, s.cfg.NATSDPort))
	require.Contains(t, got, "migrate  | migrated, NATS_URL="+local+"\n")
	require.Contains(t, s.file(t, "worker.env"), "NATS_URL="+local+" ")
	// natsd stops last: after every service said goodbye.
	natsdStop := strings.Index(got, "natsd: shutting down")
	require.Greater(t, natsdStop, 0, got)
	for _, name := range services {
		require.Less(t, strings.Index(got, name+" stopping"), natsdStop, "%s stopped before natsd", name)
	}
	_, err = os.Stat(filepath.Join(s.cfg.DataDir+"-nats", "jetstream"))
	require.NoError(t, err, "natsd's store is beside DATA_DIR")
	_, err = os.Stat(filepath.Join(s.cfg.DataDir, "nats"))
	require.ErrorIs(t, err, os.ErrNotExist, "natsd's store is not in DATA_DIR")
}
