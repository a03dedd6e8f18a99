package delivery

import (
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/hookd/hookd"
	"github.com/valyala/fasthttp"
)

// tlsClient sends to https endpoints with their own TLS settings. It makes the TLS
// handshake itself, so that it can keep the alert a server sends after it (with TLS
// 1.3 a server refuses a client certificate only then), which fasthttp reports as a
// connection closed before the answer.
type tlsClient struct {
	fc    *fasthttp.Client
	alert atomic.Pointer[error] // the last alert a server sent, cleared by a response
}

// forTLS returns the client for an https endpoint's own TLS settings: cc presented as
// its client certificate (nil: none) and the CAs of caPEM trusted instead of the
// usual roots ("": the usual). Without either it returns nil: use c.fc.
func (c *client) forTLS(cc *hookd.ClientCert, caPEM string) (*tlsClient, error) {
	if cc == nil && caPEM == "" {
		return nil, nil
	}
	h := sha256.New()
	if cc != nil {
		h.Write([]byte(cc.CertPEM))
		h.Write([]byte{0})
		h.Write([]byte(cc.KeyPEM))
	}
	h.Write([]byte{1})
	h.Write([]byte(caPEM))
	var key [32]byte
	h.Sum(key[:0])
	c.mu.Lock()
	tcl, ok := c.tlsClients[key]
	c.mu.Unlock()
	if ok {
		return tcl, nil
	}
	conf := &tls.Config{RootCAs: c.cfg.RootCAs, MinVersion: tls.VersionTLS12}
	if caPEM != "" {
		pool, _, err := hookd.ParseCertPool(caPEM)
		if err != nil {
			return nil, fmt.Errorf("endpoint CA bundle: %w", err)
		}
		conf.RootCAs = pool
	}
	if cc != nil {
		pair, err := cc.TLS()
		if err != nil {
			return nil, err
		}
		conf.Certificates = []tls.Certificate{pair}
	}
	tcl = &tlsClient{}
	tcl.fc = c.newFast(conf)
	tcl.fc.DialTimeout = func(addr string, timeout time.Duration) (net.Conn, error) {
		return tcl.dial(c, conf, addr, timeout)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.tlsClients[key]; ok {
		return prev, nil
	}
	if len(c.tlsClients) >= maxTLSClients {
		clear(c.tlsClients)
	}
	c.tlsClients[key] = tcl
	return tcl, nil
}

// dial connects to addr through the client's guarded dialer and makes the TLS
// handshake within timeout.
func (tcl *tlsClient) dial(c *client, conf *tls.Config, addr string, timeout time.Duration) (net.Conn, error) {
	start := time.Now()
	raw, err := c.dialTLS(addr, timeout)
	if err != nil {
		return nil, err
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		raw.Close()
		return nil, err
	}
	conf = conf.Clone()
	conf.ServerName = host
	tc := tls.Client(raw, conf)
	_ = tc.SetDeadline(start.Add(timeout))
	if err := tc.Handshake(); err != nil {
		raw.Close()
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	_ = tc.SetDeadline(time.Time{})
	return &alertConn{Conn: tc, last: &tcl.alert}, nil
}

// cause returns why a request failed: err, or the alert the server sent if err only
// says that the connection was closed.
func (tcl *tlsClient) cause(err error) error {
	if p := tcl.alert.Load(); p != nil && (errors.Is(err, fasthttp.ErrConnectionClosed) || errors.Is(err, errStaleConn)) {
		return fmt.Errorf("TLS: the server refused the connection: %w", *p)
	}
	return err
}

// alertConn is a TLS connection that keeps the alert its server sends.
type alertConn struct {
	*tls.Conn
	last *atomic.Pointer[error]
}

func (a *alertConn) Read(b []byte) (int, error) {
	n, err := a.Conn.Read(b)
	var oe *net.OpError
	if err != nil && errors.As(err, &oe) && oe.Op == "remote error" {
		a.last.Store(&err)
	}
	return n, err
}
