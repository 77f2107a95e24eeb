package generaitiv_test

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"

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
	for addr, forbidden := range map[string]bool{
		"127.0.0.1": true, "10.1.2.3": true, "172.16.0.1": true, "192.168.1.1": true, "169.254.169.254": true,
		"100.64.0.1": true, "0.0.0.0": true, "::1": true, "fe80::1": true, "fc00::1": true, "::ffff:10.0.0.1": true,
		"64:ff9b::a00:1": true, "224.0.0.1": true, "8.8.8.8": false, "1.1.1.1": false, "2606:4700:4700::1111": false,
	} {
		require.Equal(t, forbidden, generaitiv.Forbidden(netip.MustParseAddr(addr)) != "", addr)
	}
}
