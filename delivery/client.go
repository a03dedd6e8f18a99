package delivery

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// client sends deliveries over HTTP/1.1 with keep-alive connections, dialled through
// an SSRF guard. It is built on fasthttp rather than net/http: a delivery is one
// small POST whose answer hookd barely reads, and without net/http's reader and writer
// goroutines per connection the server spends about a fifth less CPU per delivery.
//
// fasthttp has no per-request context, so the client keeps its open connections and
// closeAll ends them: that is how a shutdown cancels the requests in flight.
type client struct {
	fc      *fasthttp.Client
	cfg     Config
	dialTLS func(addr string, timeout time.Duration) (net.Conn, error)

	mu     sync.Mutex
	conns  map[*trackedConn]struct{}
	closed bool
	// tlsClients are the clients of https endpoints with their own TLS settings (a
	// client certificate, a CA bundle), by a digest of those settings; they share the
	// dialer and the connection set.
	tlsClients map[[32]byte]*tlsClient
}

// maxTLSClients bounds tlsClients; when full it starts again, and the clients left
// out close their connections once these sit idle.
const maxTLSClients = 4096

// maxResponseHeaderBytes bounds a response's header block (fasthttp's read buffer).
const maxResponseHeaderBytes = 64 << 10

// newClient returns a client that dials through g and cfg.Egress. It never follows redirects (Do
// does not), never retries a request on its own except on kept-alive connections
// the receiver had already closed (retryStale), and verifies TLS certificates against
// roots (nil: the system's).
func newClient(cfg Config, g Guard) *client {
	c := &client{cfg: cfg, conns: make(map[*trackedConn]struct{}), tlsClients: map[[32]byte]*tlsClient{}}
	dialer := newDialer(g, cfg.Egress)
	c.dialTLS = func(addr string, timeout time.Duration) (net.Conn, error) {
		conn, err := dialer.dial(addr, timeout)
		if err != nil {
			return nil, err
		}
		return c.track(conn)
	}
	c.fc = c.newFast(&tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12})
	return c
}

// newFast returns a fasthttp client with hookd's settings and conf for TLS.
func (c *client) newFast(conf *tls.Config) *fasthttp.Client {
	cfg := c.cfg
	return &fasthttp.Client{
		DialTimeout: c.dialTLS,
		TLSConfig:   conf,
		// The lanes and Workers bound the requests in flight; the pool must never be
		// the reason a request waits or fails.
		MaxConnsPerHost:     cfg.Workers,
		MaxIdleConnDuration: 90 * time.Second,
		ReadBufferSize:      maxResponseHeaderBytes,
		WriteBufferSize:     16 << 10,
		// Only the start of a body is kept; the rest is drained or the connection
		// closed (see readBody).
		StreamResponseBody:       true,
		NoDefaultUserAgentHeader: true,
		DisablePathNormalizing:   true, // send the endpoint's path as it was given
		// Past as many stale connections as the pool can hold (retryStale).
		MaxIdemponentCallAttempts: cfg.Workers + 1,
		RetryIfErr:                retryStale,
	}
}

// retryStale retries a request at once when it provably never reached the receiver:
// its kept-alive connection had been closed by the receiver (typically after sitting
// idle in the pool) before the request was written, which trackedConn checks before
// the first write of each reuse. The pool can hold many such connections at once (a
// receiver that closes its idle connections closes them all), so the retry is
// repeated on the next connection, and the next, each stale one closed, until a
// request is written: at worst the pool is emptied and a new connection dialled,
// which cannot be stale. That is at most MaxConnsPerHost retries (Workers), the most
// connections the pool can hold; nothing was sent on any of them. Any other failure
// may have come after the receiver read the request, so it is left to the retry
// schedule, never repeated here.
func retryStale(_ *fasthttp.Request, _ int, err error) (resetTimeout, retry bool) {
	return false, errors.Is(err, errStaleConn)
}

// errStaleConn fails the write of a request on a kept-alive connection the receiver
// had already closed; nothing of the request was sent.
var errStaleConn = errors.New("kept-alive connection closed by the receiver before the request was sent")

// track records conn as open until it is closed; after closeAll it refuses it.
func (c *client) track(conn net.Conn) (net.Conn, error) {
	tc := &trackedConn{Conn: conn, c: c}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		conn.Close()
		return nil, errClientClosed
	}
	c.conns[tc] = struct{}{}
	return tc, nil
}

// errClientClosed is the dial error after closeAll.
var errClientClosed = errors.New("cancelled: hookd was shutting down")

// closeAll closes every connection, idle or in use, and refuses new ones: requests in
// flight end with an error.
func (c *client) closeAll() {
	c.mu.Lock()
	c.closed = true
	conns := c.conns
	c.conns = nil
	c.mu.Unlock()
	for tc := range conns {
		tc.Conn.Close()
	}
}

// trackedConn is a connection the client keeps in its set while it is open. It also
// notices reuse: the first write after a read starts a new request on a kept-alive
// connection, and is refused with errStaleConn when the receiver has closed it.
type trackedConn struct {
	net.Conn
	c      *client
	once   sync.Once
	reused atomic.Bool // read from since the last write
}

func (tc *trackedConn) Read(b []byte) (int, error) {
	n, err := tc.Conn.Read(b)
	if n > 0 {
		tc.reused.Store(true)
	}
	return n, err
}

func (tc *trackedConn) Write(b []byte) (int, error) {
	if tc.reused.Swap(false) && closedByPeer(tc.Conn) {
		return 0, errStaleConn
	}
	return tc.Conn.Write(b)
}

func (tc *trackedConn) Close() error {
	tc.once.Do(func() {
		tc.c.mu.Lock()
		delete(tc.c.conns, tc)
		tc.c.mu.Unlock()
	})
	return tc.Conn.Close()
}

// readBody returns up to limit bytes of resp's streamed body, and reads up to
// maxDrainBytes more so the connection can be kept; a longer body closes the
// connection instead. The error is the body's read error, if any.
func readBody(resp *fasthttp.Response, limit int) ([]byte, error) {
	stream := resp.BodyStream()
	if stream == nil {
		return nil, nil
	}
	buf, err := io.ReadAll(io.LimitReader(stream, int64(limit)))
	if err == nil {
		var n int64
		n, err = io.Copy(io.Discard, io.LimitReader(stream, maxDrainBytes+1))
		if err == nil && n > maxDrainBytes {
			if closer, ok := stream.(fasthttp.ReadCloserWithError); ok {
				closer.CloseWithError(fasthttp.ErrBodyTooLarge)
				return buf, nil
			}
		}
	}
	if cerr := resp.CloseBodyStream(); err == nil && cerr != nil && !errors.Is(cerr, fasthttp.ErrBodyTooLarge) {
		err = cerr
	}
	return buf, err
}
