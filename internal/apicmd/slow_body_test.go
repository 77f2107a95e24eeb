package apicmd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/natstest"
	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/testutil"
)

// TestRunSlowBodies holds thousands of connections that each declare a
// body of MAX_BODY_BYTES and send it a byte at a time against a running
// api: its heap stays far below what the declared lengths add up to, and a
// normal client is still answered. Not parallel: it measures the heap of
// the test process, which the api runs in.
func TestRunSlowBodies(t *testing.T) {
	const (
		slowConns = 2500
		declared  = 1 << 20 // the default MAX_BODY_BYTES
		// maxGrowth bounds the heap's growth while the slow clients are
		// connected: each costs net/http a few KiB of buffers and the body
		// pool 4 KiB, all of them 2.4 GiB if their declared lengths were
		// reserved.
		maxGrowth = 256 << 20
	)
	ctx := context.Background()
	db := dbtest.NewSchema(t)
	ns := natstest.Run(t)
	app, err := store.AppCreate(ctx, db.Pool, "game")
	require.NoError(t, err)

	addr := testutil.FreeAddr(t)
	env := map[string]string{
		"DATABASE_URL": db.URL, "NATS_URL": ns.ClientURL(), "DATA_DIR": t.TempDir(),
		"HTTP_ADDR": addr, "METRICS_ADDR": testutil.FreeAddr(t), "LOG_FORMAT": "json", "LOG_LEVEL": "warn",
		// The clients all come from 127.0.0.1; in the field they come from
		// as many addresses (an IPv6 /64 each) as they like.
		"RATE_LIMIT_RPS": "1000000", "RATE_LIMIT_BURST": "1000000",
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- Run(runCtx, func(k string) string { return env[k] }, io.Discard) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(60 * time.Second):
			t.Fatal("api did not stop")
		}
	}()
	testutil.WaitReady(t, addr)

	event, err := msgpack.Marshal(map[string]any{
		"funnel_step_name": "Tutorial_Start", "app_id": app.AppID.String(), "build_id": "b", "player_id": "p",
		"session_id": "s", "timestamp": "2026-02-12T10:00:00Z",
	})
	require.NoError(t, err)
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	normal := func() int {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/api/funnel", bytes.NewReader(event))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/msgpack")
		req.Header.Set("x-public-token", app.PublicToken)
		resp, err := client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	// Also puts the token in the api's key cache.
	require.Equal(t, http.StatusOK, normal())

	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse
	}
	base := heap()
	requireBounded := func(what string) {
		t.Helper()
		h := heap()
		require.Less(t, h, base+maxGrowth, "%s: heap in use %d MiB, %d MiB before the slow clients", what, h>>20, base>>20)
		t.Logf("%s: heap in use %d MiB (%d MiB before)", what, h>>20, base>>20)
	}

	var mu sync.Mutex
	var conns []net.Conn
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	// One goroutine trickles a byte to every open connection, a round
	// every 200ms, until the test ends.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			mu.Lock()
			open := conns
			mu.Unlock()
			for _, c := range open {
				_ = c.SetWriteDeadline(time.Now().Add(time.Second))
				_, _ = c.Write([]byte{0})
			}
		}
	}()

	for i := range slowConns {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		_, err = fmt.Fprintf(c, "POST /api/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/msgpack\r\nx-public-token: %s\r\nContent-Length: %d\r\n\r\n\x00",
			app.PublicToken, declared)
		require.NoError(t, err)
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
		if (i+1)%500 == 0 {
			requireBounded(fmt.Sprintf("%d slow clients", i+1))
		}
	}

	require.Equal(t, http.StatusOK, normal(), "a normal client is answered while the slow ones are connected")
	requireBounded("after a normal request")

	// The slow clients were still waiting on the api, unanswered: else
	// the bound above would say nothing.
	waiting := 0
	for _, c := range conns[len(conns)-100:] {
		require.NoError(t, c.SetReadDeadline(time.Now().Add(time.Millisecond)))
		var b [1]byte
		if _, err := c.Read(b[:]); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				waiting++
			}
		}
	}
	require.Greater(t, waiting, 50, "most of the last slow clients are still sending their body")
}

// TestRunMaxConnections checks MAX_CONNECTIONS reaches the listener: with
// both slots held by silent connections a request waits, and is answered
// once one goes.
func TestRunMaxConnections(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.NewSchema(t)
	ns := natstest.Run(t)

	addr := testutil.FreeAddr(t)
	env := map[string]string{
		"DATABASE_URL": db.URL, "NATS_URL": ns.ClientURL(), "DATA_DIR": t.TempDir(),
		"HTTP_ADDR": addr, "METRICS_ADDR": testutil.FreeAddr(t), "LOG_FORMAT": "json", "MAX_CONNECTIONS": "2",
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- Run(runCtx, func(k string) string { return env[k] }, io.Discard) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(60 * time.Second):
			t.Fatal("api did not stop")
		}
	}()
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	healthz := func() error {
		resp, err := client.Get("http://" + addr + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	require.Eventually(t, func() bool { return healthz() == nil }, 20*time.Second, 50*time.Millisecond)

	// Two connections that have sent nothing yet hold both slots, for up
	// to the header timeout (5s).
	var silent []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		silent = append(silent, c)
	}
	answered := make(chan error, 1)
	go func() { answered <- healthz() }()
	select {
	case err := <-answered:
		t.Fatalf("answered while both slots were held: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	require.NoError(t, silent[0].Close())
	select {
	case err := <-answered:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("not answered once a slot was free")
	}
}
