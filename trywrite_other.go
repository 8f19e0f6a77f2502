//go:build !unix

package wsactor

import (
	"net"
	"syscall"
)

// Without unix raw sockets every read and write goes through net.Conn.

func rawConnOf(net.Conn) syscall.RawConn { return nil }

type rawIO struct {
	waited bool // see trywrite_unix.go (never set here: there is no raw read)
}

type rawWriter struct{}

func (*rawIO) init(syscall.RawConn, *frameReader)    {}
func (*rawIO) reset()                                {}
func newRawWriter(syscall.RawConn) *rawWriter        { return nil }
func putRawWriter(*rawWriter)                        {}
func (*rawIO) tryRead() (int, error)                 { return 0, nil }
func (*rawIO) readNow() (int, bool, error)           { return 0, false, nil }
func (*rawIO) readNowInto([]byte) (int, bool, error) { return 0, false, nil }
func (*rawIO) peek() int                             { return 0 }
func (*rawWriter) tryWrite(b []byte) (int, error)    { return 0, nil }
func (*rawIO) hasPending() bool                      { return false }
