// Package echoserver is the WebSocket peer used by the comparison benchmarks.
//
// It is built directly on gobwas/ws with one goroutine per connection and
// buffered I/O, so that it is cheap and identical for every client adapter.
// It runs in its own process (see cmd/echoserver and the -serve mode of
// cmd/compare) so the client's CPU time and memory are measured alone.
//
// Modes, selected by the request URI:
//
//	/ (any other path)        echo: every data message is sent back with its
//	                          type (fragmented messages are reassembled and
//	                          echoed as one frame); pings get pongs; a close
//	                          frame is answered with a close frame.
//	/push?n=N&size=S          push: the server sends N binary messages of S
//	                          bytes as fast as it can, then a close frame 1000,
//	                          then waits (bounded) for the client's close.
package echoserver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gobwas/ws"
)

// Limits that keep every loop bounded.
const (
	MaxMessageSize = 16 << 20   // largest accepted/pushed message
	MaxPushCount   = 50_000_000 // largest n for /push
	closeWait      = 5 * time.Second
	handshakeLimit = 10 * time.Second
)

// Serve accepts connections on ln until it is closed.
func Serve(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// EMFILE, ECONNABORTED, ...: back off briefly instead of spinning.
			time.Sleep(20 * time.Millisecond)
			continue
		}
		go handle(c)
	}
}

func handle(conn net.Conn) {
	defer conn.Close()
	var uri string
	u := ws.Upgrader{
		OnRequest: func(b []byte) error { uri = string(b); return nil },
	}
	_ = conn.SetDeadline(time.Now().Add(handshakeLimit))
	if _, err := u.Upgrade(conn); err != nil {
		return
	}
	_ = conn.SetDeadline(time.Time{})

	path, rawq, _ := strings.Cut(uri, "?")
	if path == "/push" {
		q, _ := url.ParseQuery(rawq)
		n, _ := strconv.Atoi(q.Get("n"))
		size, _ := strconv.Atoi(q.Get("size"))
		if n < 0 || n > MaxPushCount || size < 0 || size > MaxMessageSize {
			writeClose(conn, ws.StatusPolicyViolation, "bad push parameters")
			return
		}
		push(conn, n, size)
		return
	}
	echo(conn)
}

func writeClose(conn net.Conn, code ws.StatusCode, reason string) {
	_ = conn.SetWriteDeadline(time.Now().Add(closeWait))
	_ = ws.WriteFrame(conn, ws.NewCloseFrame(ws.NewCloseFrameBody(code, reason)))
}

// echo answers every data message with the same type and payload.
func echo(conn net.Conn) {
	br := bufio.NewReaderSize(conn, 32<<10)
	bw := bufio.NewWriterSize(conn, 64<<10)
	var (
		buf     []byte // current frame payload
		msg     []byte // reassembly buffer for fragmented messages
		msgOp   ws.OpCode
		inFrag  bool
		hdrBuf  = make([]byte, ws.MaxHeaderSize)
		flushed = true
	)
	writeFrame := func(op ws.OpCode, p []byte) error {
		if err := ws.WriteHeaderBuffer(bw, ws.Header{Fin: true, OpCode: op, Length: int64(len(p))}, hdrBuf); err != nil {
			return err
		}
		_, err := bw.Write(p)
		flushed = false
		return err
	}
	for {
		h, err := ws.ReadHeader(br)
		if err != nil {
			return
		}
		if h.Length > MaxMessageSize || h.Length < 0 {
			_ = bw.Flush()
			writeClose(conn, ws.StatusMessageTooBig, "")
			return
		}
		n := int(h.Length)
		if cap(buf) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(br, buf); err != nil {
			return
		}
		if h.Masked {
			ws.Cipher(buf, h.Mask, 0)
		}
		switch h.OpCode {
		case ws.OpPing:
			err = writeFrame(ws.OpPong, buf)
		case ws.OpPong:
		case ws.OpClose:
			code, _ := ws.ParseCloseFrameDataUnsafe(buf)
			if code == 0 {
				code = ws.StatusNormalClosure
			}
			if !code.IsProtocolSpec() && !code.IsApplicationSpec() && !code.IsPrivateSpec() || code == ws.StatusNoStatusRcvd {
				code = ws.StatusNormalClosure
			}
			_ = writeFrame(ws.OpClose, ws.NewCloseFrameBody(code, ""))
			_ = bw.Flush()
			return
		case ws.OpText, ws.OpBinary:
			if inFrag {
				writeClose(conn, ws.StatusProtocolError, "expected continuation")
				return
			}
			if h.Fin {
				err = writeFrame(h.OpCode, buf)
			} else {
				inFrag, msgOp = true, h.OpCode
				msg = append(msg[:0], buf...)
			}
		case ws.OpContinuation:
			if !inFrag {
				writeClose(conn, ws.StatusProtocolError, "unexpected continuation")
				return
			}
			if len(msg)+len(buf) > MaxMessageSize {
				_ = bw.Flush()
				writeClose(conn, ws.StatusMessageTooBig, "")
				return
			}
			msg = append(msg, buf...)
			if h.Fin {
				inFrag = false
				err = writeFrame(msgOp, msg)
			}
		default:
			writeClose(conn, ws.StatusProtocolError, "bad opcode")
			return
		}
		if err != nil {
			return
		}
		// Flush only when no further input is already buffered: pipelined
		// clients get batched replies, sequential ones get an immediate reply.
		if !flushed && br.Buffered() == 0 {
			if err := bw.Flush(); err != nil {
				return
			}
			flushed = true
		}
	}
}

// push sends n binary messages of size bytes, then close 1000.
func push(conn net.Conn, n, size int) {
	bw := bufio.NewWriterSize(conn, 64<<10)
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte(i)
	}
	hdr := make([]byte, ws.MaxHeaderSize)
	h := ws.Header{Fin: true, OpCode: ws.OpBinary, Length: int64(size)}
	for i := 0; i < n; i++ {
		if err := ws.WriteHeaderBuffer(bw, h, hdr); err != nil {
			return
		}
		if _, err := bw.Write(payload); err != nil {
			return
		}
	}
	_ = ws.WriteFrame(bw, ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "")))
	if err := bw.Flush(); err != nil {
		return
	}
	// Wait (bounded) for the client's close frame, discarding anything else.
	_ = conn.SetReadDeadline(time.Now().Add(closeWait))
	br := bufio.NewReaderSize(conn, 4096)
	for i := 0; i < 1_000_000; i++ {
		h, err := ws.ReadHeader(br)
		if err != nil {
			return
		}
		if _, err := br.Discard(int(min(h.Length, MaxMessageSize))); err != nil {
			return
		}
		if h.OpCode == ws.OpClose {
			return
		}
	}
}

// Listen opens a TCP listener, refusing anything but loopback addresses.
func Listen(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("echoserver: refusing to listen on non-loopback address %q", addr)
	}
	return net.Listen("tcp", addr)
}
