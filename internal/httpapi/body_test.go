package httpapi

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	_, err := w.Write(b)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return out.Bytes()
}

func TestIngestBody(t *testing.T) {
	t.Parallel()

	const limit = 64 << 10
	setupLimited := func(t *testing.T) *testBundle {
		return setup(t, &setupOpts{config: func(c *Config) {
			c.MaxBodyBytes = limit
			c.HeaderReadTimeout = time.Second
			c.BodyReadTimeout = time.Second
		}})
	}

	t.Run("Bombs", func(t *testing.T) {
		t.Parallel()
		b := setupLimited(t)
		deep := bytes.Repeat([]byte{0x91}, 50_000)
		bombs := map[string][]byte{
			"TopLevelArray32":    {0xdd, 0xff, 0xff, 0xff, 0xff},
			"TopLevelMap32":      {0xdf, 0xff, 0xff, 0xff, 0xff},
			"Str32":              {0xdb, 0xff, 0xff, 0xff, 0xff},
			"Bin32":              {0xc6, 0xff, 0xff, 0xff, 0xff},
			"Array16Chain":       bytes.Repeat([]byte{0xdc, 0xff, 0xff}, 20_000),
			"DeepNesting":        deep,
			"TruncatedBatch":     {0x92, 0x80},
			"JSONBytes":          []byte(`[{"app_id":"x"}]`),
			"TrailingGarbage":    append(pack(t, gameplay(b.appA.AppID.String(), 1)), 0xc1),
			"PositionsArray32":   append([]byte{0x81, 0xa9}, append([]byte("positions"), 0xdd, 0xff, 0xff, 0xff, 0xff)...),
			"CustomDataMap32":    append([]byte{0x81, 0xab}, append([]byte("custom_data"), 0xdf, 0xff, 0xff, 0xff, 0xff)...),
			"NestedInCustomData": append(append([]byte{0x81, 0xab}, []byte("custom_data")...), deep...),
		}
		for name, body := range bombs {
			resp := b.post(t, "/api/events", body, map[string]string{"x-public-token": b.appA.PublicToken})
			require.Equal(t, 400, resp.Status, "%s: %v", name, resp.Body)
			require.NotEmpty(t, resp.Body["message"], name)
		}
		require.Zero(t, b.lastSeq(t))
	})

	t.Run("ContentLengthOverLimit", func(t *testing.T) {
		t.Parallel()
		b := setupLimited(t)
		resp := b.post(t, "/api/events", make([]byte, limit+1), map[string]string{"x-public-token": b.appA.PublicToken})
		require.Equal(t, 413, resp.Status)
		require.Equal(t, "body_too_large", resp.Body["error"])
		require.Zero(t, b.lastSeq(t))
	})

	t.Run("ChunkedOverLimitClosesConnection", func(t *testing.T) {
		t.Parallel()
		b := setupLimited(t)
		conn, err := net.Dial("tcp", b.server.Listener.Addr().String())
		require.NoError(t, err)
		defer conn.Close()
		fmt.Fprintf(conn, "POST /api/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/msgpack\r\nx-public-token: %s\r\nTransfer-Encoding: chunked\r\n\r\n", b.appA.PublicToken)
		chunk := make([]byte, 16<<10)
		go func() {
			for range 8 {
				if _, err := fmt.Fprintf(conn, "%x\r\n%s\r\n", len(chunk), chunk); err != nil {
					return
				}
			}
			_, _ = io.WriteString(conn, "0\r\n\r\n")
		}()
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		require.NoError(t, err)
		require.Equal(t, 413, resp.StatusCode)
		require.True(t, resp.Close, "the connection is closed after a 413")
		require.Zero(t, b.lastSeq(t))
	})

	t.Run("GzipAccepted", func(t *testing.T) {
		t.Parallel()
		b := setupLimited(t)
		body := gz(t, pack(t, []any{gameplay(b.appA.AppID.String(), 1), gameplay(b.appA.AppID.String(), 2)}))
		resp := b.post(t, "/api/events", body, map[string]string{"x-public-token": b.appA.PublicToken, "content-encoding": "gzip"})
		require.Equal(t, 200, resp.Status, resp.Body)
		require.Len(t, b.streamEvents(t), 2)
	})

	t.Run("GzipBombIsTooLarge", func(t *testing.T) {
		t.Parallel()
		b := setupLimited(t)
		body := gz(t, make([]byte, 10*limit))
		require.Less(t, len(body), limit)
		resp := b.post(t, "/api/events", body, map[string]string{"x-public-token": b.appA.PublicToken, "content-encoding": "gzip"})
		require.Equal(t, 413, resp.Status)
	})

	t.Run("CorruptGzip", func(t *testing.T) {
		t.Parallel()
		b := setupLimited(t)
		resp := b.post(t, "/api/events", []byte("not gzip at all"), map[string]string{"x-public-token": b.appA.PublicToken, "content-encoding": "gzip"})
		require.Equal(t, 400, resp.Status)
		require.Equal(t, "invalid_gzip", resp.Body["error"])
	})

	t.Run("SlowlorisHeaders", func(t *testing.T) {
		t.Parallel()
		b := setupLimited(t)
		conn, err := net.Dial("tcp", b.server.Listener.Addr().String())
		require.NoError(t, err)
		defer conn.Close()
		closed := false
		partial := "POST /api/events HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 100)
		for i := 0; i < 100 && !closed; i++ {
			if _, err := conn.Write([]byte{partial[i]}); err != nil {
				closed = true
				break
			}
			require.NoError(t, conn.SetReadDeadline(time.Now().Add(200*time.Millisecond)))
			var one [512]byte
			n, err := conn.Read(one[:])
			if (err != nil && !isTimeout(err)) || n > 0 {
				closed = true // EOF, reset, or the server's 408 before closing
			}
		}
		require.True(t, closed, "the server must close a connection that trickles its headers")
	})

	t.Run("SlowlorisBody", func(t *testing.T) {
		t.Parallel()
		b := setupLimited(t)
		conn, err := net.Dial("tcp", b.server.Listener.Addr().String())
		require.NoError(t, err)
		defer conn.Close()
		fmt.Fprintf(conn, "POST /api/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/msgpack\r\nx-public-token: %s\r\nContent-Length: 1000\r\n\r\n", b.appA.PublicToken)
		closed := false
		for i := 0; i < 100 && !closed; i++ {
			if _, err := conn.Write([]byte{0x80}); err != nil {
				closed = true
				break
			}
			require.NoError(t, conn.SetReadDeadline(time.Now().Add(200*time.Millisecond)))
			var buf [512]byte
			_, err := conn.Read(buf[:])
			if err != nil && !isTimeout(err) {
				closed = true
			}
		}
		require.True(t, closed, "the server must cut off a body trickled past the read deadline")
	})
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
