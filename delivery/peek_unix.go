//go:build unix

package delivery

import (
	"errors"
	"net"
	"syscall"
)

// closedByPeer reports whether the receiver has closed or reset conn, or sent bytes
// no request asked for, by peeking at it without blocking. A connection it cannot
// look into counts as open.
//
// The peek runs under Control, not Read: Read first checks the connection's read
// deadline, and fasthttp leaves the last request's deadline on a pooled connection,
// so every connection idle for longer than the request timeout would fail that check
// and be taken for closed.
func closedByPeer(conn net.Conn) bool {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	closed := false
	var buf [1]byte
	err = rc.Control(func(fd uintptr) {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EINTR):
			// Nothing to read: the connection is open and idle, as it should be.
		case err != nil, n >= 0:
			// An error (reset), end of stream (n == 0) or unasked-for bytes.
			closed = true
		}
	})
	return closed || err != nil
}
