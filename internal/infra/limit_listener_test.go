package infra

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLimitListener(t *testing.T) {
	t.Parallel()

	t.Run("AcceptWaitsForAFreeSlot", func(t *testing.T) {
		t.Parallel()
		inner, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		ln := LimitListener(inner, 2)
		t.Cleanup(func() { ln.Close() })
		accepted := make(chan net.Conn, 3)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				accepted <- c
			}
		}()
		for range 3 {
			c, err := net.Dial("tcp", inner.Addr().String())
			require.NoError(t, err) // the kernel completes the handshake
			t.Cleanup(func() { c.Close() })
		}
		first, second := <-accepted, <-accepted
		select {
		case <-accepted:
			t.Fatal("a third connection was accepted while two were open")
		case <-time.After(200 * time.Millisecond):
		}
		// Closing twice frees one slot, not two.
		require.NoError(t, first.Close())
		_ = first.Close()
		select {
		case c := <-accepted:
			require.NoError(t, c.Close())
		case <-time.After(20 * time.Second):
			t.Fatal("the waiting connection was not accepted once a slot was free")
		}
		require.NoError(t, second.Close())
	})

	t.Run("CloseWakesAWaitingAccept", func(t *testing.T) {
		t.Parallel()
		inner, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		ln := LimitListener(inner, 1)
		c, err := net.Dial("tcp", inner.Addr().String())
		require.NoError(t, err)
		defer c.Close()
		held, err := ln.Accept()
		require.NoError(t, err)
		defer held.Close()
		errc := make(chan error, 1)
		go func() {
			_, err := ln.Accept()
			errc <- err
		}()
		require.NoError(t, ln.Close())
		select {
		case err := <-errc:
			require.ErrorIs(t, err, net.ErrClosed)
		case <-time.After(20 * time.Second):
			t.Fatal("Accept still waits after Close")
		}
	})

	t.Run("NoLimit", func(t *testing.T) {
		t.Parallel()
		inner, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer inner.Close()
		require.Same(t, inner, LimitListener(inner, 0))
	})
}

func TestServeLimited(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	srv := &http.Server{Addr: addr, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}), ReadHeaderTimeout: time.Minute}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeLimited(ctx, srv, 5*time.Second, 1) }()

	// Each request on its own connection, closed after the answer.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	get := func() (string, error) {
		resp, err := client.Get("http://" + addr + "/")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	require.Eventually(t, func() bool { _, err := get(); return err == nil }, 20*time.Second, 20*time.Millisecond)

	// A silent connection holds the only slot: a request waits until it
	// goes.
	silent, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	got := make(chan string, 1)
	go func() {
		body, err := get()
		if err != nil {
			body = err.Error()
		}
		got <- body
	}()
	select {
	case body := <-got:
		t.Fatalf("answered while the only slot was held: %q", body)
	case <-time.After(200 * time.Millisecond):
	}
	require.NoError(t, silent.Close())
	select {
	case body := <-got:
		require.Equal(t, "ok", body)
	case <-time.After(20 * time.Second):
		t.Fatal("not answered once the slot was free")
	}

	cancel()
	select {
	case err := <-done:
		require.True(t, err == nil || errors.Is(err, http.ErrServerClosed), "%v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("ServeLimited did not return")
	}
}
