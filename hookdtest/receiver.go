package hookdtest

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// RawReceiver is a receiver on a plain TCP listener, for faults net/http cannot
// produce: a reset after reading a request, or a status line trickled byte by byte.
// It counts the requests it read in full.
type RawReceiver struct {
	// URL is where to send.
	URL string

	requests atomic.Int64
}

// Requests returns how many requests the receiver has read in full.
func (rr *RawReceiver) Requests() int { return int(rr.requests.Load()) }

// NewResetReceiver starts a RawReceiver that answers the first answered requests on
// each connection with 200 (keeping it alive) and resets the connection (RST) right
// after reading the next one in full.
func NewResetReceiver(t *testing.T, answered int) *RawReceiver {
	return newRawReceiver(t, func(rr *RawReceiver, conn net.Conn, i int) bool {
		if i >= answered {
			conn.(*net.TCPConn).SetLinger(0) // close with RST
			return false
		}
		_, err := io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		return err == nil
	})
}

// NewTrickleReceiver starts a RawReceiver that answers each request with a status
// line and headers that never end, one byte every interval, until the connection
// closes (slowloris in reverse).
func NewTrickleReceiver(t *testing.T, interval time.Duration) *RawReceiver {
	return newRawReceiver(t, func(rr *RawReceiver, conn net.Conn, _ int) bool {
		if _, err := io.WriteString(conn, "HTTP/1.1 200 OK\r\nX-Slow: "); err != nil {
			return false
		}
		for {
			time.Sleep(interval)
			if _, err := conn.Write([]byte("a")); err != nil {
				return false
			}
		}
	})
}

// newRawReceiver serves answer for the i-th request read on each connection; the
// connection closes when answer returns false.
func newRawReceiver(t *testing.T, answer func(rr *RawReceiver, conn net.Conn, i int) bool) *RawReceiver {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	rr := &RawReceiver{URL: "http://" + ln.Addr().String() + "/hook"}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { conn.Close() })
			go func() {
				defer conn.Close()
				br := bufio.NewReader(conn)
				for i := 0; ; i++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					if _, err := io.Copy(io.Discard, req.Body); err != nil {
						return
					}
					rr.requests.Add(1)
					if !answer(rr, conn, i) {
						return
					}
				}
			}()
		}
	}()
	return rr
}
