package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// poster sends one request body and returns the answer's status code. Each
// source address has one; it is safe for concurrent use.
type poster interface {
	post(ctx context.Context, body []byte) (int, error)
	close()
}

// newPoster returns the fast HTTP/1.1 client for http URLs and net/http
// for https ones. src, when valid, is the address connections come from.
func newPoster(u *url.URL, token string, src netip.Addr, idle int, timeout time.Duration) poster {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	if src.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: src.AsSlice()}
	}
	if u.Scheme == "https" {
		return &stdPoster{url: u.String(), token: token, client: newClient(d, idle, timeout)}
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	var head bytes.Buffer
	fmt.Fprintf(&head, "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: gamepipe-loadgen\r\nContent-Type: application/msgpack\r\nX-Public-Token: %s\r\nContent-Length: ",
		u.RequestURI(), u.Host, token)
	return &fastPoster{dialer: d, addr: addr, head: head.Bytes(), idleMax: idle, timeout: timeout, open: map[*fastConn]bool{}}
}

// fastPoster is a minimal HTTP/1.1 client for one kind of request: a POST
// of a body with fixed headers, over keep-alive connections, one request
// at a time per connection. It costs the load generator a fraction of what
// net/http does per request (no per-request goroutine handoffs or header
// maps), which matters when it shares a 2-core machine with the API it
// measures. The API sees ordinary HTTP/1.1 requests.
type fastPoster struct {
	dialer  *net.Dialer
	addr    string
	head    []byte // request line and headers up to the Content-Length value
	idleMax int
	timeout time.Duration

	mu     sync.Mutex
	idle   []*fastConn
	open   map[*fastConn]bool
	closed bool
}

// fastConn is one connection and its buffers.
type fastConn struct {
	c   net.Conn
	br  *bufio.Reader
	buf []byte
}

func (p *fastPoster) post(ctx context.Context, body []byte) (int, error) {
	fc, err := p.get(ctx)
	if err != nil {
		return 0, err
	}
	status, keep, err := fc.roundTrip(p.head, body, p.timeout)
	if err != nil || !keep {
		p.drop(fc)
		return status, err
	}
	p.put(fc)
	return status, nil
}

// get returns an idle connection or dials a new one.
func (p *fastPoster) get(ctx context.Context) (*fastConn, error) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		fc := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return fc, nil
	}
	p.mu.Unlock()
	c, err := p.dialer.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, err
	}
	fc := &fastConn{c: c, br: bufio.NewReaderSize(c, 4096)}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return nil, net.ErrClosed
	}
	p.open[fc] = true
	return fc, nil
}

func (p *fastPoster) put(fc *fastConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || len(p.idle) >= p.idleMax {
		delete(p.open, fc)
		fc.c.Close()
		return
	}
	p.idle = append(p.idle, fc)
}

func (p *fastPoster) drop(fc *fastConn) {
	p.mu.Lock()
	delete(p.open, fc)
	p.mu.Unlock()
	fc.c.Close()
}

// close closes every connection, also those in use: their requests fail.
func (p *fastPoster) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for fc := range p.open {
		fc.c.Close()
	}
	p.idle, p.open = nil, map[*fastConn]bool{}
}

// errMalformed is a response the fast client cannot read.
var errMalformed = errors.New("malformed HTTP response")

// roundTrip writes one request and reads its response, discarding the
// body. keep is false when the connection cannot be reused.
func (fc *fastConn) roundTrip(head, body []byte, timeout time.Duration) (status int, keep bool, err error) {
	if timeout > 0 {
		_ = fc.c.SetDeadline(time.Now().Add(timeout))
	}
	fc.buf = append(fc.buf[:0], head...)
	fc.buf = strconv.AppendInt(fc.buf, int64(len(body)), 10)
	fc.buf = append(fc.buf, "\r\n\r\n"...)
	fc.buf = append(fc.buf, body...)
	if _, err := fc.c.Write(fc.buf); err != nil {
		return 0, false, err
	}
	if cap(fc.buf) > 4<<20 {
		fc.buf = nil // do not keep a huge body's buffer
	}
	return readResponse(fc.br)
}

// readResponse reads a status line, headers and body (Content-Length,
// chunked, or up to EOF) from br.
func readResponse(br *bufio.Reader) (status int, keep bool, err error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, false, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, false, errMalformed
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, errMalformed
	}
	keep = line[7] == '1'
	length, chunked := int64(-1), false
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return status, false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, val, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return status, false, errMalformed
		}
		val = bytes.TrimSpace(val)
		switch {
		case asciiEqualFold(name, "content-length"):
			if length, err = strconv.ParseInt(string(val), 10, 64); err != nil || length < 0 {
				return status, false, errMalformed
			}
		case asciiEqualFold(name, "transfer-encoding"):
			chunked = asciiEqualFold(val, "chunked")
		case asciiEqualFold(name, "connection"):
			if asciiEqualFold(val, "close") {
				keep = false
			}
		}
	}
	switch {
	case chunked:
		err = discardChunked(br)
	case length >= 0:
		_, err = br.Discard(int(length))
	default:
		_, err = io.Copy(io.Discard, br)
		keep = false
	}
	if err != nil {
		return status, false, err
	}
	return status, keep, nil
}

func discardChunked(br *bufio.Reader) error {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		size, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
		n, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 64)
		if err != nil || n < 0 {
			return errMalformed
		}
		if n == 0 {
			for { // trailers, then the final empty line
				line, err := br.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(bytes.TrimRight(line, "\r\n")) == 0 {
					return nil
				}
			}
		}
		if _, err := br.Discard(int(n) + 2); err != nil {
			return err
		}
	}
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// stdPoster posts with net/http, for https URLs.
type stdPoster struct {
	url    string
	token  string
	client *http.Client
}

func (p *stdPoster) post(ctx context.Context, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/msgpack")
	req.Header.Set("X-Public-Token", p.token)
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, err
}

func (p *stdPoster) close() { p.client.CloseIdleConnections() }
