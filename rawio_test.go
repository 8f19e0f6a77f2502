//go:build unix

package wsactor

import (
	"net"
	"testing"
	"time"
)

// A peek (the non-blocking look for more data after a large message) that
// meets an expired read deadline must not keep the timeout for the next
// read: by then the reader may have set another deadline, and the stale
// timeout failed the connection ("closing handshake timed out"; found by
// TestReceiveStopsAnywhere with a 1 ms idle linger, ~1 run in 40).
func TestPeekIgnoresTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	cl, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	srv := <-accepted
	if srv == nil {
		t.Fatal("accept failed")
	}
	defer srv.Close()
	rc, err := cl.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	fr := &frameReader{}
	r := newRawIO(rc, fr)
	defer fr.releaseBuf()

	_ = cl.SetReadDeadline(time.Unix(1, 0)) // expired, like a linger that passed
	if n := r.peek(); n != 0 {
		t.Fatalf("peek returned %d bytes from an empty socket", n)
	}
	_ = cl.SetReadDeadline(time.Time{}) // the next reader's deadline: none
	if _, err := srv.Write([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	n, err := r.tryRead()
	if err != nil || n != 2 {
		t.Fatalf("read after the peek: %d bytes, %v; want the 2 bytes sent", n, err)
	}
}
