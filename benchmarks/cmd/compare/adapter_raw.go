package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/gobwas/ws"
)

// raw: the floor. A tight hand-written client on gobwas/ws v1.5.0: ws.Dialer,
// ws.ReadHeader + io.ReadFull on a bufio.Reader, and frames written with one
// conn.Write each (header + payload masked into a reused buffer). All buffers
// are reused; there is no extra goroutine per connection.
func init() {
	register(Adapter{Name: "raw", Dial: dialRawConn})
}

// dialRawConn is dialRaw as an Adapter's Dial.
func dialRawConn(ctx context.Context, url string) (Conn, error) { return dialRaw(ctx, url) }

func dialRaw(ctx context.Context, url string) (*rawConn, error) {
	c, br, _, err := ws.Dialer{Timeout: handshakeTimeout}.Dial(ctx, url)
	if err != nil {
		return nil, err
	}
	var r io.Reader = c
	if br != nil { // bytes the server sent right after the handshake
		r = io.MultiReader(br, c)
	}
	return &rawConn{c: c, br: bufio.NewReaderSize(r, 4096)}, nil
}

type rawConn struct {
	c  net.Conn
	br *bufio.Reader

	wmu  sync.Mutex // Write and control replies from Run
	wbuf bytes.Buffer
	hdr  [ws.MaxHeaderSize]byte

	payload []byte
	msg     []byte
}

// writeFrame writes one masked client frame with a single Write call.
func (r *rawConn) writeFrame(op ws.OpCode, p []byte) error {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	mask := ws.NewMask()
	h := ws.Header{Fin: true, OpCode: op, Length: int64(len(p)), Masked: true, Mask: mask}
	r.wbuf.Reset()
	if err := ws.WriteHeaderBuffer(&r.wbuf, h, r.hdr[:]); err != nil {
		return err
	}
	hl := r.wbuf.Len()
	r.wbuf.Write(p)
	ws.Cipher(r.wbuf.Bytes()[hl:], mask, 0)
	_, err := r.c.Write(r.wbuf.Bytes())
	return err
}

func (r *rawConn) Write(p []byte) error { return r.writeFrame(ws.OpBinary, p) }

func (r *rawConn) Run(fn func(p []byte) bool) error {
	inFrag := false
	for {
		h, err := ws.ReadHeader(r.br)
		if err != nil {
			return err
		}
		if h.Length > maxMessageSize || h.Length < 0 {
			r.sendClose(ws.StatusMessageTooBig)
			return fmt.Errorf("raw: frame too big: %d", h.Length)
		}
		n := int(h.Length)
		if cap(r.payload) < n {
			r.payload = make([]byte, n)
		}
		p := r.payload[:n]
		if _, err := io.ReadFull(r.br, p); err != nil {
			return err
		}
		if h.Masked {
			ws.Cipher(p, h.Mask, 0)
		}
		switch h.OpCode {
		case ws.OpBinary, ws.OpText:
			if !h.Fin {
				inFrag = true
				r.msg = append(r.msg[:0], p...)
				continue
			}
			if !fn(p) {
				r.Close()
				return nil
			}
		case ws.OpContinuation:
			if !inFrag {
				r.sendClose(ws.StatusProtocolError)
				return errors.New("raw: unexpected continuation")
			}
			r.msg = append(r.msg, p...)
			if h.Fin {
				inFrag = false
				if !fn(r.msg) {
					r.Close()
					return nil
				}
			}
		case ws.OpPing:
			if err := r.writeFrame(ws.OpPong, p); err != nil {
				return err
			}
		case ws.OpPong:
		case ws.OpClose:
			code, _ := ws.ParseCloseFrameDataUnsafe(p)
			r.sendClose(ws.StatusNormalClosure)
			_ = r.c.Close()
			if code == ws.StatusNormalClosure || code == 0 {
				return nil
			}
			return fmt.Errorf("raw: closed by server with %d", code)
		default:
			r.sendClose(ws.StatusProtocolError)
			return fmt.Errorf("raw: bad opcode %d", h.OpCode)
		}
	}
}

func (r *rawConn) sendClose(code ws.StatusCode) {
	_ = r.writeFrame(ws.OpClose, ws.NewCloseFrameBody(code, ""))
}

func (r *rawConn) Close() {
	r.sendClose(ws.StatusNormalClosure)
	_ = r.c.Close()
}
