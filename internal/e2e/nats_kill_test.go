package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/testutil"
)

// natsProcess is a nats-server in a subprocess (this test binary, see
// TestMain), on a fixed port and store directory so it can be killed and
// started again as the same server.
type natsProcess struct {
	t    *testing.T
	port int
	dir  string
	cmd  *exec.Cmd
}

func startNATSProcess(t *testing.T) *natsProcess {
	t.Helper()
	p := &natsProcess{t: t, port: testutil.FreePort(t), dir: t.TempDir()}
	p.start()
	t.Cleanup(func() {
		if p.cmd != nil && p.cmd.Process != nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
	})
	return p
}

func (p *natsProcess) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", p.port) }

func (p *natsProcess) start() {
	p.t.Helper()
	p.cmd = exec.Command(os.Args[0], "-test.run=^$")
	p.cmd.Env = append(os.Environ(), "GAMEPIPE_E2E_NATSD=1",
		fmt.Sprintf("GAMEPIPE_E2E_NATSD_PORT=%d", p.port), "GAMEPIPE_E2E_NATSD_DIR="+p.dir)
	require.NoError(p.t, p.cmd.Start())
	require.Eventually(p.t, func() bool {
		nc, err := nats.Connect(p.url(), nats.Timeout(200*time.Millisecond))
		if err != nil {
			return false
		}
		nc.Close()
		return true
	}, 20*time.Second, 50*time.Millisecond, "nats subprocess did not come up")
}

func (p *natsProcess) kill() {
	p.t.Helper()
	require.NoError(p.t, p.cmd.Process.Signal(syscall.SIGKILL))
	_ = p.cmd.Wait()
}

// TestNATSKilledUnderLoad is docs/reliability.md #3: a NATS process
// SIGKILLed mid-run and restarted on the same port and store; clients retry
// non-2xx answers; every event that got a 200 is in Postgres exactly once.
func TestNATSKilledUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos test")
	}
	t.Parallel()

	np := startNATSProcess(t)
	s := newStack(t, &stackOpts{natsURL: np.url()})
	app := s.app.AppID.String()

	const total, batch, workers = 2000, 10, 4
	events := make([]map[string]any, total)
	for i := range events {
		events[i] = gameplay(app, i)
		events[i]["event_id"] = uuid.NewString()
	}
	batches := make(chan []any, total/batch)
	for i := 0; i < total; i += batch {
		b := make([]any, batch)
		for j := range b {
			b[j] = events[i+j]
		}
		batches <- b
	}
	close(batches)

	var (
		accepted, failed atomic.Int64
		killOnce         sync.Once
		wg               sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for b := range batches {
				body := pack(t, b)
				ok := false
				for try := 0; try < 10 && !ok; try++ {
					status, _ := s.post(t, body)
					ok = status == 200
					if !ok {
						time.Sleep(time.Duration(try+1) * 200 * time.Millisecond) // client backoff, not a test wait
					}
				}
				if !ok {
					failed.Add(batch)
					continue
				}
				if accepted.Add(batch) >= total/4 {
					killOnce.Do(func() {
						np.kill()
						np.start()
					})
				}
			}
		})
	}
	wg.Wait()
	require.Zero(t, failed.Load(), "every event got its 200 within 10 tries")
	require.Equal(t, int64(total), accepted.Load())

	s.eventuallyCount(t, total, "SELECT count(*) FROM gameplay_events")
	require.Equal(t, total, s.count(t, "SELECT count(DISTINCT event_id) FROM gameplay_events"))
}
