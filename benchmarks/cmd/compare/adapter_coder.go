package main

import (
	"context"
	"time"

	"github.com/coder/websocket"
)

// coder/websocket v1.8.15: websocket.Dial, c.Write(ctx, ...) and
// c.Read(ctx) in a read loop. Default options; the read limit is raised from
// its 32 KiB default so that 64 KiB messages are accepted (users must do the
// same).
func init() {
	register(Adapter{Name: "coder", Dial: func(ctx context.Context, url string) (Conn, error) {
		c, _, err := websocket.Dial(ctx, url, nil)
		if err != nil {
			return nil, err
		}
		c.SetReadLimit(maxMessageSize)
		cctx, cancel := context.WithTimeout(context.Background(), maxRunTime)
		return &coderConn{c: c, ctx: cctx, cancel: cancel}, nil
	}})
}

// maxRunTime bounds the context every coder Read/Write call uses.
var maxRunTime = 30 * time.Minute

type coderConn struct {
	c      *websocket.Conn
	ctx    context.Context
	cancel context.CancelFunc
}

func (w *coderConn) Write(p []byte) error { return w.c.Write(w.ctx, websocket.MessageBinary, p) }

func (w *coderConn) Run(fn func(p []byte) bool) error {
	defer w.cancel()
	for {
		_, p, err := w.c.Read(w.ctx)
		if err != nil {
			if websocket.CloseStatus(err) == websocket.StatusNormalClosure {
				return nil
			}
			return err
		}
		if !fn(p) {
			w.Close()
			return nil
		}
	}
}

// Close: CloseNow (no handshake wait); teardown is not measured and the
// server always answers anyway.
func (w *coderConn) Close() { _ = w.c.CloseNow() }
