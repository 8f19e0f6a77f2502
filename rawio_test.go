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
	r := new(rawIO)
	r.init(rc, fr)
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

// TestActorHotReset: a parked actor's reading state goes back to hotPool
// emptied: the released messages it took for reuse go back to their pools,
// the read buffer and the batch array are dropped, and the raw helper keeps
// only its bound read functions (the next actor sets the socket).
func TestActorHotReset(t *testing.T) {
	h := new(actorHot)
	h.rawv.init(nil, &h.rd)
	h.rd.raw = &h.rawv
	h.rd.getBuf()
	h.rd.w = 10
	h.batch = make([]*Message, 0, 8)
	h.alloc.stock = new(releaseStock)
	h.alloc.stock[0] = &msgStock{ms: []*Message{new(Message)}}
	h.reset()
	if h.rd.buf != nil || h.rd.arr != nil || h.rd.raw != nil || h.rd.w != 0 {
		t.Errorf("frame reader after reset: buf %v, arr %v, raw %v, w %d", h.rd.buf != nil, h.rd.arr != nil, h.rd.raw != nil, h.rd.w)
	}
	if h.batch != nil {
		t.Errorf("batch array kept: cap %d", cap(h.batch))
	}
	if h.alloc.stock == nil {
		t.Error("the empty stock array was dropped (the next actor would allocate one)")
	} else {
		for k, s := range h.alloc.stock {
			if s != nil {
				t.Errorf("stock of class %d kept (%d messages)", k, len(s.ms))
			}
		}
	}
	if h.rawv.readFn == nil || h.rawv.pollFn == nil || h.rawv.fr != nil || h.rawv.rc != nil {
		t.Errorf("raw helper after reset: readFn %v pollFn %v fr %v rc %v", h.rawv.readFn != nil, h.rawv.pollFn != nil, h.rawv.fr != nil, h.rawv.rc != nil)
	}
}
