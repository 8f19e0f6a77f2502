//go:build unix

package wsactor

import (
	"net"
	"syscall"
)

// rawConnOf returns the socket's syscall.RawConn, or nil when the conn is
// not a plain socket (TLS, a wrapper from WithNetDial).
func rawConnOf(nc net.Conn) syscall.RawConn {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// tryWrite writes as much of b as the socket takes without waiting. It
// returns how much was written; n < len(b) with a nil error means the
// socket buffer is full and the rest must go to the writer goroutine.
func tryWrite(rc syscall.RawConn, b []byte) (n int, err error) {
	werr := rc.Write(func(fd uintptr) bool {
		for n < len(b) {
			m, e := syscall.Write(int(fd), b[n:])
			if m > 0 {
				n += m
			}
			switch {
			case e == syscall.EINTR:
				continue
			case e == syscall.EAGAIN:
				return true // full: do not wait here
			case e != nil:
				err = e
				return true
			case m <= 0:
				return true
			}
		}
		return true
	})
	if err == nil {
		err = werr
	}
	return n, err
}
