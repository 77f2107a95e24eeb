package generaitiv_test

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/generaitiv"
)

// countingListener records accepted connections.
type countingListener struct {
	net.Listener
	accepts atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepts.Add(1)
	}
	return c, err
}

func TestOpenImage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	// listen starts a loopback server that is NOT a configured upstream.
	listen := func(t *testing.T, h http.HandlerFunc) *countingListener {
		t.Helper()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		cl := &countingListener{Listener: ln}
		srv := &http.Server{Handler: h}
		go func() { _ = srv.Serve(cl) }()
		t.Cleanup(func() { _ = srv.Close() })
		return cl
	}
	pngBytes := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00")

	t.Run("AllowedUpstreamOnLoopback", func(t *testing.T) {
		t.Parallel()
		ln := listen(t, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "image/png")
			_, _ = w.Write(pngBytes)
		})
		bundle := setup(t, nil, &generaitiv.Config{AllowHosts: []string{ln.Addr().String()}})
		img, err := bundle.client.OpenImage(ctx, "http://"+ln.Addr().String()+"/x.png", 1<<10)
		require.NoError(t, err)
		require.NoError(t, img.Body.Close())
		require.Equal(t, int32(1), ln.accepts.Load())
	})

	t.Run("ContentTypeChecked", func(t *testing.T) {
		t.Parallel()
		ln := listen(t, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "image/png")
			_, _ = w.Write([]byte("<html>not an image</html>"))
		})
		bundle := setup(t, nil, &generaitiv.Config{AllowHosts: []string{ln.Addr().String()}})
		_, err := bundle.client.OpenImage(ctx, "http://"+ln.Addr().String()+"/x.png", 1<<10)
		require.ErrorIs(t, err, generaitiv.ErrNotImage)

		ln2 := listen(t, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write(pngBytes)
		})
		bundle = setup(t, nil, &generaitiv.Config{AllowHosts: []string{ln2.Addr().String()}})
		_, err = bundle.client.OpenImage(ctx, "http://"+ln2.Addr().String()+"/x.png", 1<<10)
		require.ErrorIs(t, err, generaitiv.ErrNotImage)
	})

	t.Run("ForbiddenAddressesRefusedAtDialTime", func(t *testing.T) {
		t.Parallel()
		ln := listen(t, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "image/png")
			_, _ = w.Write(pngBytes)
		})
		bundle := setup(t, nil, nil) // the simulator is allowed; ln is not
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		for _, link := range []string{
			"http://127.0.0.1:" + port + "/x",
			"http://localhost:" + port + "/x", // a name that resolves to loopback
			"http://[::ffff:127.0.0.1]:" + port + "/x",
			"http://169.254.169.254/latest/meta-data/",
			"http://10.0.0.1/x",
			"http://0.0.0.0:" + port + "/x",
			"file:///etc/passwd",
			"http://user:pw@example.com/x",
		} {
			_, err := bundle.client.OpenImage(ctx, link, 1<<10)
			require.ErrorIs(t, err, generaitiv.ErrUnsafeLink, link)
		}
		require.Zero(t, ln.accepts.Load(), "no connection reached the forbidden listener")
	})

	t.Run("RedirectToForbiddenAddressRefused", func(t *testing.T) {
		t.Parallel()
		target := listen(t, func(w http.ResponseWriter, _ *http.Request) {})
		front := listen(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://"+target.Addr().String()+"/x", http.StatusFound)
		})
		bundle := setup(t, nil, &generaitiv.Config{AllowHosts: []string{front.Addr().String()}})
		_, err := bundle.client.OpenImage(ctx, "http://"+front.Addr().String()+"/x", 1<<10)
		require.ErrorIs(t, err, generaitiv.ErrUnsafeLink)
		require.Zero(t, target.accepts.Load())
	})

	t.Run("SizeCapped", func(t *testing.T) {
		t.Parallel()
		big := append(append([]byte{}, pngBytes...), make([]byte, 4096)...)
		ln := listen(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "image/png")
			if r.URL.Query().Get("chunked") != "" {
				w.(http.Flusher).Flush() // no Content-Length: the cap applies while reading
			} else {
				w.Header().Set("Content-Length", strconv.Itoa(len(big)))
			}
			_, _ = w.Write(big)
		})
		bundle := setup(t, nil, &generaitiv.Config{AllowHosts: []string{ln.Addr().String()}})
		_, err := bundle.client.OpenImage(ctx, "http://"+ln.Addr().String()+"/x.png", 1024)
		require.ErrorIs(t, err, generaitiv.ErrImageTooLarge)
		img, err := bundle.client.OpenImage(ctx, "http://"+ln.Addr().String()+"/x.png?chunked=1", 1024)
		require.NoError(t, err)
		defer img.Body.Close()
		buf := make([]byte, 8192)
		var readErr error
		total := 0
		for readErr == nil {
			var n int
			n, readErr = img.Body.Read(buf)
			total += n
		}
		require.ErrorIs(t, readErr, generaitiv.ErrImageTooLarge)
		require.LessOrEqual(t, total, 1024)
	})
}

func TestForbidden(t *testing.T) {
	t.Parallel()

	t.Run("SpecialPurposeRanges", func(t *testing.T) {
		t.Parallel()
		// One address inside each range that is not globally reachable,
		// and its edges where the range is small enough to get wrong.
		for _, addr := range []string{
			"0.0.0.0", "0.255.255.255", "10.0.0.1", "10.255.255.255", "100.64.0.1", "100.127.255.255",
			"127.0.0.1", "127.255.255.254", "169.254.169.254", "172.16.0.1", "172.31.255.255",
			"192.0.0.1", "192.0.0.255", "192.0.2.1", "192.88.99.1", "192.168.1.1", "198.18.0.1",
			"198.19.255.255", "198.51.100.7", "203.0.113.9", "224.0.0.1", "239.255.255.255",
			"240.0.0.1", "255.255.255.254", "255.255.255.255",
			"::", "::1", "::ffff:10.0.0.1", "::ffff:127.0.0.1", "::ffff:100.64.0.1", "::10.0.0.1",
			"64:ff9b::a00:1", "64:ff9b::7f00:1", "64:ff9b:1::1", "100::1", "100::ffff:ffff:ffff:ffff",
			"2001::1", "2001:1ff:ffff::1", "2001:db8::1", "2002::1", "2002:808:808::1", "3fff::1",
			"5f00::1", "fc00::1", "fdff::1", "fe80::1", "febf::1", "fec0::1", "feff::1", "ff02::1",
			"ff0e::1", "4000::1", "::2",
		} {
			require.NotEmpty(t, generaitiv.Forbidden(netip.MustParseAddr(addr)), addr)
		}
	})

	t.Run("PublicAddressesAllowed", func(t *testing.T) {
		t.Parallel()
		for _, addr := range []string{
			"8.8.8.8", "1.1.1.1", "100.63.255.255", "100.128.0.1", "172.15.255.255", "172.32.0.1",
			"192.0.1.1", "192.88.98.1", "198.17.255.255", "198.20.0.1", "223.255.255.255",
			"::ffff:8.8.8.8", "64:ff9b::808:808", "2001:200::1", "2606:4700:4700::1111", "2a00:1450::1",
		} {
			require.Empty(t, generaitiv.Forbidden(netip.MustParseAddr(addr)), addr)
		}
	})
}

func TestGuardAllowList(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	listen := func(t *testing.T) (*countingListener, string) {
		t.Helper()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		cl := &countingListener{Listener: ln}
		go func() {
			for {
				c, err := cl.Accept()
				if err != nil {
					return
				}
				_ = c.Close()
			}
		}()
		t.Cleanup(func() { _ = ln.Close() })
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		return cl, port
	}

	t.Run("BareHostIsNotEveryPort", func(t *testing.T) {
		t.Parallel()
		ln, port := listen(t)
		g := generaitiv.NewGuard([]string{"localhost", "127.0.0.1"})
		for _, addr := range []string{"localhost:" + port, "127.0.0.1:" + port} {
			_, err := g.DialContext(ctx, "tcp", addr)
			require.ErrorIs(t, err, generaitiv.ErrUnsafeLink, addr)
		}
		require.Zero(t, ln.accepts.Load())
	})

	t.Run("ExactHostAndPort", func(t *testing.T) {
		t.Parallel()
		allowed, allowedPort := listen(t)
		other, otherPort := listen(t)
		g := generaitiv.NewGuard([]string{"127.0.0.1:" + allowedPort})
		conn, err := g.DialContext(ctx, "tcp", "127.0.0.1:"+allowedPort)
		require.NoError(t, err)
		require.NoError(t, conn.Close())
		require.Eventually(t, func() bool { return allowed.accepts.Load() == 1 }, 10*time.Second, 10*time.Millisecond)

		_, err = g.DialContext(ctx, "tcp", "127.0.0.1:"+otherPort)
		require.ErrorIs(t, err, generaitiv.ErrUnsafeLink)
		require.Zero(t, other.accepts.Load())
	})

	t.Run("UpstreamWithoutPortIsItsSchemePort", func(t *testing.T) {
		t.Parallel()
		ln, port := listen(t)
		// The client allows its BaseURL's host on the scheme's port only:
		// another port on the same host is refused like any loopback link.
		c, err := generaitiv.New(&generaitiv.Config{BaseURL: "http://localhost/v1/", APIKey: "k"})
		require.NoError(t, err)
		_, err = c.OpenImage(ctx, "http://localhost:"+port+"/x.png", 1<<10)
		require.ErrorIs(t, err, generaitiv.ErrUnsafeLink)
		require.Zero(t, ln.accepts.Load())
	})
}
