package httpapi

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"net"
	"net/http"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBodyPool(t *testing.T) {
	t.Parallel()

	t.Run("Classes", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, []int{4 << 10, 8 << 10, 16 << 10, 32 << 10, 64 << 10}, newBodyPool(64<<10, 1<<20).sizes)
		require.Equal(t, []int{4 << 10, 8 << 10, 10_000}, newBodyPool(10_000, 1<<20).sizes)
		require.Equal(t, []int{3000}, newBodyPool(3000, 1<<20).sizes)
	})

	t.Run("ReservesWhatItHolds", func(t *testing.T) {
		t.Parallel()
		p := newBodyPool(64<<10, 1<<20)
		body := bytes.Repeat([]byte("x"), 20_000)
		var b bodyBuf
		// One byte a read: the buffer grows as bytes come, one class at a
		// time, and only the class it is in stays reserved.
		require.NoError(t, p.readAll(iotest.OneByteReader(bytes.NewReader(body)), &b))
		require.Equal(t, body, b.bytes())
		require.Equal(t, int64(32<<10), p.budget.inUse())
		p.put(&b)
		require.Zero(t, p.budget.inUse())
		require.Equal(t, bodyBuf{}, b)
	})

	t.Run("ExactlyTheLimit", func(t *testing.T) {
		t.Parallel()
		p := newBodyPool(10_000, 1<<20)
		var b bodyBuf
		require.NoError(t, p.readAll(bytes.NewReader(make([]byte, 10_000)), &b))
		require.Len(t, b.bytes(), 10_000)
		p.put(&b)

		require.ErrorIs(t, p.readAll(bytes.NewReader(make([]byte, 10_001)), &b), errBodyFull)
		p.put(&b)
		require.Zero(t, p.budget.inUse())
	})

	t.Run("BudgetSpent", func(t *testing.T) {
		t.Parallel()
		p := newBodyPool(64<<10, 12<<10)
		var held bodyBuf
		require.NoError(t, p.readAll(bytes.NewReader(make([]byte, 5000)), &held)) // 8 KiB
		var b bodyBuf
		// 4 KiB fits, 8 KiB does not: what was read stays, the class too.
		require.ErrorIs(t, p.readAll(bytes.NewReader(make([]byte, 5000)), &b), errBodyBudget)
		require.Len(t, b.bytes(), 4<<10)
		require.Equal(t, int64(12<<10), p.budget.inUse())
		p.put(&b)
		p.put(&held)
		require.Zero(t, p.budget.inUse())
	})

	t.Run("ReadError", func(t *testing.T) {
		t.Parallel()
		p := newBodyPool(64<<10, 1<<20)
		var b bodyBuf
		require.ErrorIs(t, p.readAll(iotest.TimeoutReader(bytes.NewReader(make([]byte, 5000))), &b), iotest.ErrTimeout)
		p.put(&b)
		require.Zero(t, p.budget.inUse())
	})
}

// slowBody opens a connection to b's server and sends an ingestion
// request's headers, declaring contentLength, and then first, leaving the
// rest of the body unsent.
func slowBody(t *testing.T, b *testBundle, contentLength int, first []byte, header string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", b.server.Listener.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	_, err = fmt.Fprintf(conn, "POST /api/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/msgpack\r\nx-public-token: %s\r\n%sContent-Length: %d\r\n\r\n",
		b.appA.PublicToken, header, contentLength)
	require.NoError(t, err)
	_, err = conn.Write(first)
	require.NoError(t, err)
	return conn
}

func TestIngestBodyBudget(t *testing.T) {
	t.Parallel()

	inUse := func(b *testBundle) int64 { return b.api.bodies.budget.inUse() }

	t.Run("ReservationGrowsWithBytesRead", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &setupOpts{config: func(c *Config) { c.BodyReadTimeout = time.Minute }})
		// Declares a whole MiB, sends 100 bytes: holds the smallest class.
		conn := slowBody(t, b, 1<<20, make([]byte, 100), "")
		require.Eventually(t, func() bool { return inUse(b) == 4<<10 }, 20*time.Second, 10*time.Millisecond)
		_, err := conn.Write(make([]byte, 10<<10))
		require.NoError(t, err)
		require.Eventually(t, func() bool { return inUse(b) == 16<<10 }, 20*time.Second, 10*time.Millisecond)

		// Released when the client goes away, and after a whole request.
		require.NoError(t, conn.Close())
		require.Eventually(t, func() bool { return inUse(b) == 0 }, 20*time.Second, 10*time.Millisecond)
		resp := b.post(t, "/api/events", pack(t, gameplay(b.appA.AppID.String(), 1)), map[string]string{"x-public-token": b.appA.PublicToken})
		require.Equal(t, 200, resp.Status, resp.Body)
		require.Zero(t, inUse(b))
	})

	t.Run("GzipCountsDecompressedBytes", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &setupOpts{config: func(c *Config) {
			c.MaxBodyBytes = 64 << 10
			c.BodyReadTimeout = time.Minute
		}})
		// 40 KiB of zeros, flushed so all of it can be inflated, compress
		// to a few dozen bytes; the stream is left open.
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		_, err := zw.Write(make([]byte, 40<<10))
		require.NoError(t, err)
		require.NoError(t, zw.Flush())
		require.Less(t, z.Len(), 1<<10)
		slowBody(t, b, 2<<10, z.Bytes(), "Content-Encoding: gzip\r\n")
		require.Eventually(t, func() bool { return inUse(b) == gzipStateBytes+64<<10 }, 20*time.Second, 10*time.Millisecond,
			"the inflater's state and a class holding 40 KiB")
	})

	t.Run("FullBudgetIsOverloaded", func(t *testing.T) {
		t.Parallel()
		const limit = 64 << 10
		budget := MinInflightBodyBytes(limit)
		b := setup(t, &setupOpts{config: func(c *Config) {
			c.MaxBodyBytes = limit
			c.MaxInflightBodyBytes = budget
			c.BodyReadTimeout = time.Minute
		}})
		// Slow clients hold the smallest class each, until the budget has
		// no room for another request's.
		var slow []net.Conn
		for range budget / minBodyClass {
			slow = append(slow, slowBody(t, b, limit, make([]byte, 100), ""))
		}
		held := budget / minBodyClass * minBodyClass
		require.Eventually(t, func() bool { return inUse(b) == held }, 20*time.Second, 10*time.Millisecond)
		require.Less(t, budget-held, int64(minBodyClass))

		ok := pack(t, gameplay(b.appA.AppID.String(), 1))
		resp := b.post(t, "/api/events", ok, map[string]string{"x-public-token": b.appA.PublicToken})
		require.Equal(t, 503, resp.Status, resp.Body)
		require.Equal(t, "overloaded", resp.Body["error"])
		require.NotEmpty(t, resp.Body["message"])
		require.Equal(t, "1", resp.Header.Get("Retry-After"))
		require.Zero(t, b.lastSeq(t), "nothing published for a refused body")

		// Once the slow clients leave, the budget is whole again.
		for _, c := range slow {
			require.NoError(t, c.Close())
		}
		require.Eventually(t, func() bool { return inUse(b) == 0 }, 20*time.Second, 10*time.Millisecond)
		resp = b.post(t, "/api/events", ok, map[string]string{"x-public-token": b.appA.PublicToken})
		require.Equal(t, 200, resp.Status, resp.Body)
		require.Equal(t, uint64(1), b.lastSeq(t))
		require.Zero(t, inUse(b))
	})

	t.Run("OverloadedMidBodyClosesConnection", func(t *testing.T) {
		t.Parallel()
		const limit = 64 << 10
		budget := MinInflightBodyBytes(limit)
		b := setup(t, &setupOpts{config: func(c *Config) {
			c.MaxBodyBytes = limit
			c.MaxInflightBodyBytes = budget
			c.BodyReadTimeout = time.Minute
		}})
		// One slow client holds a 64 KiB class; the budget left has room
		// for 32 KiB and the 16 KiB before it, not for 64 KiB.
		slowBody(t, b, limit, make([]byte, 40<<10), "")
		require.Eventually(t, func() bool { return inUse(b) == 64<<10 }, 20*time.Second, 10*time.Millisecond)
		fill := slowBody(t, b, limit, make([]byte, 20<<10), "")
		require.Eventually(t, func() bool { return inUse(b) == 96<<10 }, 20*time.Second, 10*time.Millisecond)

		// A 40 KiB body needs 64 KiB: refused partway, the rest unread.
		conn := slowBody(t, b, 40<<10, make([]byte, 40<<10), "")
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(20*time.Second)))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, 503, resp.StatusCode)
		require.Equal(t, "1", resp.Header.Get("Retry-After"))
		require.True(t, resp.Close, "the connection is closed after a refused body")
		require.NoError(t, fill.Close())
		require.Eventually(t, func() bool { return inUse(b) == 64<<10 }, 20*time.Second, 10*time.Millisecond)
		require.Zero(t, b.lastSeq(t))
	})
}

// BenchmarkBodyPoolRead measures reading a body through the pool: a single
// event and a batch of 100 (the sizes of BenchmarkIngest), the batch moving
// through four classes.
// Run: go test ./internal/httpapi -run '^$' -bench BodyPoolRead -benchmem
func BenchmarkBodyPoolRead(b *testing.B) {
	for _, size := range []int{300, 28 << 10} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			p := newBodyPool(1<<20, 64<<20)
			body := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				r := bytes.NewReader(body)
				for pb.Next() {
					r.Reset(body)
					var bb bodyBuf
					if err := p.readAll(r, &bb); err != nil {
						b.Error(err)
						return
					}
					p.put(&bb)
				}
			})
		})
	}
}
