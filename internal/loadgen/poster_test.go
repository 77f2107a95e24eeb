package loadgen

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestReadResponse(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		name     string
		raw      string
		status   int
		keep     bool
		wantErr  bool
		leftover string
	}{
		{"ContentLength", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" + "NEXT", 200, true, false, "NEXT"},
		{"Chunked", "HTTP/1.1 429 Too Many Requests\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nTrailer: t\r\n\r\nNEXT", 429, true, false, "NEXT"},
		{"ConnectionClose", "HTTP/1.1 413 Request Entity Too Large\r\nconnection: Close\r\ncontent-length: 2\r\n\r\n{}", 413, false, false, ""},
		{"HTTP10", "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 200, false, false, ""},
		{"UntilEOF", "HTTP/1.1 200 OK\r\n\r\nbody to the end", 200, false, false, ""},
		{"NotHTTP", "SSH-2.0-OpenSSH\r\n", 0, false, true, ""},
		{"BadLength", "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", 200, false, true, ""},
		{"Truncated", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 200, false, true, ""},
		{"Empty", "", 0, false, true, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			br := bufio.NewReader(strings.NewReader(tt.raw))
			status, keep, err := readResponse(br)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.status, status)
			require.Equal(t, tt.keep, keep)
			rest, _ := io.ReadAll(br)
			require.Equal(t, tt.leftover, string(rest))
		})
	}
}

func TestFastPoster(t *testing.T) {
	t.Parallel()

	t.Run("ReusesConnectionsAndSendsTheHeaders", func(t *testing.T) {
		t.Parallel()

		var conns atomic.Int64
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			if r.Header.Get("Content-Type") != "application/msgpack" || r.Header.Get("X-Public-Token") != "pk_test" ||
				r.URL.Path != "/api/events" || string(body) != "payload" {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			_, _ = w.Write([]byte(`{"status":"queued"}`))
		}))
		srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		}
		srv.Start()
		t.Cleanup(srv.Close)
		u, _ := url.Parse(srv.URL + "/api/events")
		p := newPoster(u, "pk_test", netip.MustParseAddr("127.1.2.3"), 1, 5*time.Second)
		t.Cleanup(p.close)
		for range 5 {
			status, err := p.post(context.Background(), []byte("payload"))
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, status)
		}
		require.EqualValues(t, 1, conns.Load(), "one keep-alive connection")
	})

	t.Run("ClosedPosterFails", func(t *testing.T) {
		t.Parallel()

		srv := httptest.NewServer(http.NotFoundHandler())
		t.Cleanup(srv.Close)
		u, _ := url.Parse(srv.URL)
		p := newPoster(u, "pk", netip.Addr{}, 1, time.Second)
		status, err := p.post(context.Background(), nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusNotFound, status)
		p.close()
		_, err = p.post(context.Background(), nil)
		require.Error(t, err)
	})

	t.Run("Timeout", func(t *testing.T) {
		t.Parallel()

		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
		t.Cleanup(func() { close(release); srv.Close() })
		u, _ := url.Parse(srv.URL)
		p := newPoster(u, "pk", netip.Addr{}, 1, 50*time.Millisecond)
		t.Cleanup(p.close)
		_, err := p.post(context.Background(), []byte("x"))
		require.Equal(t, "timeout", classify(err))
	})
}

func TestStdPoster(t *testing.T) {
	t.Parallel()

	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Public-Token") != "pk" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	p := newPoster(u, "pk", netip.Addr{}, 1, time.Second)
	std, ok := p.(*stdPoster)
	require.True(t, ok, "https goes through net/http")
	std.client = srv.Client() // trusts the test certificate
	status, err := p.post(context.Background(), []byte("x"))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	p.close()
}
